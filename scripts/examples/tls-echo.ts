import { createTlsSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { makeTestPki } from '../../lib/testing';

const tls = createTlsSocketProvider();

// Anything but a clean end makes the example fail.
function ended(who: string, reason: ShutdownReason): void {
  if (reason === ShutdownReason.Normal || reason === ShutdownReason.ByPeer) return;
  console.error(`${who} ended: ${reason}`);
  process.exitCode = 1;
}

// One accepted connection, reported once its handshake is done: echo what arrives, and read
// again once the echo was sent (a peer that never reads is then held back, not queued for).
class Echo extends USocket {
  private readonly buf = new Uint8Array(64);
  override socketAcceptComplete(s: ISocket) { s.recv(this.buf, 64, true); }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) { s.send(buf, n); }
  override socketSendResult(s: ISocket) { s.recv(this.buf, 64, true); }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { ended('echo', reason); }
}

// The listener: once bound, listen and connect the client by name ("localhost" is verified).
class Server extends USocket {
  override socketBindResult(s: ISocket, addr: string, port: number) { s.listen(); client.connect(`localhost:${port}`); }
  override socketListenResult(s: ISocket) { s.accept(new Echo()); }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { ended('server', reason); }
}

// The client: the ALPN choice is offered for approval, then the connect completes.
class Client extends USocket {
  override socketAcceptSelectedAlpnProtocol(s: ISocket, protocol: string) { return protocol === 'echo/1'; }
  override socketConnectComplete(s: ISocket) { s.send(Buffer.from('hello')); s.recv(new Uint8Array(5)); }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) {
    const cn = s.getPeerCertificate()?.subject.CN;
    console.log(`echo: ${Buffer.from(buf.subarray(0, n)).toString()} (server ${cn}, ALPN ${s.alpnProtocol})`);
    s.shutdown();
    server.shutdown();
  }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { ended('client', reason); }
}

let server: ISocket;
let client: ISocket;

makeTestPki().then((pki) => {
  const serverContext = tls.createSocketContext();
  serverContext.setServerCertificate(pki.server); // PEM text: the certificate and its private key
  serverContext.setAlpnProtocols(['echo/2', 'echo/1']); // the server's preference decides
  const clientContext = tls.createSocketContext();
  clientContext.setCertificateAuthority(pki.ca); // trust this CA instead of Node's root store
  clientContext.setAlpnProtocols(['echo/1']);

  server = tls.createSocket(new Server(), { context: serverContext });
  client = tls.createSocket(new Client(), { context: clientContext });
  server.bind('127.0.0.1', 0);
});
