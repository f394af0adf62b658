import { ISocket, ShutdownReason, USocket } from '../index';
import { formatAddress } from './address';
import { MAX_DATAGRAM } from './datagram-session';
import { ExitCode } from './exit';
import { SessionEnv } from './pipe-session';
import { StdoutSink } from './stdio';

const RECV_BYTES = 65536;

/**
 * `listen udp ADDRESS --peers`: a datagram listener (`listen()` on the bound socket) that accepts
 * every peer. Each peer's datagrams are written to stdout as they come (with `--verbose`, each
 * prefixed with `[ADDR:PORT] `); each stdin read is sent to every peer accepted so far. At the
 * end of stdin the listener and every peer's socket are shut down.
 */
export class PeersListener extends USocket {
  private listener: ISocket | null = null;
  private readonly peers = new Set<ISocket>();
  private readonly stdout = new StdoutSink((err) => this.env.ending.exit(ExitCode.Failure, `stdout: ${err.message}`));
  private stdinDone = false;

  constructor(private readonly env: SessionEnv) {
    super();
  }

  override socketBindResult(socket: ISocket, localAddr: string, localPort: number): void {
    this.listener = socket;
    this.env.reporter.notice(`listening on ${formatAddress(localAddr, localPort, false)}`);
    this.env.reporter.info('serving many peers (a datagram listener)');
    this.env.ending.setCloser(() => this.closeAll());
    this.env.stdin.start(
      (chunk) => this.broadcast(chunk),
      (error) => {
        if (error) this.env.ending.exit(ExitCode.Failure, `stdin: ${error.message}`);
        this.env.reporter.info('end of stdin: closing');
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
    this.peers.add(socket);
  }

  /** @internal */
  peerEnded(socket: ISocket, reason: ShutdownReason): void {
    this.peers.delete(socket);
    this.env.reporter.info(`peer ${formatAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0, false)} ended: ${reason}`);
    this.maybeExit();
  }

  /** @internal A peer's datagram: to stdout, prefixed in verbose mode; `next` once stdout took it. */
  output(socket: ISocket, data: Uint8Array, next: () => void): void {
    const prefix = this.env.reporter.verbose ? `[${formatAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0, false)}] ` : '';
    this.stdout.write(Buffer.concat([Buffer.from(prefix), data]), next); // one datagram of each peer in flight to stdout
  }

  private broadcast(chunk: Buffer): void {
    for (let at = 0; at < chunk.length; at += MAX_DATAGRAM) {
      const piece = chunk.subarray(at, at + MAX_DATAGRAM);
      for (const p of this.peers) p.send(piece);
    }
    this.env.stdin.next();
  }

  private closeAll(): void {
    this.listener?.shutdown();
    for (const p of this.peers) p.shutdown();
  }

  private maybeExit(): void {
    if (this.stdinDone && this.listener === null && this.peers.size === 0) this.stdout.whenIdle(() => this.env.ending.byReason(ShutdownReason.Normal));
  }
}

/** One accepted peer: its datagrams go to stdout through the listener's session. */
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

  override socketShutdown(socket: ISocket, reason: ShutdownReason): void {
    this.session.peerEnded(socket, reason);
  }
}
