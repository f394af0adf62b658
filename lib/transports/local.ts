import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, lstat, lstatSync, unlink, unlinkSync } from 'node:fs';
import { connect, createServer, Server, Socket } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { LogFlag, SocketOptions } from '../api';
import { isAddressError, ParseResult } from '../core/address';
import type { DirectRead } from '../core/direct-read';
import { DEFAULT_FILE_MODE } from '../core/defaults';
import { maxLocalPathBytes, parseLocalAddress } from '../core/local-address';
import { Address, Endpoint, ResolvedEndpoint, SecureRole, StreamDialer, StreamServer, StreamTransport } from '../core/stream/transport';

/** An error with an errno-style code, for the reason mapping. */
function codeError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * Where a listener binds a socket file: `path` as written (it is what `socketBindResult`
 * reports) and `file`, the absolute path resolved against the working directory at the moment
 * of `bind()`. Everything that touches the file uses `file`, so a later `chdir` moves nothing.
 */
interface SocketFileEndpoint {
  path: string;
  file: string;
}

/** The absolute socket file of a bind endpoint; null for abstract names and named pipes. */
function socketFileOf(endpoint: ResolvedEndpoint | undefined): string | null {
  const file = endpoint && 'path' in endpoint ? (endpoint as Partial<SocketFileEndpoint>).file : undefined;
  return typeof file === 'string' ? file : null;
}

/** Connecting to a local socket: a path, a Linux abstract name, or a Windows named pipe. */
const localDialer: StreamDialer = {
  parseConnect(address: string): ParseResult<Endpoint> {
    const parsed = parseLocalAddress(address);
    return isAddressError(parsed) ? parsed : { path: parsed.path };
  },

  dial(endpoint: ResolvedEndpoint, _options: SocketOptions, _role: SecureRole, onread: DirectRead): { socket: Socket; ready: string } {
    if (!('path' in endpoint)) throw new TypeError('a local socket connects to a path');
    return { socket: connect({ path: endpoint.path, allowHalfOpen: true, onread }), ready: 'connect' };
  },
};

/**
 * Listening on a local socket. Binding replaces a stale socket file, never anything else;
 * shutdown removes the socket file the listener created, never anything else. Accepted
 * connections have no addresses: the listener's path stands in for the local one, `''` for the peer.
 */
const localServer: StreamServer = {
  parseBind(localAddress: string | null | undefined): ParseResult<Endpoint> {
    if (localAddress === null || localAddress === undefined) return { error: 'a local socket binds to a path; none given' };
    const parsed = parseLocalAddress(localAddress);
    if (isAddressError(parsed)) return parsed;
    if (parsed.kind !== 'path') return { path: parsed.path };
    // Resolved now, inside bind(): the working directory of the call, not of a later callback.
    const endpoint: SocketFileEndpoint = { path: parsed.path, file: resolve(parsed.path) };
    return endpoint;
  },

  createServer(options: SocketOptions, endpoint: ResolvedEndpoint): Server {
    const file = socketFileOf(endpoint);
    if (file === null) return createServer({ allowHalfOpen: true, pauseOnConnect: true }); // abstract names and pipes: no file
    return new SocketFileServer(file, options.fileMode ?? DEFAULT_FILE_MODE);
  },

  acceptedAddresses(bound: Address): { local: Address; remote: Address } {
    return { local: bound, remote: { address: '', port: 0 } };
  },

  prepareBind(endpoint: ResolvedEndpoint, done: (err: NodeJS.ErrnoException | null) => void): void {
    const path = socketFileOf(endpoint);
    if (path === null) {
      done(null); // abstract names and pipes leave no file behind
      return;
    }
    lstat(path, (statErr, stats) => {
      if (statErr) {
        done(statErr.code === 'ENOENT' ? null : statErr);
        return;
      }
      if (!stats.isSocket()) {
        // Never delete what is not a socket: it is somebody's file.
        done(codeError('EEXIST', `${path} exists and is not a socket; it is left alone`));
        return;
      }
      // A socket file: live if someone accepts on it, stale if the connect is refused.
      const probe = connect({ path });
      probe.once('connect', () => {
        probe.destroy();
        done(codeError('EADDRINUSE', `${path} is a live socket: another process listens on it`));
      });
      probe.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ECONNREFUSED') {
          done(err);
          return;
        }
        unlink(path, (unlinkErr) => done(unlinkErr && unlinkErr.code !== 'ENOENT' ? unlinkErr : null));
      });
    });
  },
};

