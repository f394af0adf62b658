import { chmodSync, lstat, unlink } from 'node:fs';
import { connect, createServer, Server, Socket } from 'node:net';
import { LogFlag, SocketOptions } from '../api';
import { isAddressError, ParseResult } from '../core/address';
import type { DirectRead } from '../core/direct-read';
import { Endpoint, ResolvedEndpoint, SecureRole, StreamTransport } from '../core/endpoint';
import { parseLocalAddress } from '../core/local-address';

/** Default mode of a bound socket file: every local user may connect (the seed's behaviour). */
export const DEFAULT_FILE_MODE = 0o666;

/** An error with an errno-style code, for the reason mapping. */
function codeError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * Local sockets over Node's `net` pipes: Unix domain sockets (a path, or a Linux abstract
 * name), named pipes on Windows. Binding replaces a stale socket file, never anything else.
 */
export const localTransport: StreamTransport = {
  type: 'local',
  flag: LogFlag.Local,

  checkOptions(options: SocketOptions): void {
    const mode = options.fileMode;
    if (mode !== undefined && (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o777)) {
      throw new RangeError(`fileMode: expected a file mode 0..0o777, got ${String(mode)}`);
    }
  },

  parseConnect(address: string): ParseResult<Endpoint> {
    const parsed = parseLocalAddress(address);
    return isAddressError(parsed) ? parsed : { path: parsed.path };
  },

  parseBind(localAddress: string | null | undefined): ParseResult<Endpoint> {
    if (localAddress === null || localAddress === undefined) return { error: 'a local socket binds to a path; none given' };
    const parsed = parseLocalAddress(localAddress);
    return isAddressError(parsed) ? parsed : { path: parsed.path };
  },

  readsDirectly: true,

  openConnection(endpoint: ResolvedEndpoint, _options: SocketOptions, _role: SecureRole, onread: DirectRead): { socket: Socket; ready: string } {
    if (!('path' in endpoint)) throw new TypeError('a local socket connects to a path');
    return { socket: connect({ path: endpoint.path, allowHalfOpen: true, onread }), ready: 'connect' };
  },

  createServer(): Server {
    return createServer({ allowHalfOpen: true, pauseOnConnect: true });
  },

  prepareBind(endpoint: ResolvedEndpoint, done: (err: NodeJS.ErrnoException | null) => void): void {
    if (!('path' in endpoint) || endpoint.path[0] === '\0' || process.platform === 'win32') {
      done(null); // abstract names and pipes leave no file behind
      return;
    }
    const path = endpoint.path;
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

  afterBind(endpoint: ResolvedEndpoint, options: SocketOptions): NodeJS.ErrnoException | null {
    if (!('path' in endpoint) || endpoint.path[0] === '\0' || process.platform === 'win32') return null;
    try {
      // Node's readableAll/writableAll give 0777; the contract asks 0666 unless narrowed.
      chmodSync(endpoint.path, options.fileMode ?? DEFAULT_FILE_MODE);
      return null;
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
  },
};
