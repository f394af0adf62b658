import { ISocket, ShutdownReason, USocket } from '../index';
import { formatAddress } from './address';
import { ExitCode } from './exit';
import { SessionEnv } from './pipe-session';
import { describePeer } from './report';
import type { StdinSplitter } from './split';
import { StdoutSink } from './stdio';

const RECV_BYTES = 65536;

/** Turns the bound, listening UDP socket into the listener that offers peers (DTLS); returns that listener. */
export type ListenerUpgrade = (bound: ISocket, user: USocket) => ISocket;

/**
 * A listener that accepts every peer: `listen udp --peers` (a datagram listener), `listen tls
 * --dtls` (a DTLS listener: the bound UDP socket is upgraded once bound) and `listen rudp`. Each
 * peer's datagrams or messages are written to stdout as they come (with `--verbose`, each
 * prefixed with `[ADDR:PORT] `); stdin, cut by `split`, is sent to every peer accepted so far,
 * and the next stdin chunk is read once every peer reported the last one sent (a peer that ends
 * no longer counts). At the end of stdin the listener and every peer's socket are shut down.
 */
export class PeersListener extends USocket {
  private listener: ISocket | null = null;
  /** Accepted peers, each with its sends of the current stdin chunk not yet reported. */
  private readonly peers = new Map<ISocket, number>();
  private unsent = 0;
  private readonly stdout = new StdoutSink((err) => this.env.ending.exit(ExitCode.Failure, `stdout: ${err.message}`));
  private stdinDone = false;

  constructor(
    private readonly env: SessionEnv,
    private readonly split: StdinSplitter,
    private readonly upgrade: ListenerUpgrade | null = null,
  ) {
    super();
  }

  override socketBindResult(socket: ISocket, localAddr: string, localPort: number): void {
    this.env.reporter.notice(`listening on ${formatAddress(localAddr, localPort, false)}`);
    this.listener = this.upgrade ? this.upgrade(socket, this) : socket;
    this.env.reporter.info(
      `serving many peers (${this.upgrade ? 'a DTLS listener: each peer is offered once its handshake is done' : `a ${socket.type} listener`})`,
    );
    this.env.ending.setCloser(() => this.closeAll());
    this.env.stdin.start(
      (chunk) => this.broadcast(this.split.push(chunk)),
      (error) => {
        if (error) this.env.ending.exit(ExitCode.Failure, `stdin: ${error.message}`);
        this.env.reporter.info('end of stdin: closing');
        this.broadcast(this.split.end());
        this.stdinDone = true;
        this.closeAll();
      },
    );
  }

  override socketListenResult(socket: ISocket, remoteAddr: string, remotePort: number): void {
    this.env.reporter.info(`new peer ${formatAddress(remoteAddr, remotePort, false)}`);
    socket.accept(new Peer(this));
  }

  override socketShutdown(socket: ISocket, reason: ShutdownReason): void {
    this.listener = null;
    if (reason !== ShutdownReason.Normal) this.env.ending.byReason(reason);
    else this.maybeExit();
  }

  /** @internal */
  peerReady(socket: ISocket): void {
    this.peers.set(socket, 0);
    if (this.upgrade) this.env.reporter.info(`accepted ${describePeer(socket, true)}`);
  }

  /** @internal One send to this peer was reported. */
  peerSent(socket: ISocket): void {
    const unsent = this.peers.get(socket);
    if (unsent === undefined || unsent === 0) return;
    this.peers.set(socket, unsent - 1);
    this.sentOne(1);
  }

  /** @internal */
  peerEnded(socket: ISocket, reason: ShutdownReason): void {
    const unsent = this.peers.get(socket) ?? 0;
    this.peers.delete(socket);
    this.env.reporter.info(`peer ${formatAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0, false)} ended: ${reason}`);
    if (unsent > 0) this.sentOne(unsent);
    this.maybeExit();
  }

  /** @internal A peer's datagram or message: to stdout, prefixed in verbose mode; `next` once stdout took it. */
  output(socket: ISocket, data: Uint8Array, next: () => void): void {
    const prefix = this.env.reporter.verbose ? `[${formatAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0, false)}] ` : '';
    this.stdout.write(Buffer.concat([Buffer.from(prefix), data]), next); // one datagram of each peer in flight to stdout
  }

  /** Sends the pieces of one stdin chunk to every peer; stdin is read again once all were reported sent. */
  private broadcast(pieces: Buffer[]): void {
    for (const [peer, unsent] of this.peers) {
      this.peers.set(peer, unsent + pieces.length);
      this.unsent += pieces.length;
      for (const piece of pieces) peer.send(piece);
    }
    if (this.unsent === 0) this.env.stdin.next();
  }

  private sentOne(n: number): void {
    this.unsent -= n;
    if (this.unsent === 0) this.env.stdin.next();
  }

  private closeAll(): void {
    this.listener?.shutdown();
    for (const p of this.peers.keys()) p.shutdown();
  }

  private maybeExit(): void {
    if (this.stdinDone && this.listener === null && this.peers.size === 0) this.stdout.whenIdle(() => this.env.ending.byReason(ShutdownReason.Normal));
  }
}

/** One accepted peer: its datagrams or messages go to stdout through the listener's session. */
class Peer extends USocket {
  private readonly buffer = new Uint8Array(RECV_BYTES);

  constructor(private readonly session: PeersListener) {
    super();
  }

  override socketAcceptComplete(socket: ISocket): void {
    this.session.peerReady(socket);
    socket.recv(this.buffer, RECV_BYTES);
  }

  override socketRecvFromResult(socket: ISocket, buffer: Uint8Array, len: number): void {
    this.session.output(socket, buffer.subarray(0, len), () => socket.recv(this.buffer, RECV_BYTES));
  }

  override socketSendResult(socket: ISocket): void {
    this.session.peerSent(socket);
  }

  override socketShutdown(socket: ISocket, reason: ShutdownReason): void {
    this.session.peerEnded(socket, reason);
  }
}
