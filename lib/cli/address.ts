import { isIPv6 } from 'node:net';

/** Where `listen` binds: host null for all interfaces. */
export interface ListenAddress {
  host: string | null;
  port: number;
  ipv6: boolean;
}

/**
 * Parses a listen address: `HOST:PORT`, `[V6]:PORT` or `:PORT`, port 0–65535. Returns a
 * sentence instead when it is malformed (the tool then ends as SOCKET_ADDRESS_INVALID, like
 * a malformed connect address the library refuses). The host itself is checked by `bind()`.
 */
export function parseListenAddress(text: string): ListenAddress | string {
  const colon = text.lastIndexOf(':');
  if (colon < 0) return `missing port in ${JSON.stringify(text)} (HOST:PORT, [IPv6]:PORT or :PORT)`;
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) return `malformed port ${JSON.stringify(portText)}`;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) return `an IPv6 address with a port must be bracketed: ${JSON.stringify(text)}`;
  return { host: host === '' ? null : host, port: Number(portText), ipv6: isIPv6(host) };
}

/** The family a connect address asks for: a bracketed host is IPv6, anything else IPv4. */
export function isIpv6ConnectAddress(text: string): boolean {
  return text.startsWith('[');
}

/** A local socket address from the command line: `@NAME` is `\0NAME`, Linux's abstract namespace. */
export function localSocketAddress(text: string): string {
  return text.startsWith('@') ? `\0${text.slice(1)}` : text;
}

/** `host:port`, bracketed for IPv6; a path alone for local sockets (port 0). */
export function formatAddress(host: string, port: number, local: boolean): string {
  if (local) return host.startsWith('\0') ? `@${host.slice(1)}` : host;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
