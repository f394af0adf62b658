import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketContext, ShutdownReason, USocket } from '../../lib';
import { makeTestPki } from '../../lib/testing';

const udp = createUdpSocketProvider();
const tls = createTlsSocketProvider(); // DTLS is an upgrade of a UDP socket, made by the TLS provider
let serverContext: ISocketContext;
let clientContext: ISocketContext;
let serverKeys: Uint8Array | undefined;
const ends: string[] = [];
const text = (buf: Uint8Array, n: number) => Buffer.from(buf.subarray(0, n)).toString();

// Both DTLS sockets report their end here; once both have, print them. Anything unclean fails.
function ended(who: string, reason: ShutdownReason): void {
  if (reason !== ShutdownReason.Normal && reason !== ShutdownReason.ByPeer) process.exitCode = 1;
  ends.push(`${who} ${reason}`);
  if (ends.length === 2) console.log(`ended: ${ends.sort().join(', ')}`);
}

// A plain UDP socket reports an end only if it fails before its upgrade; after it, it falls silent.
function failed(reason: ShutdownReason): void {
  console.error(`UDP socket ended: ${reason}`);
  process.exitCode = 1;
}

// The server: a bound UDP socket, upgraded at once. It serves the first peer that completes a handshake.
class BoundUdp extends USocket {
  override socketBindResult(s: ISocket, addr: string, port: number) {
    tls.upgradeToTls(s, new DtlsServer(), { serverSide: true, context: serverContext });
    udp.createSocket(new ConnectedUdp()).connect(`${addr}:${port}`);
  }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { failed(reason); }
}

// The client: a connected UDP socket, upgraded once connected. No serverName: the name checked is 127.0.0.1.
class ConnectedUdp extends USocket {
  override socketConnectComplete(s: ISocket) { tls.upgradeToTls(s, new DtlsClient(), { context: clientContext }); }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { failed(reason); }
}

// The server's DTLS socket: keep the SRTP keys, answer each datagram, read the next one once the answer was sent.
class DtlsServer extends USocket {
  private readonly buf = new Uint8Array(1500);
  override socketUpgradeToTlsComplete(s: ISocket) {
    serverKeys = s.getSrtpKeyingMaterial()?.material;
    s.recv(this.buf);
  }
  override socketRecvFromResult(s: ISocket, buf: Uint8Array, n: number) {
    console.log(`server got "${text(buf, n)}"`);
    s.send(Buffer.from('hello back'));
  }
  override socketSendResult(s: ISocket) { s.recv(this.buf); }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { ended('server', reason); }
}

// The client's DTLS socket: the server was verified; compare the SRTP keys, send one datagram, read the answer.
class DtlsClient extends USocket {
  override socketUpgradeToTlsComplete(s: ISocket) {
    const srtp = s.getSrtpKeyingMaterial()!;
    console.log(`DTLS up with ${s.getPeerCertificate()?.subject.CN}: ${srtp.profile}, ${srtp.material.byteLength} bytes of keying material`);
    console.log(`same keys on both sides: ${Buffer.from(srtp.material).equals(serverKeys ?? Buffer.alloc(0))}`);
    s.send(Buffer.from('hello over DTLS')); // one protected datagram
    s.recv(new Uint8Array(1500)); // one decrypted datagram
  }
  override socketRecvFromResult(s: ISocket, buf: Uint8Array, n: number) {
    console.log(`client got "${text(buf, n)}"`);
    s.shutdown(); // sends close_notify: the server ends with SOCKET_SHUTDOWN_BY_PEER
  }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { ended('client', reason); }
}

makeTestPki().then((pki) => {
  serverContext = tls.createSocketContext();
  serverContext.setServerCertificate(pki.server); // PEM text: the certificate and its private key
  serverContext.enableDtls(true); // DTLS, with DTLS-SRTP
  clientContext = tls.createSocketContext();
  clientContext.setCertificateAuthority(pki.ca); // trust this CA instead of Node's root store
  clientContext.enableDtls(true);

  udp.createSocket(new BoundUdp()).bind('127.0.0.1', 0);
});
