// DTLS bench peers (framework only: Node has no DTLS). The server is a DTLS listener for many
// peers (bind, listen(), upgradeToTls serverSide: docs/dtls.md "DTLS server for many peers")
// that accepts everyone and echoes each datagram; it runs in its own process, so the clients'
// CPU never counts against it. Clients: `dtlsEchoClient` (N peers, each a connected UDP socket
// upgraded to DTLS, pumping 512-byte datagrams with a credit window, as udp.ts does for UDP) and
// `dtlsHandshakeClient` (handshakes with a fixed number in flight).
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { DGRAM, PeerArgs, PeerIo, UDP_BUFFER, fillDatagram, msSince, readPem, waitUntil } from './common';
import { Pump } from './udp';

const udp = createUdpSocketProvider();
const tls = createTlsSocketProvider();

/**
 * A peer's window counts as lost after this long without an echo. Longer than the UDP bench's
 * 300 ms: on the shared machine a peer of 100 (3 in flight) can wait that long for its turn
 * without a datagram being lost, and a stall is only noticed once a timer runs.
 */
const STALL_MS = 1000;

const ok = (r: ShutdownReason): boolean => r === ShutdownReason.Normal || r === ShutdownReason.ByPeer;

/** The DTLS listener: accepts every peer (ECDSA P-256 certificate, DTLS-SRTP offered) and echoes. */
export function dtlsServer(args: PeerArgs, io: PeerIo): void {
  const context = tls.createSocketContext();
  context.setServerCertificate(readPem(args.target.serverPemFile));
  context.enableDtls(true);
  let accepted = 0;
  let echoed = 0;
  let listener: ISocket | null = null;
  const window = new CpuWindow(() => echoed);
  const acceptWindow = new CpuWindow(() => accepted);
  const peers = new Set<ISocket>();
  class Echo extends USocket {
    private readonly buf = new Uint8Array(2048);
    override socketAcceptComplete(s: ISocket): void {
      peers.add(s);
      s.recv(this.buf);
    }
    override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
      s.send(b, n); // copies
      s.recv(b);
      echoed++;
    }
    override socketShutdown(s: ISocket, r: ShutdownReason): void {
      peers.delete(s);
      if (!ok(r)) io.error(`accepted DTLS socket ended: ${r}`);
    }
  }
  class Listener extends USocket {
    override socketListenResult(l: ISocket): void {
      accepted++;
      l.accept(new Echo());
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      if (!ok(r)) io.error(`DTLS listener ended: ${r}`);
    }
  }
  class Bound extends USocket {
    override socketBindResult(s: ISocket, _a: string, port: number): void {
      s.listen();
      listener = tls.upgradeToTls(s, new Listener(), { serverSide: true, context, maxHandshakes: Math.max(64, args.size.inflight ?? 0) });
      io.ready({ port });
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      io.error(`UDP socket ended before its upgrade: ${r}`);
    }
  }
  udp.createSocket(new Bound(), { recvBufferSize: UDP_BUFFER, sendBufferSize: UDP_BUFFER }).bind('127.0.0.1', 0);
  io.onQuit(async () => {
    window.stop();
    acceptWindow.stop();
    const stats = listener?.stats().listener;
    for (const p of peers) p.shutdown();
    listener?.shutdown();
    await waitUntil(() => peers.size === 0, 3000);
    return {
      accepted,
      echoed,
      echoWindow: window.result(),
      acceptWindow: acceptWindow.result(),
      garbage: stats?.garbageDatagrams,
      refused: stats?.refusedDatagrams,
    };
  });
}

/**
 * The server's CPU time while a count grew (datagrams echoed, without the handshakes before;
 * sessions accepted): sampled every 50 ms (one `process.cpuUsage()` call, not one per datagram),
 * from the first sample that saw the count above 0 to the last that saw it grow.
 */
class CpuWindow {
  private first: { count: number; cpu: NodeJS.CpuUsage } | null = null;
  private last: { count: number; cpu: NodeJS.CpuUsage } | null = null;
  private readonly timer: NodeJS.Timeout;
  constructor(count: () => number) {
    this.timer = setInterval(() => {
      const n = count();
      if (n === 0 || n === this.last?.count) return;
      const sample = { count: n, cpu: process.cpuUsage() };
      this.first ??= sample;
      this.last = sample;
    }, 50);
  }
  stop(): void {
    clearInterval(this.timer);
  }
  result(): { count: number; cpuMs: number } | null {
    if (!this.first || !this.last || this.last.count === this.first.count) return null;
    const cpu = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
    return { count: this.last.count - this.first.count, cpuMs: cpu(this.last.cpu) - cpu(this.first.cpu) };
  }
}

/** Opens a connected UDP socket to the server and upgrades it; `user` gets the DTLS socket. */
function openDtls(port: number, user: USocket, ca: ReturnType<typeof tls.createSocketContext>, io: PeerIo): void {
  class Plain extends USocket {
    override socketConnectComplete(s: ISocket): void {
      tls.upgradeToTls(s, user, { context: ca, serverName: 'localhost' });
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      io.error(`UDP socket ended before its upgrade: ${r}`);
    }
  }
  udp.createSocket(new Plain(), { recvBufferSize: UDP_BUFFER, sendBufferSize: UDP_BUFFER }).connect(`127.0.0.1:${port}`);
}

