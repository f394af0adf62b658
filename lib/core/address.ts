import { isIPv4, isIPv6 } from 'node:net';
import { lookup } from 'node:dns';

/** A parsed `host:port`: an IP literal of the socket's family, or a name still to resolve. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
  /** `ip` when `host` is a literal, `name` when it must be resolved. */
  readonly kind: 'ip' | 'name';
}

/** Why an address was refused: a sentence for the log. */
export interface AddressError {
  error: string;
}

export type ParseResult<T> = T | AddressError;

export function isAddressError<T>(r: ParseResult<T>): r is AddressError {
  return typeof (r as AddressError).error === 'string';
}

const PORT_RE = /^[0-9]{1,5}$/;
// A host whose last label is a number (decimal, or 0x and hex digits) is what inet_aton and the
// WHATWG URL standard read as an IPv4 number, in any of its forms (0x7f000001, 0x7f.1, 127.1).
const NUMERIC_LAST_LABEL_RE = /(^|\.)(0x[0-9a-f]*|[0-9]+)\.?$/i;
// RFC 1123 labels: letters, digits, hyphens, not starting or ending with a hyphen.
const HOST_NAME_RE = /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

function checkHost(host: string, ipv6: boolean): ParseResult<{ host: string; kind: 'ip' | 'name' }> {
  // Only an IPv6 address has a colon: the (long) IPv6 check runs for those alone.
  if (host.includes(':') && isIPv6(host)) {
    return ipv6 ? { host, kind: 'ip' } : { error: `IPv6 address ${host} on an IPv4 socket` };
  }
  if (NUMERIC_LAST_LABEL_RE.test(host)) {
    // A numeric host is meant as IPv4; only the dotted quad is taken. The resolver would accept
    // the short, hex and octal forms too and turn them into an address the user never wrote.
    if (!isIPv4(host)) return { error: `malformed IPv4 address ${host} (only a dotted quad of decimal numbers is an IPv4 host)` };
    return ipv6 ? { error: `IPv4 address ${host} on an IPv6 socket` } : { host, kind: 'ip' };
  }
  if (!HOST_NAME_RE.test(host)) return { error: `malformed host ${JSON.stringify(host)}` };
  return { host, kind: 'name' };
}

/**
 * Parses a connect address: `a.b.c.d:port`, `[v6]:port` or `name:port`, port 1–65535.
 * An IPv6 address with a port must be bracketed; the family must match `ipv6`.
 */
export function parseHostPort(address: string, ipv6: boolean): ParseResult<HostPort> {
  // A client connects to the same address over and over: the last good parse is kept (the
  // results are never changed by their users).
  if (typeof address === 'string' && address === lastParsed.address && ipv6 === lastParsed.ipv6) return lastParsed.result;
  const result = parse(address, ipv6);
  if (!isAddressError(result)) lastParsed = { address, ipv6, result };
  return result;
}

let lastParsed: { address: unknown; ipv6: boolean; result: HostPort } = { address: undefined, ipv6: false, result: { host: '', port: 0, kind: 'ip' } };

function parse(address: string, ipv6: boolean): ParseResult<HostPort> {
  if (typeof address !== 'string' || address.length === 0) return { error: 'empty address' };
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0) return { error: `unclosed '[' in ${JSON.stringify(address)}` };
    host = address.slice(1, close);
    if (!isIPv6(host)) return { error: `malformed IPv6 address ${JSON.stringify(host)}` };
    if (address[close + 1] !== ':') return { error: missingPort(address) };
    portText = address.slice(close + 2);
  } else {
    const colon = address.lastIndexOf(':');
    if (colon < 0) return { error: missingPort(address) };
    host = address.slice(0, colon);
    if (host.includes(':')) return { error: `IPv6 address with a port must be bracketed: ${JSON.stringify(address)}` };
    portText = address.slice(colon + 1);
  }
  if (!PORT_RE.test(portText)) return { error: `malformed port ${JSON.stringify(portText)}` };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { error: `port ${port} outside 1-65535` };
  const checked = checkHost(host, ipv6);
  if (isAddressError(checked)) return checked;
  return { host: checked.host, port, kind: checked.kind };
}

/** A connect address without a port: say how to write one (`connect('localhost')` → `"localhost:PORT"`). */
function missingPort(address: string): string {
  const host = address.startsWith('[') || !address.includes(':') ? address : `[${address}]`;
  return `missing port in ${JSON.stringify(address)}: connect() takes one string "host:port"; write ${JSON.stringify(`${host}:PORT`)}`;
}

/**
 * Parses a bind address (no port): null/empty for all interfaces, an IP literal (IPv6 with or
 * without brackets) or a name.
 */
export function parseBindHost(localAddress: string | null | undefined, ipv6: boolean): ParseResult<{ host: string; kind: 'ip' | 'name' }> {
  if (localAddress === null || localAddress === undefined || localAddress === '') {
    return { host: ipv6 ? '::' : '0.0.0.0', kind: 'ip' };
  }
  const host = localAddress.startsWith('[') && localAddress.endsWith(']') ? localAddress.slice(1, -1) : localAddress;
  return checkHost(host, ipv6);
}

/** Resolves a name to one address of the socket's family; literals come back as they are. */
export function resolveHost(host: string, kind: 'ip' | 'name', ipv6: boolean, done: (err: NodeJS.ErrnoException | null, address: string) => void): void {
  if (kind === 'ip') {
    done(null, host);
    return;
  }
  lookup(host, { family: ipv6 ? 6 : 4 }, (err, address) => done(err, address));
}

/** `a.b.c.d:port` or `[v6]:port`, for log lines. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
