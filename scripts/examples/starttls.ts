import { createTcpSocketProvider, createTlsSocketProvider, ISocket, ISocketContext, ShutdownReason, USocket } from '../../lib';
import { makeTestPki } from '../../lib/testing';

const tcp = createTcpSocketProvider();
const tls = createTlsSocketProvider();
let serverContext: ISocketContext;
let clientContext: ISocketContext;

// Anything but a clean end makes the example fail.
function ended(who: string, reason: ShutdownReason): void {
  if (reason === ShutdownReason.Normal || reason === ShutdownReason.ByPeer) return;
  console.error(`${who} ended: ${reason}`);
  process.exitCode = 1;
}
const text = (buf: Uint8Array, n: number) => Buffer.from(buf.subarray(0, n)).toString();

// Server side, in plaintext: wait for "STARTTLS\r\n", answer, then upgrade as the TLS server.
class PlainServerSide extends USocket {
  override socketAcceptComplete(s: ISocket) { s.recv(new Uint8Array(10)); }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) {
    if (text(buf, n) !== 'STARTTLS\r\n') return s.shutdown();
    s.send(Buffer.from('220 go ahead\r\n')); // queued on the TCP socket: sent before the handshake
    tls.upgradeToTls(s, new SecureServerSide(), { serverSide: true, context: serverContext });
  }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { ended('plain server side', reason); }
}

// Server side, after the handshake: echo what arrives; read again once the echo was sent.
class SecureServerSide extends USocket {
  private readonly buf = new Uint8Array(64);
  override socketUpgradeToTlsComplete(s: ISocket) { s.recv(this.buf, 64, true); }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) { s.send(buf, n); }
  override socketSendResult(s: ISocket) { s.recv(this.buf, 64, true); }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { ended('secure server side', reason); }
}

// Client side, in plaintext: ask for STARTTLS, wait for the answer, upgrade.
class PlainClientSide extends USocket {
  override socketConnectComplete(s: ISocket) { s.send(Buffer.from('STARTTLS\r\n')); s.recv(new Uint8Array(14)); }
  override socketRecvResult(s: ISocket) {
    // No serverName: the name verified is "localhost", the host connect() was given.
    tls.upgradeToTls(s, new SecureClientSide(), { context: clientContext });
  }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { ended('plain client side', reason); }
}

// Client side, after the handshake: send, read the echo, print it, end everything.
class SecureClientSide extends USocket {
  override socketUpgradeToTlsComplete(s: ISocket) { s.send(Buffer.from('hello')); s.recv(new Uint8Array(5)); }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) {
    console.log(`echo over ${s.type} after STARTTLS: ${text(buf, n)} (server ${s.getPeerCertificate()?.subject.CN})`);
    s.shutdown();
    listener.shutdown();
  }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { ended('secure client side', reason); }
}

// A plain TCP listener; the client connects once it is bound.
class Listener extends USocket {
  override socketBindResult(s: ISocket, addr: string, port: number) {
    s.listen();
    tcp.createSocket(new PlainClientSide()).connect(`localhost:${port}`);
  }
  override socketListenResult(s: ISocket) { s.accept(new PlainServerSide()); }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { ended('listener', reason); }
}

const listener = tcp.createSocket(new Listener());

makeTestPki().then((pki) => {
  serverContext = tls.createSocketContext();
  serverContext.setServerCertificate(pki.server);
  clientContext = tls.createSocketContext();
  clientContext.setCertificateAuthority(pki.ca);
  listener.bind('127.0.0.1', 0);
});
