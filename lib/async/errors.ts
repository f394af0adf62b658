/**
 * The errors the async layer rejects with, and the small helpers every awaitable shares: the
 * AbortSignal check and listener, and a FIFO of waiters.
 */
import { ShutdownReason } from '../api';

/**
 * A promise of the async layer rejected because the socket ended: its {@link reason}, and the
 * last network or TLS error it saw. Also the error of a `connect()`, `listen()` or `startTls()`
 * that failed (`reason` tells why: `SOCKET_CONNECT_REJECTED`, `SOCKET_TLS_HANDSHAKE_FAILED`, …).
 */
export class SocketClosedError extends Error {
  /** Always `'ERR_SOCKET_CLOSED'`: test `reason` for why. */
  readonly code = 'ERR_SOCKET_CLOSED';
  /** Why the socket ended (the `ShutdownReason` its `closed` promise resolves with). */
  readonly reason: ShutdownReason;
  /** The socket's `stats().lastErrorCode` when it ended (`ECONNRESET`, `ERR_TLS_CERT_ALTNAME_INVALID`, …), or null. */
  readonly lastErrorCode: string | null;
  /**
   * An exact `read(n)` that the end cut short: the bytes it did get (fewer than `n`, maybe
   * none), so that nothing received is lost. Null for every other operation.
   */
  readonly partial: Buffer | null;

  /**
   * Made by the async layer; apps test `reason`.
   * @param reason why the socket ended
   * @param lastErrorCode the socket's last error code, or null
   * @param what the operation that was cut short (for the message)
   * @param partial an exact read's bytes, or null
   */
  constructor(reason: ShutdownReason, lastErrorCode: string | null, what: string, partial: Buffer | null = null) {
    super(`${what}: the socket ended (${reason}${lastErrorCode ? `, ${lastErrorCode}` : ''})`);
    this.name = 'SocketClosedError';
    this.reason = reason;
    this.lastErrorCode = lastErrorCode;
    this.partial = partial;
  }
}

/**
 * An awaitable cancelled by its `AbortSignal`, as Node's own (`name === 'AbortError'`,
 * `code === 'ABORT_ERR'`, the signal's reason as `cause`).
 */
export class AbortError extends Error {
  /** Always `'ABORT_ERR'`, as Node's AbortError. */
  readonly code = 'ABORT_ERR';

  /**
   * Made by the async layer when a signal aborts a pending call.
   * @param what the operation that was aborted (for the message)
   * @param cause the signal's `reason`
   */
  constructor(what: string, cause?: unknown) {
    super(`${what}: the operation was aborted`, { cause });
    this.name = 'AbortError';
  }
}

/** Checks an options object's `signal`; returns it (or undefined). */
export function checkSignal(what: string, signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new TypeError(`${what}: options.signal must be an AbortSignal`);
  return signal;
}

const noop = (): void => undefined;

/** Calls `fn` once when `signal` aborts; returns what removes the listener (call it when settled). */
export function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return noop;
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}

/** One pending promise of the layer: settle it once, then its abort listener is gone. */
export interface Waiter<T> {
  settled: boolean;
  resolve(value: T): void;
  reject(err: unknown): void;
}

/**
 * A promise with an AbortSignal attached: `abort()` runs (once) if the signal fires first, and
 * the listener is removed however the promise settles.
 */
export function waiter<T>(what: string, signal: AbortSignal | undefined, abort: (w: Waiter<T>) => void): { w: Waiter<T>; promise: Promise<T> } {
  let w!: Waiter<T>;
  const promise = new Promise<T>((resolve, reject) => {
    let dispose = noop;
    w = {
      settled: false,
      resolve(value) {
        if (w.settled) return;
        w.settled = true;
        dispose();
        resolve(value);
      },
      reject(err) {
        if (w.settled) return;
        w.settled = true;
        dispose();
        reject(err);
      },
    };
    if (signal?.aborted) {
      w.reject(new AbortError(what, signal.reason));
      return;
    }
    dispose = onAbort(signal, () => {
      if (w.settled) return;
      abort(w);
      w.reject(new AbortError(what, signal!.reason));
    });
  });
  return { w, promise };
}

/** Whether a socket end is a clean one (the peer closed, or we did): reads then see the end, not an error. */
export function cleanEnd(reason: ShutdownReason): boolean {
  return reason === ShutdownReason.ByPeer || reason === ShutdownReason.Normal;
}

/** Bytes to send: a string is UTF-8. */
export function toBytes(what: string, data: Uint8Array | string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (!(data instanceof Uint8Array)) throw new TypeError(`${what}: expected a Uint8Array or a string`);
  return data;
}
