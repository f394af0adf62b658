/** Shared by the ALPN-over-DTLS specs: contexts with ALPN lists, receiving users, openssl diagnostics. */
import { ISocket, ISocketContext, ISocketProvider } from '../../lib';
import type { TestPki } from '../../scripts/certs';
import { OpensslProcess } from './openssl';
import { RecordingUser } from './recording-user';

/** A DTLS context for one side with this ALPN list (null: no setAlpnProtocols); a client trusts the test CA. */
export function alpnDtlsContext(tls: ISocketProvider, pki: TestPki, side: 'server' | 'client', alpn: string[] | null): ISocketContext {
  const ctx = tls.createSocketContext();
  ctx.enableDtls();
  if (side === 'server') ctx.setServerCertificate(pki.server);
  else ctx.setCertificateAuthority(pki.ca);
  if (alpn) ctx.setAlpnProtocols(alpn);
  return ctx;
}

/** A user that keeps one recv pending on its DTLS socket from the upgrade on. */
export function receivingUser(label: string): RecordingUser {
  return new RecordingUser(label)
    .on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(4096)))
    .on('socketRecvFromResult', (s, buf: Uint8Array) => s.recv(buf));
}

/** The text of every datagram `u` received on `s`, concatenated. */
export function receivedText(u: RecordingUser, s: ISocket): string {
  return u
    .eventsOf('socketRecvFromResult', s)
    .map((e) => String(e.data))
    .join('');
}

/** For a failed wait's `.catch`: adds what `proc` said to the error. */
export function withOpensslOutput(proc: OpensslProcess): (e: Error) => never {
  return (e: Error) => {
    throw new Error(`${e.message}\n${proc.describe()}`);
  };
}
