import { createSocketPair, ISocket, ShutdownReason, USocket } from '../../lib';

// The app's server-side user, unchanged: answers every chunk it reads in upper case, and reads
// the next chunk once the answer was sent.
class UpperCaser extends USocket {
  private readonly buf = new Uint8Array(256);
  override socketAcceptComplete(s: ISocket) {
    s.recv(this.buf, this.buf.byteLength, true);
  }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) {
    s.send(Buffer.from(Buffer.from(buf.subarray(0, n)).toString('utf8').toUpperCase()));
  }
  override socketSendResult(s: ISocket) {
    s.recv(this.buf, this.buf.byteLength, true);
  }
  override socketShutdown(_s: ISocket, reason: ShutdownReason) {
    console.log(`server side ended: ${reason}`);
  }
}

// The test's client: one request, check the answer, close.
class TestClient extends USocket {
  override socketConnectComplete(s: ISocket) {
    s.send(Buffer.from('hello, pair'));
    s.recv(new Uint8Array(11)); // exactly the 11 bytes of the answer
  }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) {
    const answer = Buffer.from(buf.subarray(0, n)).toString('utf8');
    console.log(`answer: ${answer} (${answer === 'HELLO, PAIR' ? 'as expected' : 'WRONG'})`);
    s.shutdown();
  }
  override socketShutdown(_s: ISocket, reason: ShutdownReason) {
    console.log(`client side ended: ${reason}`);
  }
}

// No port, no file, no network: the two users talk through an in-process pipe.
createSocketPair(new TestClient(), new UpperCaser());
