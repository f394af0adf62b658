import { ISocket } from '../index';
import { formatAddress } from './address';
import { PipeSession, SessionEnv } from './pipe-session';
import { describePeer } from './report';
import type { StdinSplitter } from './split';

const RECV_BYTES = 65536;

/**
 * The user of a message-oriented socket: UDP (connected, or bound by listen), a DTLS client,
 * a rudp connection. stdin is cut by `split` (a datagram per read, or a message per line);
 * the pieces of one stdin chunk are sent at once and the next chunk is read when each of them
 * was reported sent. Each datagram or message received is written to stdout as it is. A bound
 * UDP socket answers the last peer it heard from and reads stdin only once there is one. At
 * the end of stdin the socket is shut down, or with `waitPeer` left to the peer to close.
 */
export class MessageSession extends PipeSession {
  private readonly buffer = new Uint8Array(RECV_BYTES);
  private peer: { address: string; port: number } | null = null;
  /** Sends of the current stdin chunk not yet reported by socketSendResult. */
  private unsent = 0;

  constructor(
    env: SessionEnv,
    private readonly split: StdinSplitter,
    private readonly waitPeer = false,
  ) {
    super(env);
  }

  override socketConnectComplete(socket: ISocket): void {
    this.env.reporter.info(`${socket.type} socket connected to ${formatAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0, false)}`);
    this.start(socket);
  }

  override socketUpgradeToTlsComplete(socket: ISocket): void {
    this.env.reporter.info(`DTLS session with ${describePeer(socket, true)}`);
    this.start(socket);
  }

  override socketBindResult(socket: ISocket, localAddr: string, localPort: number): void {
    this.env.reporter.notice(`listening on ${formatAddress(localAddr, localPort, false)}`);
    this.socket = socket;
    this.env.ending.setCloser(() => socket.shutdown());
    socket.recv(this.buffer, RECV_BYTES);
  }

  private start(socket: ISocket): void {
    this.socket = socket;
    this.env.ending.setCloser(() => socket.shutdown());
    socket.recv(this.buffer, RECV_BYTES);
    this.pipeStdinTo(socket);
  }

  private pipeStdinTo(socket: ISocket): void {
    this.pipeStdin(
      (chunk) => this.sendAll(socket, this.split.push(chunk)),
      () => {
        this.sendAll(socket, this.split.end());
        if (this.waitPeer) this.env.reporter.info('end of stdin: waiting for the peer to close (--wait-peer)');
        else {
          this.env.reporter.info('end of stdin: closing');
          socket.shutdown(); // what was sent is delivered (rudp) or handed to the OS first
        }
      },
    );
  }

  /** Sends the pieces of one stdin chunk; stdin is read again once every one was reported sent. */
  private sendAll(socket: ISocket, pieces: Buffer[]): void {
    if (pieces.length === 0) return this.env.stdin.next();
    this.unsent += pieces.length;
    for (const piece of pieces) {
      if (socket.mode === 'client') socket.send(piece);
      else if (this.peer) socket.sendTo(piece, piece.length, this.peer.address, this.peer.port);
    }
  }

  override socketSendResult(_socket: ISocket): void {
    if (--this.unsent === 0) this.env.stdin.next();
  }

  override socketRecvFromResult(socket: ISocket, buffer: Uint8Array, len: number, srcAddr: string, srcPort: number): void {
    if (socket.mode === 'server' && (this.peer?.address !== srcAddr || this.peer?.port !== srcPort)) {
      const first = this.peer === null;
      this.peer = { address: srcAddr, port: srcPort };
      this.env.reporter.info(`answering ${formatAddress(srcAddr, srcPort, false)}`);
      if (first) this.pipeStdinTo(socket);
    }
    this.output(buffer.subarray(0, len), () => socket.recv(this.buffer, RECV_BYTES));
  }
}
