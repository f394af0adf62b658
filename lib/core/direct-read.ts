import type { Socket } from 'node:net';
import { setOnread } from './node-internals';

/**
 * Reading a plain (TCP or local) Node socket with `onread` instead of 'data' events.
 *
 * With `onread`, Node reads into a buffer we give it and calls us with the byte count: no
 * Buffer is allocated per read and the Readable stream machinery (buffering, 'data' events,
 * the ticks behind them) is skipped. One scratch buffer serves every socket: libuv reads one
 * handle at a time on this thread and the callback consumes the bytes before it returns, so
 * no read can overwrite bytes still needed. The receive buffer copies them straight into the
 * app's pending recv, or keeps a copy as read-ahead.
 *
 * Sockets we make pass `onread` to `net.connect`/`tls.connect` (a public option). Sockets Node
 * makes (accepted connections, the TLSSocket around an accepted or upgraded socket) are
 * switched through Node's private fields: `setOnread` in node-internals.ts, entry 1, with its
 * detection and fallback ('data' events).
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

/**
 * Switches a connection Node made to `onread` before its first read: an accepted connection
 * while it is still held paused (`pauseOnConnect`), so no byte was read the other way. Returns
 * false, changing nothing, where Node's internals are not as expected or the fast path is off
 * on this Node line (node-internals.ts, entry 1): the 'data' path then serves it.
 *
 * `whileReading`: a TLS socket whose handshake our side did not start with `onread` (an
 * accepted connection, a STARTTLS upgrade) already reads: its TLS layer delivered the
 * handshake itself. Switching it is safe between two reads — this runs in JavaScript, so no
 * read is under way — as long as no decrypted byte is waiting in the stream
 * (`readableLength` 0): every byte from then on goes to `onread`, none before it is lost.
 */
export function readDirectly(sock: Socket, onread: DirectRead, whileReading = false): boolean {
  return setOnread(sock, onread.buffer, onread.callback, whileReading);
}
