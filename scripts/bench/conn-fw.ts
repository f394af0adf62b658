// Connection workloads with the framework's public API: accept rate (connect, one byte from
// the server, close), idle connections (memory per connection; 10,000 concurrent echoes) and
// STARTTLS upgrades. The raw Node versions are in conn-raw.ts.
import { createTcpSocketProvider, createTlsSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { PeerArgs, PeerIo, PING, fillPing, msSince, readPem, samePing, waitUntil } from './common';
import { MemoryProbe } from './memory';
import { checkEnd, fwListen, fwTransport } from './stream-fw';

const HELLO = 0x41; // 'A': the accept server's greeting
const GO = 0x53; // 'S': "upgrade now" in the STARTTLS exchange

// ---- accept rate ----------------------------------------------------------------------------

/** Accepts, sends one byte, and lets the peer close (the framework then closes our side). */
export function acceptServer(args: PeerArgs, io: PeerIo): void {
  const hello = Uint8Array.of(HELLO);
  // One user for every connection: it keeps no per-connection state.
  class Greeter extends USocket {
    override socketAcceptComplete(s: ISocket): void {
      s.send(hello);
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      checkEnd(io, 'accepted connection', r);
    }
  }
  const greeter = new Greeter();
  fwListen(io, fwTransport(args.target), () => greeter);
}

/** `size.total` connections, `size.inflight` at a time: connect, wait for the greeting, shutdown(). */
export function acceptClient(args: PeerArgs, io: PeerIo): void {
  const t = fwTransport(args.target);
  const { total, inflight } = args.size;
  let started = 0;
  let done = 0;
  const start = process.hrtime.bigint();
  class Visitor extends USocket {
    private readonly buf = new Uint8Array(1);
    override socketConnectComplete(s: ISocket): void {
      s.recv(this.buf, 1);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array): void {
      if (b[0] !== HELLO) io.error(`wrong greeting ${b[0]}`);
      s.shutdown();
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      if (r !== ShutdownReason.Normal) io.error(`client connection ended: ${r}`);
      if (++done === total) io.result({ ms: msSince(start), connections: total });
      else next();
    }
  }
  const next = (): void => {
    if (started >= total) return;
    started++;
    t.connect(t.provider.createSocket(new Visitor(), t.clientOptions));
  };
  for (let i = 0; i < inflight; i++) next();
  io.onQuit(() => ({ done }));
}

// ---- idle connections: memory, 10k concurrent echo ----------------------------------------

/** Echoes whatever arrives (partial recvs of 64 bytes); counts each connection's first echo for the memory probe. */
export function idleServer(args: PeerArgs, io: PeerIo): void {
  const probe = new MemoryProbe(io, args);
  class Echo extends USocket {
    private readonly buf = new Uint8Array(PING);
    private first = true;
    override socketAcceptComplete(s: ISocket): void {
      s.recv(this.buf, PING, true);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
      s.send(b, n);
      s.recv(b, PING, true);
      if (this.first) {
        this.first = false;
        probe.echoed();
      }
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      checkEnd(io, 'accepted connection', r);
    }
  }
  fwListen(io, fwTransport(args.target), () => new Echo());
}

/**
 * Opens `size.conns` connections, `size.inflight` connecting at a time. Each sends one 64-byte
 * message of its own and checks the echo: as soon as it is connected, or (`size.afterOpen`)
 * once all are open, all at once. The connections stay open until the orchestrator says quit.
 */
export function idleClient(args: PeerArgs, io: PeerIo): void {
  const t = fwTransport(args.target);
  const { conns, inflight, afterOpen } = args.size;
  const users: Array<{ s: ISocket; u: Pinger }> = [];
  let started = 0;
  let connected = 0;
  let echoed = 0;
  let ended = 0;
  let quitting = false;
  const start = process.hrtime.bigint();
  let connectMs = 0;
  class Pinger extends USocket {
    private readonly out = new Uint8Array(PING);
    private readonly in = new Uint8Array(PING);
    constructor(private readonly id: number) {
      super();
      fillPing(this.out, id);
    }
    override socketConnectComplete(s: ISocket): void {
      connected++;
      next();
      if (!afterOpen) this.ping(s);
      else if (connected === conns) {
        connectMs = msSince(start);
        for (const p of users) p.u.ping(p.s);
      }
    }
    ping(s: ISocket): void {
      s.recv(this.in, PING);
      s.send(this.out);
    }
    override socketRecvResult(_s: ISocket, b: Uint8Array, n: number): void {
      if (n !== PING || !samePing(b, 0, this.out)) io.error(`connection ${this.id}: wrong echo`);
      if (++echoed === conns) io.result({ ms: msSince(start), connectMs: connectMs || msSince(start), conns, echoed });
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      ended++;
      if (!quitting || r !== ShutdownReason.Normal) io.error(`connection ${this.id} ended: ${r}`);
      if (!quitting) next();
    }
  }
  const next = (): void => {
    if (started >= conns) return;
    const u = new Pinger(started++);
    const s = t.provider.createSocket(u, t.clientOptions);
    users.push({ s, u });
    t.connect(s);
  };
  for (let i = 0; i < inflight; i++) next();
  io.onQuit(async () => {
    quitting = true;
    for (const p of users) p.s.shutdown();
    await waitUntil(() => ended === users.length, 5000);
    return { connected, echoed };
  });
}

// ---- STARTTLS -----------------------------------------------------------------------------

/** On accept: sends "S" and upgrades at once (the byte goes out first); then echoes one 64-byte message. */
export function starttlsServer(args: PeerArgs, io: PeerIo): void {
  const tls = createTlsSocketProvider();
  const context = tls.createSocketContext();
  context.setServerCertificate(readPem(args.target.serverPemFile));
  const go = Uint8Array.of(GO);
  class Secure extends USocket {
    private readonly buf = new Uint8Array(PING);
    override socketUpgradeToTlsComplete(s: ISocket): void {
      s.recv(this.buf, PING);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
      s.send(b, n);
      if (n === PING) s.recv(b, PING);
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      checkEnd(io, 'upgraded connection', r);
    }
  }
  class Plain extends USocket {
    override socketAcceptComplete(s: ISocket): void {
      s.send(go);
      tls.upgradeToTls(s, new Secure(), { serverSide: true, context });
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      checkEnd(io, 'accepted connection (before its upgrade)', r);
    }
  }
  const plain = new Plain();
  fwListen(io, fwTransport({ ...args.target, kind: 'tcp' }), () => plain);
}

/** `size.total` upgrades, `size.inflight` at a time: TCP connect, wait for "S", upgradeToTls, one echo, shutdown(). */
export function starttlsClient(args: PeerArgs, io: PeerIo): void {
  const tcp = createTcpSocketProvider();
  const tls = createTlsSocketProvider();
  const context = tls.createSocketContext();
  context.setCertificateAuthority(readPem(args.target.caFile));
  const { total, inflight } = args.size;
  let started = 0;
  let done = 0;
  const start = process.hrtime.bigint();
  const finished = (): void => {
    if (++done === total) io.result({ ms: msSince(start), upgrades: total });
    else next();
  };
  class Secure extends USocket {
    private readonly out = new Uint8Array(PING);
    private readonly in = new Uint8Array(PING);
    constructor(id: number) {
      super();
      fillPing(this.out, id);
    }
    override socketUpgradeToTlsComplete(s: ISocket): void {
      s.recv(this.in, PING);
      s.send(this.out);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
      if (n !== PING || !samePing(b, 0, this.out)) io.error('wrong echo over STARTTLS');
      s.shutdown();
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      if (r !== ShutdownReason.Normal) io.error(`upgraded connection ended: ${r}`);
      finished();
    }
  }
  class Plain extends USocket {
    private readonly buf = new Uint8Array(1);
    constructor(private readonly id: number) {
      super();
    }
    override socketConnectComplete(s: ISocket): void {
      s.recv(this.buf, 1);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array): void {
      if (b[0] !== GO) io.error(`wrong STARTTLS go-ahead ${b[0]}`);
      tls.upgradeToTls(s, new Secure(this.id), { context, serverName: 'localhost' });
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      io.error(`connection ended before its upgrade: ${r}`);
      finished();
    }
  }
  const next = (): void => {
    if (started >= total) return;
    tcp.createSocket(new Plain(started++)).connect(`127.0.0.1:${args.target.port}`);
  };
  for (let i = 0; i < inflight; i++) next();
  io.onQuit(() => ({ done }));
}
