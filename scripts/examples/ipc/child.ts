// The worker process of scripts/examples/ipc.ts: connects to the path it is given, answers each
// job frame with the text in capitals, and exits when the parent closes the connection. It reads
// the next job only once its answer was sent: a parent that never read the answers would be held
// back, not queued for.
import { createLocalSocketProvider, ISocket, ShutdownReason, USocket } from '../../../lib';

class Jobs extends USocket {
  private readonly head = new Uint8Array(2);
  override socketConnectComplete(s: ISocket) { s.recv(this.head); }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) {
    if (buf === this.head) return s.recv(new Uint8Array((buf[0] << 8) | buf[1]));
    const answer = Buffer.from(Buffer.from(buf.subarray(0, n)).toString().toUpperCase());
    s.send(Buffer.concat([Buffer.from([answer.length >> 8, answer.length & 0xff]), answer]));
  }
  override socketSendResult(s: ISocket) { s.recv(this.head); } // the next job, once the answer was sent
  override socketShutdown(s: ISocket, reason: ShutdownReason) {
    // The parent closing the connection (BY_PEER) is the normal end; anything else is a failure.
    if (reason !== ShutdownReason.ByPeer) {
      console.error(`worker ended: ${reason}`);
      process.exitCode = 1;
    }
  }
}

createLocalSocketProvider().createSocket(new Jobs()).connect(process.argv[2]);
