// The child process of the local-socket demo: connects to the path in argv[2], sends one
// message, prints the reply and exits.
import { createLocalSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';

const client = createLocalSocketProvider().createSocket(
  new (class extends USocket {
    private readonly buf = new Uint8Array(256);
    override socketConnectComplete(s: ISocket): void {
      s.send(Buffer.from(`hello from pid ${process.pid}`));
      s.recv(this.buf, undefined, true);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
      console.log(`got "${Buffer.from(b.subarray(0, n)).toString()}"`);
      s.shutdown();
    }
    socketShutdown(_s: ISocket, reason: ShutdownReason): void {
      console.log(`ended: ${reason}`);
      if (reason !== ShutdownReason.Normal) process.exitCode = 1;
    }
  })(),
);
client.connect(process.argv[2]);
