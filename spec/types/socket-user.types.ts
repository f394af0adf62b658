/**
 * Compile-time checks of the user types, checked by `tsc --noEmit -p .` (npm test, npm run lint)
 * and by types.spec.ts. Nothing here runs: a line that should not compile carries
 * `@ts-expect-error`, which itself fails the build if the line compiles after all.
 */
import {
  createLocalSocketProvider,
  createTcpSocketProvider,
  createTlsSocketProvider,
  createUdpSocketProvider,
  ISocket,
  PeerCertificate,
  ShutdownReason,
  SocketUser,
  USocket,
} from '../../lib';
import type { DetailedPeerCertificate, PeerCertificate as NodePeerCertificate } from 'node:tls';

declare const socket: ISocket;

// A plain object with socketShutdown alone is a user, for every provider, without a cast.
createTcpSocketProvider().createSocket({ socketShutdown() {} });
createUdpSocketProvider().createSocket({ socketShutdown() {} }, { ipv6: true });
createLocalSocketProvider().createSocket({ socketShutdown() {} });
createTlsSocketProvider().upgradeToTls(socket, { socketShutdown() {} }, { serverSide: true });
socket.setUser({ socketShutdown() {} });
socket.accept({ socketShutdown() {} });
socket.accept(null);

// Its callbacks get their parameter types from the interface.
createTcpSocketProvider().createSocket({
  socketConnectComplete(s) {
    s.send(Buffer.from('x'));
  },
  socketRecvResult(s, buffer, len) {
    const n: number = len + buffer.byteLength;
    void n;
  },
  socketAcceptSelectedAlpnProtocol: (s, protocol) => protocol === 'h2',
  socketShutdown(s, reason) {
    const r: ShutdownReason = reason;
    void r;
  },
});

// A USocket subclass still works everywhere, and is a SocketUser.
class Sub extends USocket {
  socketShutdown(): void {}
}
createTcpSocketProvider().createSocket(new Sub());
socket.setUser(new Sub());
export const asUser: SocketUser = new Sub();

// The old workaround, a cast of a plain object with every parameter, still compiles.
export const cast = { socketShutdown(s: ISocket, reason: ShutdownReason) {} } as USocket;

// Without socketShutdown it is not a user.
// @ts-expect-error socketShutdown is required
createTcpSocketProvider().createSocket({});
// @ts-expect-error socketShutdown is required
createTcpSocketProvider().createSocket({ socketConnectComplete() {} });
// @ts-expect-error a misspelt callback is caught in an object literal
createTcpSocketProvider().createSocket({ socketShutdown() {}, socketConectComplete() {} });
// @ts-expect-error a callback with the wrong type is caught
createTcpSocketProvider().createSocket({ socketShutdown() {}, socketAcceptSelectedAlpnProtocol: () => 'h2' });

// SocketUser has every callback USocket has, and no other.
type Callbacks<T> = { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const sameKeys: Same<Callbacks<USocket>, keyof SocketUser> = true;

// PeerCertificate: the fields Node always fills are strings; subject attributes may be arrays.
declare const cert: PeerCertificate;
export const always: string[] = [cert.valid_from, cert.valid_to, cert.serialNumber, cert.fingerprint, cert.fingerprint256, cert.fingerprint512];
export const isCa: boolean = cert.ca;
export const der: Buffer = cert.raw;
export const cn: string | string[] | undefined = cert.subject.CN;
export const ou: string | string[] | undefined = cert.issuer.OU;
// @ts-expect-error a subject attribute may be an array (Node gives one for a repeated attribute)
export const cnString: string = cert.subject.CN;
// @ts-expect-error subjectaltname is absent without the extension
export const san: string = cert.subjectaltname;
// What Node's tls returns fits our type (the TLS transport hands it on as it is).
declare const detailed: DetailedPeerCertificate;
declare const plain: NodePeerCertificate;
export const fromNode: PeerCertificate[] = [detailed, plain];
