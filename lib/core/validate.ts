/**
 * Argument checks shared by every transport. Bad arguments are programming errors: they
 * throw at once, before anything about the socket changes.
 */
import { SocketErrorCode, SocketStateError } from '../errors';

/** `data` must be a Uint8Array (Buffer included); returns the byte count to use. */
export function checkBuffer(what: string, data: unknown, len: unknown): number {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`${what}: expected a Uint8Array, got ${describe(data)}`);
  }
  if (len === undefined) {
    if (data.byteLength === 0) throw new RangeError(`${what}: the buffer is empty`);
    return data.byteLength;
  }
  if (typeof len !== 'number') throw new TypeError(`${what}: len must be a number, got ${describe(len)}`);
  if (!Number.isInteger(len) || len < 1 || len > data.byteLength) {
    throw new RangeError(`${what}: len ${len} is outside 1..${data.byteLength}`);
  }
  return len;
}

/** A port number 0–65535; `undefined` means 0. */
export function checkPort(what: string, port: unknown): number {
  if (port === undefined) return 0;
  if (typeof port !== 'number') throw new TypeError(`${what}: port must be a number, got ${describe(port)}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${what}: port ${port} is outside 0..65535`);
  }
  return port;
}

/** A string argument (addresses, names). */
export function checkString(what: string, value: unknown, optional = false): void {
  if (optional && (value === undefined || value === null)) return;
  if (typeof value !== 'string') throw new TypeError(`${what}: expected a string, got ${describe(value)}`);
}

/**
 * `connect(address, serverName)`'s arguments: two strings (`serverName` optional). A `net`-style
 * call, `connect('127.0.0.1', 80)`, is told that the address is one string `"host:port"`.
 */
export function checkConnectArgs(address: unknown, serverName: unknown): void {
  const hint = connectHint(address, serverName);
  if (typeof address !== 'string') throw new TypeError(`connect(address, serverName): address must be a string, got ${describe(address)}; ${hint}`);
  if (serverName === undefined || serverName === null || typeof serverName === 'string') return;
  throw new TypeError(`connect(address, serverName): serverName must be a string (the TLS name), got ${describe(serverName)}; ${hint}`);
}

function connectHint(address: unknown, port: unknown): string {
  const example = typeof address === 'string' && typeof port === 'number' ? `${address.includes(':') ? `[${address}]` : address}:${port}` : '127.0.0.1:80';
  return `the address is one string "host:port", e.g. connect(${JSON.stringify(example)})`;
}

/** A user object: anything with a `socketShutdown` method. */
export function checkUser(what: string, user: unknown): void {
  if (typeof user !== 'object' || user === null || typeof (user as { socketShutdown?: unknown }).socketShutdown !== 'function') {
    throw new TypeError(`${what}: the user must be an object with a socketShutdown method, got ${describe(user)}`);
  }
}

/** A whole-number option of at least `min`, or its default when absent. */
export function checkCount(what: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${what}: expected a whole number >= ${min}, got ${describe(value)}`);
  }
  return value;
}

/**
 * A time-out option in milliseconds: a whole number >= 0, or its default when absent. 0 means
 * no limit (arm it with `armTimeout` in `core/timeout.ts`, which arms nothing for 0).
 */
export function checkTimeout(what: string, value: unknown, fallback: number): number {
  return checkCount(what, value, fallback, 0);
}

/**
 * Platforms where libuv gives `reusePort` its load-balancing meaning (Linux 3.9+, FreeBSD 12+,
 * Solaris 11.4, AIX 7.2.5+); elsewhere (Windows, macOS, other BSDs) Node's bind fails with ENOTSUP.
 */
const REUSE_PORT_PLATFORMS: readonly string[] = ['linux', 'android', 'freebsd', 'sunos', 'aix'];

/**
 * Why `reusePort` cannot work in this process, or null when it can. Node added the option to
 * `net` listen and `dgram.createSocket` in 23.1.0 and 22.12.0; an older Node ignores it without
 * a word (it validates nothing about an option it does not know, so no synchronous feature test
 * exists: checked on 20, 22, 24 and 26), which would leave one process serving alone. So the
 * Node version decides whether the option reaches libuv, and `process.platform` whether libuv can
 * honour it; an old kernel that still refuses it fails the bind (`SOCKET_BIND_FAILED`, ENOTSUP in
 * the log). `spec/multicore/` checks this answer against a real double bind on each Node line.
 */
export function reusePortUnavailable(nodeVersion: string = process.versions.node, platform: string = process.platform): string | null {
  const [major, minor] = nodeVersion.split('.').map(Number);
  const known = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
  if (!known) return `Node.js ${nodeVersion} has no reusePort (it came in 22.12.0 and 23.1.0)`;
  if (!REUSE_PORT_PLATFORMS.includes(platform)) return `${platform} has no load-balancing SO_REUSEPORT that Node can use`;
  return null;
}

/**
 * The `reusePort` option: a boolean; `true` only where it works (see {@link reusePortUnavailable})
 * and on sockets that have ports. Returns whether it is on.
 * @throws TypeError if it is not a boolean; SocketStateError `ERR_SOCKET_REUSEPORT_UNAVAILABLE`
 */
export function checkReusePort(type: string, value: unknown): boolean {
  if (value === undefined || value === false) return false;
  if (value !== true) throw new TypeError(`reusePort: expected a boolean, got ${describe(value)}`);
  if (type === 'local')
    throw new SocketStateError(SocketErrorCode.ReusePortUnavailable, 'reusePort: a local socket has no port to share (give each process its own path)');
  const why = reusePortUnavailable();
  if (why !== null) throw new SocketStateError(SocketErrorCode.ReusePortUnavailable, `reusePort: ${why}`);
  return true;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return `${typeof value} ${String(value)}`;
}