/** Local sockets over Node's `net` pipes: Unix domain sockets (a path, or a Linux abstract name), named pipes on Windows. */
export const localTransport: StreamTransport = {
  type: 'local',
  flag: LogFlag.Local,
  dialer: localDialer,
  server: localServer,

  checkOptions(options: SocketOptions): void {
    const mode = options.fileMode;
    if (mode !== undefined && (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o777)) {
      throw new RangeError(`fileMode: expected a file mode 0..0o777, got ${String(mode)}`);
    }
  },
};

/** The identity of the socket file a listener created: removed at shutdown only if still there. */
interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

/**
 * A `net.Server` for a socket file that removes, at shutdown, only the file it created.
 *
 * libuv unlinks the path a pipe was bound to when the listening handle closes, whatever is at
 * that path by then, and Node has no option against it. So the server never binds the real
 * path: it binds a fresh staging name in the same directory, sets the file mode there, gives
 * the socket its real name with `link()` (which never replaces an existing file: a path taken
 * meanwhile fails the bind) and unlinks the staging name. libuv's unlink at close then hits
 * the staging name, which is gone; the real file is removed by {@link close} after checking
 * that it is still this socket (same device and inode, still a socket).
 *
 * Only when no staging name fits the `sun_path` limit (a path within a few bytes of it with a
 * short file name) does it bind the real path directly, and libuv's unlink at close stays.
 */
class SocketFileServer extends Server {
  private own: FileIdentity | null = null;

  constructor(
    /** The absolute path of the socket file. */
    private readonly file: string,
    private readonly mode: number,
  ) {
    super({ allowHalfOpen: true, pauseOnConnect: true });
  }

  // Node's overloads of listen(): the listener calls listen({ path, backlog, exclusive }).
  override listen(...args: any[]): this {
    const options: unknown = args[0];
    if (typeof options !== 'object' || options === null || !('path' in options)) return super.listen(...args);
    const staging = stagingName(this.file);
    const bindPath = staging ?? fitting(this.file);
    super.listen({ ...options, path: bindPath ?? this.file }, ...args.slice(1));
    // The listener passes exclusive: true, so Node binds at once (in a cluster worker too).
    if (!this.listening) return this; // Node reports why on the next tick
    try {
      if (staging === null) {
        chmodSync(this.file, this.mode);
        this.own = identity(this.file);
        return this;
      }
      const stagingFile = resolve(staging);
      chmodSync(stagingFile, this.mode); // the socket appears at its real name with its final mode
      const own = identity(stagingFile);
      linkOrExplain(stagingFile, this.file);
      this.own = own;
      unlinkSync(stagingFile);
    } catch (err) {
      this.close();
      process.nextTick(() => this.emit('error', err));
    }
    return this;
  }

  override close(callback?: (err?: Error) => void): this {
    const own = this.own;
    this.own = null;
    // Before the handle closes, as libuv does: a socket bound at this path after our close is not ours to remove.
    if (own) removeIfSame(this.file, own);
    return super.close(callback);
  }
}

function identity(path: string): FileIdentity {
  const st = lstatSync(path, { bigint: true });
  return { dev: st.dev, ino: st.ino };
}

/** Unlinks `path` if it is still the socket `own`; anything else there is somebody's file. */
function removeIfSame(path: string, own: FileIdentity): void {
  try {
    const st = lstatSync(path, { bigint: true });
    if (st.isSocket() && st.dev === own.dev && st.ino === own.ino) unlinkSync(path);
  } catch {
    // Gone already, or out of reach: nothing of ours to remove.
  }
}

/** `link(from, to)`; a `to` that appeared since the stale-file check is explained as a bind error. */
function linkOrExplain(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let socket = false;
    try {
      socket = lstatSync(to).isSocket();
    } catch {
      // vanished again: still taken a moment ago
    }
    throw socket
      ? codeError('EADDRINUSE', `${to} became a socket of someone else while binding`)
      : codeError('EEXIST', `${to} appeared while binding and is not a socket; it is left alone`);
  }
}

/** `path` in a form short enough for `sun_path`: itself, else relative to the working directory now; null if neither fits. */
function fitting(path: string): string | null {
  const max = maxLocalPathBytes(process.platform);
  if (Buffer.byteLength(path) <= max) return path;
  const rel = relative(process.cwd(), path);
  return Buffer.byteLength(rel) <= max ? rel : null;
}

/** A fresh, unguessable name beside `file` to bind first, in a form that fits `sun_path`; null if none does. */
function stagingName(file: string): string | null {
  const dir = dirname(file);
  const random = randomBytes(12).toString('hex');
  for (let len = 16; len >= 6; len -= 2) {
    const path = fitting(join(dir, `.sp-${random.slice(0, len)}`));
    if (path !== null) return path;
  }
  return null;
}
