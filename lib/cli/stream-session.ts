import { ISocket } from '../index';
import { PipeSession, SessionEnv } from './pipe-session';
import { describePeer } from './report';

const RECV_BYTES = 64 * 1024;

/**
 * The user of a connected stream socket (TCP, TLS, local; also after a STARTTLS upgrade).
 * At the end of stdin it shuts the socket down (queued data is sent first; the contract has
 * no half-close, so nothing more is received), or with `waitPeer` waits for the peer to close.
 */
export class StreamSession extends PipeSession {
  private readonly buffer = new Uint8Array(RECV_BYTES);

  constructor(
    env: SessionEnv,
    private readonly waitPeer: boolean,
  ) {
    super(env);
  }

  override socketConnectComplete(socket: ISocket): void {
    this.start(socket, 'connected to');
  }

  override socketAcceptComplete(socket: ISocket): void {
    this.start(socket, 'accepted a connection from');
  }

  override socketUpgradeToTlsComplete(socket: ISocket): void {
    this.start(socket, 'STARTTLS done with');
  }

  private start(socket: ISocket, what: string): void {
    this.socket = socket;
    this.env.ending.setCloser(() => socket.shutdown());
    this.env.reporter.info(`${what} ${describePeer(socket)}`);
    socket.recv(this.buffer, RECV_BYTES, true);
    this.pipeStdin(
      (chunk) => socket.send(chunk),
      () => this.stdinEnded(socket),
    );
  }

  private stdinEnded(socket: ISocket): void {
    if (this.waitPeer) {
      this.env.reporter.info('end of stdin: waiting for the peer to close (--wait-peer)');
      return;
    }
    this.env.reporter.info('end of stdin: closing once queued data is sent');
    socket.shutdown();
  }

  override socketSendResult(_socket: ISocket): void {
    this.env.stdin.next();
  }

  override socketRecvResult(socket: ISocket, buffer: Uint8Array, len: number): void {
    this.output(buffer.subarray(0, len), () => socket.recv(this.buffer, RECV_BYTES, true));
  }
}
