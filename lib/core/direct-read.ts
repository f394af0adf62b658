import { Socket } from 'node:net';

/**
 * Reading a plain (TCP or local) Node socket with `onread` instead of 'data' events.
 *
 * With `onread`, Node reads into a buffer we give it and calls us with the byte count: no
 * Buffer is allocated per read and the Readable stream machinery (buffering, 'data' events,
 * the ticks behind them) is skipped. One scratch buffer serves every socket: libuv reads one
 * handle at a time on this thread and the callback consumes the bytes before it returns, so
 * no read can overwrite bytes still needed. The receive buffer copies them straight into the
 * app's pending recv, or keeps a copy as read-ahead.
 */

/** Node reads at most 64 KiB per read on its own; the same here. */
const SCRATCH = Buffer.allocUnsafeSlow(64 * 1024);

/** What `onread` takes: our callback gets the byte count; returning false stops reading. */
export interface DirectRead {
  buffer: Uint8Array;
  callback: (bytes: number, buffer: Uint8Array) => boolean;
}

export function directRead(callback: (bytes: number, buffer: Uint8Array) => boolean): DirectRead {
  return { buffer: SCRATCH, callback };
}

/** Node's socket internals this relies on, for an accepted connection (see {@link readDirectly}). */
interface SocketInternals {
  _handle?: { useUserBuffer?: unknown } | null;
}

/**
 * An accepted connection read with `onread`. Node's server makes its sockets without
 * `onread` (it has no such option), so the connection's handle moves to a new `net.Socket`
 * made with it, and the server's one is destroyed empty (which keeps the server's own count
 * right). Returns `sock` unchanged where Node's internals are not as expected: the 'data'
 * path then serves it as before.
 */
export function readDirectly(sock: Socket, onread: DirectRead, allowHalfOpen: boolean): Socket {
  const internals = sock as unknown as SocketInternals;
  const handle = internals._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function' || sock.destroyed || sock.listenerCount('data') > 0) return sock;
  internals._handle = null;
  const direct = new Socket({ handle, allowHalfOpen, onread } as unknown as ConstructorParameters<typeof Socket>[0]);
  sock.destroy();
  return direct;
}
