import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketContext, ShutdownReason, USocket } from '../../lib';
import { makeTestPki } from '../../lib/testing';

const udp = createUdpSocketProvider();
const tls = createTlsSocketProvider(); // DTLS is an upgrade of a UDP socket, made by the TLS provider
const CLIENTS = 3;
const ROUNDS = 2;
let serverContext: ISocketContext;
let clientContext: ISocketContext;
let listener: ISocket;
const report: string[][] = Array.from({ length: CLIENTS }, () => []); // per client, printed in order at the end
const clientKeys = new Map<number, string>(); // SRTP keying material by the client's port, as each side derived it
const serverKeys = new Map<number, string>();
const ends: string[] = [];
const hex = (s: ISocket) => Buffer.from(s.getSrtpKeyingMaterial()!.material).toString('hex');

// Every DTLS socket reports its end here; once all have, the listener goes too and the results are printed.
function ended(who: string, reason: ShutdownReason): void {
  if (reason !== ShutdownReason.Normal && reason !== ShutdownReason.ByPeer) process.exitCode = 1;
  ends.push(`${who} ${reason}`);
  if (ends.length === 2 * CLIENTS) listener.shutdown(); // accepted sockets would live on without their listener
  if (ends.length < 2 * CLIENTS + 1) return;
  report.forEach((lines) => console.log(lines.join('\n')));
  const distinct = new Set(serverKeys.values()).size;
  console.log(`peers accepted: ${listener.stats().listener?.accepted}, each with keying material of its own: ${distinct === CLIENTS}`);
  const counts = new Map<string, number>();
  for (const e of ends.sort()) counts.set(e, (counts.get(e) ?? 0) + 1);
  console.log(`ended: ${[...counts].map(([e, n]) => `${n}× ${e}`).join(', ')}`);
}

// A plain UDP socket reports an end only if it fails before its upgrade; after it, it falls silent.
function failed(reason: ShutdownReason): void {
  console.error(`UDP socket ended: ${reason}`);
  process.exitCode = 1;
}

// The server: a UDP socket, bound and listening; once bound it is upgraded to a DTLS listener and the clients start.
class BoundUdp extends USocket {
  override socketBindResult(s: ISocket, addr: string, port: number) {
    listener = tls.upgradeToTls(s, new DtlsListener(), { serverSide: true, context: serverContext });
    for (let i = 0; i < CLIENTS; i++) udp.createSocket(new ConnectedUdp(i)).connect(`${addr}:${port}`);
  }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { failed(reason); }
}

// The DTLS listener offers each peer once its own handshake (cookie exchange included) completed.
class DtlsListener extends USocket {
  override socketListenResult(l: ISocket, addr: string, port: number) {
    l.accept(new Echo()); // or accept(null): the peer gets close_notify
  }
  override socketShutdown(l: ISocket, reason: ShutdownReason) { ended('listener', reason); }
}

// One per peer: a DTLS socket of its own, with its own SRTP keys. It answers each datagram and
// reads the next one once the answer was sent (the bounded pattern).
class Echo extends USocket {
  private readonly buf = new Uint8Array(1500);
  override socketAcceptComplete(s: ISocket) {
    serverKeys.set(s.remotePort!, hex(s));
    s.recv(this.buf); // datagrams the peer sent meanwhile wait in its queue
  }
  override socketRecvFromResult(s: ISocket, buf: Uint8Array, n: number) {
    s.send(Buffer.concat([Buffer.from('echo: '), buf.subarray(0, n)]));
  }
  override socketSendResult(s: ISocket) { s.recv(this.buf); }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { ended('accepted', reason); }
}

// A client: a connected UDP socket, upgraded once connected; it verifies the server (127.0.0.1) against the test CA.
class ConnectedUdp extends USocket {
  constructor(private readonly n: number) { super(); }
  override socketConnectComplete(s: ISocket) { tls.upgradeToTls(s, new DtlsClient(this.n), { context: clientContext }); }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { failed(reason); }
}

// The client's DTLS socket: ROUNDS datagrams, each once the echo of the last came back, then close_notify.
class DtlsClient extends USocket {
  private readonly buf = new Uint8Array(1500);
  private round = 0;
  constructor(private readonly n: number) { super(); }
  override socketUpgradeToTlsComplete(s: ISocket) {
    clientKeys.set(s.localPort!, hex(s));
    report[this.n].push(`client ${this.n}: DTLS up with ${s.getPeerCertificate()?.subject.CN}, ${s.getSrtpKeyingMaterial()?.profile}`);
    s.send(Buffer.from(`hello ${this.round} from client ${this.n}`));
  }
  override socketSendResult(s: ISocket) { s.recv(this.buf); }
  override socketRecvFromResult(s: ISocket, buf: Uint8Array, n: number) {
    report[this.n].push(`client ${this.n} got "${Buffer.from(buf.subarray(0, n))}"`);
    if (++this.round < ROUNDS) s.send(Buffer.from(`hello ${this.round} from client ${this.n}`));
    else {
      report[this.n].push(`client ${this.n}: same keys as its accepted socket: ${clientKeys.get(s.localPort!) === serverKeys.get(s.localPort!)}`);
      s.shutdown(); // close_notify: its accepted socket ends with SOCKET_SHUTDOWN_BY_PEER
    }
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

  const u = udp.createSocket(new BoundUdp());
  u.bind('127.0.0.1', 0);
  u.listen(); // a datagram listener once bound: upgraded to the DTLS listener in socketBindResult
});
