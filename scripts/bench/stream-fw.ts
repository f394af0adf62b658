// The stream workloads (bulk, fan-in, ping-pong over TCP, TLS and local sockets) written with
// the framework's public API only, as a user would: 64 KiB sends paced by socketSendResult,
// 64 KiB partial recvs on the receiving side, exact 64-byte recvs for ping-pong.
import {
  createLocalSocketProvider,
  createTcpSocketProvider,
  createTlsSocketProvider,
  ISocket,
  ISocketProvider,
  ShutdownReason,
  SocketOptions,
  USocket,
} from '../../lib';
import { BLOCK, PeerArgs, PeerIo, PING, StreamChecker, Target, fillPing, makeBlock, msSince, readPem, samePing, stampBlock, waitUntil } from './common';

/** A provider and the options, bind and connect arguments for one transport. */
export interface FwTransport {
  provider: ISocketProvider;
  serverOptions: SocketOptions;
  clientOptions: SocketOptions;
  bind(s: ISocket): void;
  connect(s: ISocket): void;
}

export function fwTransport(target: Target): FwTransport {
  switch (target.kind) {
    case 'tls': {
      const provider = createTlsSocketProvider();
      const serverCtx = provider.createSocketContext();
      serverCtx.setServerCertificate(readPem(target.serverPemFile));
      const clientCtx = provider.createSocketContext();
      clientCtx.setCertificateAuthority(readPem(target.caFile));
      return {
        provider,
        serverOptions: { context: serverCtx, ...(target.reusePort ? { reusePort: true } : {}) },
        clientOptions: { context: clientCtx },
        bind: (s) => s.bind('127.0.0.1', target.port),
        connect: (s) => s.connect(`127.0.0.1:${target.port}`, 'localhost'),
      };
    }
    case 'local':
      return {
        provider: createLocalSocketProvider(),
        serverOptions: {},
        clientOptions: {},
        bind: (s) => s.bind(target.path),
        connect: (s) => s.connect(target.path),
      };
    default:
      return {
        provider: createTcpSocketProvider(),
        serverOptions: target.reusePort ? { reusePort: true } : {},
        clientOptions: {},
        bind: (s) => s.bind('127.0.0.1', target.port),
        connect: (s) => s.connect(`127.0.0.1:${target.port}`),
      };
  }
}

/** Reports an end other than NORMAL / BY_PEER of an accepted connection as an error. */
export function checkEnd(io: PeerIo, what: string, r: ShutdownReason): void {
  if (r !== ShutdownReason.Normal && r !== ShutdownReason.ByPeer) io.error(`${what} ended: ${r}`);
}

/**
 * A listening socket that hands every accepted connection to `makeUser()`, prints READY once
 * bound, and on quit shuts down and waits (bounded) until the accepted connections ended.
 */
export function fwListen(io: PeerIo, t: FwTransport, makeUser: () => USocket, options: SocketOptions = {}): ISocket {
  class Listener extends USocket {
    override socketBindResult(s: ISocket, _addr: string, port: number): void {
      s.listen();
      io.ready({ port });
    }
    override socketListenResult(s: ISocket): void {
      s.accept(makeUser());
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      if (r !== ShutdownReason.Normal) io.error(`listener ended: ${r}`);
    }
  }
  const listener = t.provider.createSocket(new Listener(), { ...t.serverOptions, ...options });
  t.bind(listener);
  io.onQuit(async () => {
    const live = (): number => listener.connectionCount;
    await waitUntil(() => live() === 0, 3000);
    const liveAtQuit = live();
    listener.shutdown();
    return { liveAtQuit };
  });
  return listener;
}

// ---- servers ------------------------------------------------------------------------------

/** Receives `size.perConn` bytes per connection in 64 KiB partial recvs, checks them, acks with one byte. */
export function sinkServer(args: PeerArgs, io: PeerIo): void {
  const perConn = args.size.perConn;
  class Sink extends USocket {
    private readonly buf = new Uint8Array(BLOCK);
    private readonly checker = new StreamChecker();
    private got = 0;
    override socketAcceptComplete(s: ISocket): void {
      s.recv(this.buf, BLOCK, true);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
      const before = this.got;
      this.got += n;
      this.checker.feed(b, n);
      if (before < perConn && this.got >= perConn) {
        const ok = this.got === perConn && this.checker.errors === 0;
        if (!ok) io.error(`connection ${this.checker.connId}: ${this.got} bytes, ${this.checker.errors} block errors ${this.checker.firstError}`);
        s.send(Uint8Array.of(ok ? 1 : 2));
      } else if (before >= perConn) {
        io.error(`connection ${this.checker.connId}: bytes beyond the expected ${perConn}`);
      }
      s.recv(this.buf, BLOCK, true);
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      checkEnd(io, 'accepted connection', r);
    }
  }
  fwListen(io, fwTransport(args.target), () => new Sink());
}

/** Echoes 64-byte messages: exact recv of 64, send, recv again. */
export function echo64Server(args: PeerArgs, io: PeerIo): void {
  class Echo extends USocket {
    private readonly buf = new Uint8Array(PING);
    override socketAcceptComplete(s: ISocket): void {
      s.recv(this.buf, PING);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
      s.send(b, n); // send copies: the buffer is free again at once
      if (n === PING) s.recv(b, PING);
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      checkEnd(io, 'accepted connection', r);
    }
  }
  fwListen(io, fwTransport(args.target), () => new Echo());
}

