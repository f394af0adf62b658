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
  /** Called with the Node socket as `this`. */
  callback: (this: Socket, bytes: number, buffer: Uint8Array) => boolean;
}

export function directRead(callback: (this: Socket, bytes: number, buffer: Uint8Array) => boolean): DirectRead {
  return { buffer: SCRATCH, callback };
}

/** Node's socket internals this relies on, for an accepted connection (see {@link readDirectly}). */
interface SocketInternals {
  _handle?: { useUserBuffer?: (buffer: Uint8Array) => void; reading?: boolean } | null;
}

/** The private symbols under which a Node socket keeps its `onread` settings; null if not found. */
let onreadSymbols: { buffer: symbol; callback: symbol } | null | undefined;

function findOnreadSymbols(sock: Socket): { buffer: symbol; callback: symbol } | null {
  const byName = new Map(Object.getOwnPropertySymbols(sock).map((s) => [s.description, s]));
  const buffer = byName.get('kBuffer');
  const callback = byName.get('kBufferCb');
  return buffer && callback ? { buffer, callback } : null;
}

/**
 * Switches an accepted connection to `onread` before its first read. Node's server makes its
 * sockets without `onread` (it has no such option); the settings `onread` would have given
 * the socket are set the way its constructor sets them, while the connection is still held
 * paused (`pauseOnConnect`), so no byte was read the other way. Returns false, changing
 * nothing, where Node's internals are not as expected: the 'data' path then serves it.
 *
 * `whileReading`: a TLS socket whose handshake our side did not start with `onread` (an
 * accepted connection, a STARTTLS upgrade) already reads: its TLS layer delivered the
 * handshake itself. Switching it is safe between two reads — this runs in JavaScript, so no
 * read is under way — as long as no decrypted byte is waiting in the stream
 * (`readableLength` 0): every byte from then on goes to `onread`, none before it is lost.
 */
export function readDirectly(sock: Socket, onread: DirectRead, whileReading = false): boolean {
  onreadSymbols ??= findOnreadSymbols(sock);
  const internals = sock as unknown as SocketInternals & Record<symbol, unknown>;
  const handle = internals._handle;
  const symbols = onreadSymbols;
  if (!symbols || !handle || typeof handle.useUserBuffer !== 'function' || (handle.reading && !whileReading) || sock.readableLength > 0) return false;
  if (internals[symbols.buffer] !== null || internals[symbols.callback] !== null) return false;
  internals[symbols.buffer] = onread.buffer;
  internals[symbols.callback] = onread.callback;
  handle.useUserBuffer(onread.buffer);
  return true;
}
