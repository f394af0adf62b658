import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { LogFlag, SocketOptions } from '../api';
import { StreamTransport } from '../core/stream/transport';

/** Bytes moved per push: the peer's buffer fills in steps, so a large send is held back too. */
const SLICE = 64 * 1024;

/** The error a pair end sees when the other end went away without closing cleanly (a "reset"). */
function reset(code: 'ECONNRESET' | 'EPIPE', why: string): NodeJS.ErrnoException {
  return Object.assign(new Error(why), { code });
}

/**
 * One end of an in-process byte pipe shaped like a Node socket, so the stream machinery
 * (send queue, read-ahead with backpressure, half-close, closing) runs over it unchanged.
 *
 * What it imitates of a kernel socket, and why:
 * - Bytes are copied on the way over and arrive in a later turn of the event loop
 *   (`setImmediate`, not `nextTick`: two ends that keep each other busy must still let timers
 *   and other sockets run): a send's memory is recycled once its write completes, and nothing
 *   the peer does may run inside the sender's call.
 * - Backpressure: bytes move in 64 KiB slices; when the peer's buffer (256 KiB, like a
 *   kernel's socket buffer) is full because its app is not reading, the rest of the write waits
 *   until the peer reads again, so the sender's `socketSendResult` waits as it would for a full
 *   TCP window, whatever the size of one send.
 * - `end()` is a FIN (the peer sees the end of stream after the data); destroying an end that
 *   has not finished writing is a reset (`ECONNRESET` at the peer).
 */
export class PairEnd extends Duplex {
  peer!: PairEnd;
  /** The peer's write that waits for this end to read. */
  private blockedWriter: ((err?: Error | null) => void) | null = null;

  constructor() {
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    const copy = Buffer.from(chunk);
    setImmediate(() => this.transfer(copy, 0, done));
  }

  /**
   * Moves `data` to the peer in slices of at most {@link SLICE} bytes; once the peer's buffer
   * is full, the rest waits for the peer to read (its `_read`), and the write completes when
   * the last slice is in.
   */
  private transfer(data: Buffer, offset: number, done: (err?: Error | null) => void): void {
    const peer = this.peer;
    if (peer.destroyed || peer.readableEnded) {
      done(reset('EPIPE', 'the other end of the socket pair is closed'));
      return;
    }
    while (offset < data.byteLength) {
      const end = Math.min(offset + SLICE, data.byteLength);
      const more = peer.push(data.subarray(offset, end));
      offset = end;
      if (!more) {
        peer.blockedWriter = (err) => (err ? done(err) : this.transfer(data, offset, done));
        return;
      }
    }
    done();
  }

  override _read(): void {
    const writer = this.blockedWriter;
    this.blockedWriter = null;
    writer?.();
  }

  override _final(done: (err?: Error | null) => void): void {
    // After every transfer queued before it (setImmediate keeps their order).
    setImmediate(() => {
      if (!this.peer.destroyed) this.peer.push(null);
      done();
    });
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    const peer = this.peer;
    const writer = this.blockedWriter;
    this.blockedWriter = null;
    const clean = this.writableFinished;
    setImmediate(() => {
      writer?.(reset('EPIPE', 'the other end of the socket pair is closed'));
      if (!clean && !peer.destroyed) peer.destroy(reset('ECONNRESET', 'the other end of the socket pair was closed without a clean end'));
    });
    done(err);
  }

  // What the stream machinery calls on a Node socket; an in-process pipe has no such options.
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
}

/** Two connected ends. */
export function makePair(): [Socket, Socket] {
  const a = new PairEnd();
  const b = new PairEnd();
  a.peer = b;
  b.peer = a;
  // The machinery types its Node socket as net.Socket; a PairEnd has every member it uses.
  return [a as unknown as Socket, b as unknown as Socket];
}

/**
 * The transport of socket-pair ends: type `local` (an in-process connection, like a Unix
 * socket pair), no addresses. Its sockets are connected when they are made: no dialer and no
 * server (`connect`/`bind` are refused by the mode lock first, as for any connected socket), and
 * `upgradeToTls` throws.
 */
export const pairTransport: StreamTransport = {
  type: 'local',
  flag: LogFlag.Local,
  // Node's TLS server side finds its plain socket by `_parent`, which a JS stream under a
  // TLSSocket does not set: the server end could not be matched to its handshake.
  cannotUpgrade: 'a socket-pair end cannot be upgraded to TLS (test TLS over a loopback TCP or local socket)',
  checkOptions(options: SocketOptions): void {
    if (options.context !== undefined) throw new TypeError('createSocketPair: a socket pair has no TLS context (upgrade an end with upgradeToTls instead)');
  },
};