// ---- clients ------------------------------------------------------------------------------

/**
 * Opens `size.conns` connections; once all are up, each sends `size.perConn` bytes of stamped
 * 64 KiB blocks, the next block from socketSendResult. Time: from all connected to all acked.
 */
export function bulkClient(args: PeerArgs, io: PeerIo): void {
  const t = fwTransport(args.target);
  const { conns, perConn } = args.size;
  const blocks = Math.ceil(perConn / BLOCK);
  const block = makeBlock(); // shared: send() copies
  const senders: Array<{ s: ISocket; u: Sender }> = [];
  let connected = 0;
  let acked = 0;
  let ended = 0;
  let start = 0n;

  class Sender extends USocket {
    private next = 0;
    private readonly ack = new Uint8Array(1);
    constructor(private readonly id: number) {
      super();
    }
    override socketConnectComplete(): void {
      if (++connected === conns) {
        start = process.hrtime.bigint();
        for (const { s, u } of senders) u.begin(s);
      }
    }
    begin(s: ISocket): void {
      s.recv(this.ack, 1);
      this.sendNext(s);
    }
    override socketSendResult(s: ISocket): void {
      this.sendNext(s);
    }
    private sendNext(s: ISocket): void {
      if (this.next >= blocks) return;
      stampBlock(block, this.id, this.next++);
      s.send(block, this.next === blocks ? perConn - (blocks - 1) * BLOCK : BLOCK);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
      if (n !== 1 || b[0] !== 1) io.error(`connection ${this.id}: the server reported wrong data (ack ${b[0]})`);
      if (++acked === conns) {
        const ms = msSince(start);
        io.result({ ms, bytes: conns * perConn });
        for (const p of senders) p.s.shutdown();
      }
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      ended++;
      if (r !== ShutdownReason.Normal) io.error(`client connection ${this.id} ended: ${r}`);
    }
  }
  for (let i = 0; i < conns; i++) {
    const u = new Sender(i);
    const s = t.provider.createSocket(u, t.clientOptions);
    senders.push({ s, u });
    t.connect(s);
  }
  io.onQuit(async () => {
    await waitUntil(() => ended === conns, 3000);
    return {};
  });
}

/** One connection, `size.warmup` untimed then `size.rounds` timed round trips of 64 bytes, each echo checked. */
export function pingpongClient(args: PeerArgs, io: PeerIo): void {
  const t = fwTransport(args.target);
  const { rounds, warmup } = args.size;
  let start = 0n;
  let ended = false;
  class Pinger extends USocket {
    private readonly out = new Uint8Array(PING);
    private readonly in = new Uint8Array(PING);
    private round = 0;
    override socketConnectComplete(s: ISocket): void {
      if (warmup === 0) start = process.hrtime.bigint();
      fillPing(this.out, 0);
      s.recv(this.in, PING);
      s.send(this.out);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
      if (n !== PING || !samePing(b, 0, this.out)) io.error(`round ${this.round}: wrong echo (${n} bytes)`);
      this.round++;
      if (this.round === warmup) start = process.hrtime.bigint();
      if (this.round === warmup + rounds) {
        io.result({ ms: msSince(start), rounds });
        s.shutdown();
        return;
      }
      fillPing(this.out, this.round);
      s.recv(this.in, PING);
      s.send(this.out);
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      ended = true;
      if (r !== ShutdownReason.Normal) io.error(`client ended: ${r}`);
    }
  }
  t.connect(t.provider.createSocket(new Pinger(), t.clientOptions));
  io.onQuit(async () => {
    await waitUntil(() => ended, 3000);
    return {};
  });
}

/**
 * `size.conns` connections; once all are up, each runs `size.rounds` 64-byte round trips, all at
 * once. Time: from all connected to the last echo; the figure is round trips per second in all.
 */
export function pingpongManyClient(args: PeerArgs, io: PeerIo): void {
  const t = fwTransport(args.target);
  const { conns, rounds } = args.size;
  const pingers: Array<{ s: ISocket; u: Pinger }> = [];
  let connected = 0;
  let finished = 0;
  let ended = 0;
  let start = 0n;
  class Pinger extends USocket {
    private readonly buf = new Uint8Array(PING);
    private readonly out = new Uint8Array(PING);
    private round = 0;
    constructor(private readonly id: number) {
      super();
    }
    ping(s: ISocket): void {
      fillPing(this.out, this.round);
      s.send(this.out); // send copies
      s.recv(this.buf, PING);
    }
    override socketConnectComplete(): void {
      if (++connected < conns) return;
      start = process.hrtime.bigint();
      for (const p of pingers) p.u.ping(p.s);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
      if (n !== PING || !samePing(b, 0, this.out)) io.error(`connection ${this.id} round ${this.round}: wrong echo (${n} bytes)`);
      if (++this.round < rounds) {
        this.ping(s);
        return;
      }
      s.shutdown();
      if (++finished === conns) io.result({ ms: msSince(start), rounds: rounds * conns });
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      ended++;
      checkEnd(io, `connection ${this.id}`, r);
    }
  }
  for (let i = 0; i < conns; i++) {
    const u = new Pinger(i);
    const s = t.provider.createSocket(u, t.clientOptions);
    pingers.push({ s, u });
    t.connect(s);
  }
  io.onQuit(async () => {
    await waitUntil(() => ended === conns, 3000);
    return {};
  });
}
