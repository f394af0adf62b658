import { ShutdownReason } from '../api';

/** The phase a socket was in when an OS error hit it: the same errno means different things in each. */
export type ErrorPhase = 'connect' | 'handshake' | 'bind' | 'listen' | 'accept' | 'established';

const OPEN_FAILED = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EAFNOSUPPORT', 'EPROTONOSUPPORT']);
const CONNECT_REJECTED = new Set(['ECONNREFUSED']);
const BIND_IN_USE = new Set(['EADDRINUSE']);
const ADDRESS_INVALID = new Set(['ERR_INVALID_ADDRESS', 'ERR_INVALID_IP_ADDRESS', 'ENAMETOOLONG']);
/** The fatal `no_application_protocol` alert, seen from either side. */
const NO_ALPN = new Set(['ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'ERR_SSL_NO_APPLICATION_PROTOCOL']);

/**
 * Every code this module maps by name, for spec/core/os-errors-node.spec.ts: each one is
 * provoked for real (or looked up in Node's errno table) on every tested Node line, so a name
 * that a Node or OpenSSL upgrade changed fails there instead of mapping nothing here.
 */
export const MAPPED_CODES: readonly string[] = [...OPEN_FAILED, ...CONNECT_REJECTED, ...BIND_IN_USE, ...ADDRESS_INVALID, ...NO_ALPN];

/** The OS (or Node) error code carried by `err`, or `'UNKNOWN'`. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/**
 * Maps an OS error to the reason reported for it, by the phase it hit (docs/errors.md has
 * the table). Anything unrecognised gets the phase's general reason.
 */
export function reasonForError(err: unknown, phase: ErrorPhase): ShutdownReason {
  const code = errorCode(err);
  if (OPEN_FAILED.has(code) && phase !== 'established') return ShutdownReason.OpenFailed;
  if (ADDRESS_INVALID.has(code) && (phase === 'connect' || phase === 'bind')) return ShutdownReason.AddressInvalid;
  switch (phase) {
    case 'handshake':
      return NO_ALPN.has(code) ? ShutdownReason.AlpnSelectionFailed : ShutdownReason.TlsHandshakeFailed;
    case 'connect':
      return CONNECT_REJECTED.has(code) ? ShutdownReason.ConnectRejected : ShutdownReason.ConnectFailed;
    case 'bind':
      return BIND_IN_USE.has(code) ? ShutdownReason.AddrInUse : ShutdownReason.BindFailed;
    case 'listen':
      return ShutdownReason.ListenFailed;
    case 'accept':
      return ShutdownReason.AcceptFailed;
    case 'established':
      return ShutdownReason.Lost;
  }
}
