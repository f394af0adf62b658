import { ISocket } from '../index';
import { formatAddress } from './address';
import { PipeSession } from './pipe-session';

/** The largest UDP payload over IPv4; a longer stdin chunk is sent as several datagrams. */
export const MAX_DATAGRAM = 65507;
const RECV_BYTES = 65536;

/**
 * The user of a UDP socket. Each stdin read becomes one datagram (a read longer than 65,507 bytes, several); each
 * datagram received is written to stdout as it is. A connected socket (connect) talks to
 * its peer; a bound one (listen) answers the last peer it heard from and reads stdin only
 * once there is one. At the end of stdin the socket is shut down.
 */
export class DatagramSession extends PipeSession {
  private readonly buffer = new Uint8Array(RECV_BYTES);
  private peer: { address: string; port: number } | null = null;
  private readonly pieces: Buffer[] = [];

  override socketConnectComplete(socket: ISocket): void {
    this.env.reporter.info(`udp socket connected to ${formatAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0, false)}`);
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
      (chunk) => {
        for (let at = 0; at < chunk.length; at += MAX_DATAGRAM) this.pieces.push(chunk.subarray(at, at + MAX_DATAGRAM));
        this.sendNext(socket);
      },
      () => {
        this.env.reporter.info('end of stdin: closing');
        socket.shutdown();
      },
    );
  }

  /** Sends the next piece of the current stdin chunk, or asks stdin for more. */
  private sendNext(socket: ISocket): void {
    const piece = this.pieces.shift();
    if (!piece) this.env.stdin.next();
    else if (socket.mode === 'client') socket.send(piece);
    else if (this.peer) socket.sendTo(piece, piece.length, this.peer.address, this.peer.port);
  }

  override socketSendResult(socket: ISocket): void {
    this.sendNext(socket);
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