function clientContext(args: PeerArgs): ReturnType<typeof tls.createSocketContext> {
  const context = tls.createSocketContext();
  context.setCertificateAuthority(readPem(args.target.caFile));
  context.enableDtls(true);
  return context;
}

/**
 * `size.peers` DTLS peers, all handshaken first; then each pumps `size.datagrams / peers`
 * datagrams of 512 B with a credit window of `size.window / peers` (at least 1), checked as the
 * UDP bench checks them. The figure: all datagrams over the time from the first send to the last echo.
 */
export function dtlsEchoClient(args: PeerArgs, io: PeerIo): void {
  const context = clientContext(args);
  const { peers, datagrams, window } = args.size;
  const perPeer = Math.floor(datagrams / peers);
  const perWindow = Math.max(1, Math.floor(window / peers));
  const sockets: ISocket[] = [];
  const pumps: Pump[] = [];
  let up = 0;
  let done = 0;
  let ended = 0;
  let start = 0n;
  let cpu0: NodeJS.CpuUsage | null = null;
  const begin = (): void => {
    cpu0 = process.cpuUsage();
    start = process.hrtime.bigint();
    for (const p of pumps) p.begin();
  };
  const finished = (): void => {
    if (++done < peers) return;
    const ms = msSince(start);
    const cpu = process.cpuUsage(cpu0 ?? undefined);
    let got = 0;
    let lost = 0;
    for (const p of pumps) {
      got += p.tally.got;
      lost += p.lost;
      if (p.tally.bad > 0 || p.tally.dup > 0) io.error(`${p.tally.bad} wrong and ${p.tally.dup} duplicated echoes`);
    }
    if (lost > 0) io.error(`${lost} datagrams lost (no echo within ${STALL_MS} ms)`);
    io.result({ ms, datagrams: got, lost, peers, windowCpuMs: (cpu.user + cpu.system) / 1000 });
  };
  class Peer extends USocket {
    private readonly buf = new Uint8Array(2048);
    private readonly out = new Uint8Array(DGRAM);
    private socket: ISocket | null = null;
    readonly pump = new Pump(
      perPeer,
      perWindow,
      (seq) => {
        fillDatagram(this.out, seq);
        this.socket!.send(this.out); // copies
      },
      () => finished(),
      STALL_MS,
    );
    override socketUpgradeToTlsComplete(s: ISocket): void {
      this.socket = s;
      sockets.push(s);
      s.recv(this.buf);
      if (++up === peers) begin();
    }
    override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
      this.pump.echo(b, n);
      s.recv(b);
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      ended++;
      if (r !== ShutdownReason.Normal) io.error(`DTLS peer ended: ${r}`);
    }
  }
  // Handshakes 50 at a time: the listener's default maxHandshakes is 64.
  let opened = 0;
  const openMore = (): void => {
    while (opened < peers && opened - up < 50) {
      const p = new Peer();
      pumps.push(p.pump);
      openDtls(args.target.port, p, context, io);
      opened++;
    }
    if (opened < peers) setTimeout(openMore, 5);
  };
  openMore();
  io.onQuit(async () => {
    for (const s of sockets) s.shutdown();
    await waitUntil(() => ended === sockets.length, 3000);
    return { up, ended };
  });
}

/**
 * `size.total` DTLS sessions, `size.inflight` at a time: UDP connect, upgradeToTls (full
 * handshake with the cookie exchange, ECDSA P-256, DTLS-SRTP), then `shutdown()` (close_notify);
 * the next starts when one has ended. The figure: sessions per second from the first connect to the last end.
 */
export function dtlsHandshakeClient(args: PeerArgs, io: PeerIo): void {
  const context = clientContext(args);
  const { total, inflight, warmup } = args.size;
  let started = 0;
  let done = 0;
  let start = 0n;
  let cpu0: NodeJS.CpuUsage | undefined;
  const handshakeMs: number[] = [];
  class Session extends USocket {
    private readonly t0 = process.hrtime.bigint();
    constructor(private readonly measured: boolean) {
      super();
    }
    override socketUpgradeToTlsComplete(s: ISocket): void {
      if (this.measured) handshakeMs.push(msSince(this.t0));
      s.shutdown();
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      if (r !== ShutdownReason.Normal) io.error(`DTLS session ended: ${r}`);
      if (!this.measured) return void warm();
      if (++done === total) {
        const cpu = process.cpuUsage(cpu0);
        handshakeMs.sort((a, b) => a - b);
        io.result({
          ms: msSince(start),
          handshakes: handshakeMs.length,
          medianMs: handshakeMs[Math.floor(handshakeMs.length / 2)] ?? null,
          windowCpuMs: (cpu.user + cpu.system) / 1000,
        });
      } else next();
    }
  }
  const next = (): void => {
    if (started >= total) return;
    started++;
    openDtls(args.target.port, new Session(true), context, io);
  };
  // Warm-up sessions one at a time (both processes load werift and compile), then the clock starts.
  let warmed = 0;
  const warm = (): void => {
    if (warmed++ < (warmup ?? 0)) return openDtls(args.target.port, new Session(false), context, io);
    cpu0 = process.cpuUsage();
    start = process.hrtime.bigint();
    for (let i = 0; i < inflight; i++) next();
  };
  warm();
  io.onQuit(() => ({ done }));
}
