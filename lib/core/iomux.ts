import { SocketErrorCode, SocketStateError } from '../errors';
import { Dispatcher } from './dispatcher';

/** What the IoMux needs of a socket to shut it down. */
export interface Terminable {
  shutdown(): void;
}

/** How an IoMux delivers callbacks. */
export interface IoMuxOptions {
  /**
   * `'auto'` (default): callbacks run on their own, on `process.nextTick` after the event or
   * call that caused them. `'manual'`: they wait in the IoMux's queue until the app calls
   * {@link IoMux.poll} — for apps with their own frame loop (a game engine's
   * `RunCallbacks()`), which then get every callback on their own tick.
   */
  dispatch?: 'auto' | 'manual';
}

/**
 * Groups sockets: their callbacks share one dispatch queue (so their relative order is kept)
 * and `terminate()` shuts them all down. Sockets made without an `iomux` option use the
 * process-wide one.
 */
export class IoMux {
  /** @internal Runs the callbacks of every socket on this IoMux. */
  readonly dispatcher: Dispatcher;
  /** How this IoMux delivers callbacks (see {@link IoMuxOptions.dispatch}). */
  readonly dispatch: 'auto' | 'manual';
  private readonly sockets = new Set<Terminable>();
  private terminated = false;

  /**
   * @param options `{ dispatch: 'manual' }` for an IoMux whose callbacks run only inside {@link IoMux.poll}
   * @throws TypeError for an unknown `dispatch` value
   */
  constructor(options: IoMuxOptions = {}) {
    const dispatch = options.dispatch ?? 'auto';
    if (dispatch !== 'auto' && dispatch !== 'manual') {
      throw new TypeError(`IoMux: dispatch must be 'auto' or 'manual', not ${JSON.stringify(dispatch)}`);
    }
    this.dispatch = dispatch;
    this.dispatcher = new Dispatcher(dispatch === 'manual');
  }

  /**
   * Manual dispatch: runs the callbacks waiting for this IoMux's sockets, in the order they
   * were posted, and those they cause in turn, until none is left or `maxCallbacks` ran.
   * This is the only place a manual IoMux's callbacks run. A callback that throws stops the
   * poll and the exception leaves `poll()`; the callbacks behind it stay queued, in order.
   *
   * @param maxCallbacks at most this many callbacks (a positive integer); default: all
   * @returns how many callbacks ran
   * @throws SocketStateError `ERR_IOMUX_NOT_MANUAL` on an IoMux with automatic dispatch, or
   *   `ERR_IOMUX_POLL_REENTERED` when called from inside a callback that `poll()` is running
   * @throws RangeError if `maxCallbacks` is not a positive integer
   */
  poll(maxCallbacks?: number): number {
    if (this.dispatch !== 'manual') {
      throw new SocketStateError(SocketErrorCode.IoMuxNotManual, "IoMux.poll(): this IoMux dispatches on its own; make it with { dispatch: 'manual' }");
    }
    if (maxCallbacks !== undefined && (!Number.isInteger(maxCallbacks) || maxCallbacks < 1)) {
      throw new RangeError(`IoMux.poll(): maxCallbacks must be a positive integer, not ${String(maxCallbacks)}`);
    }
    if (this.dispatcher.isRunning) {
      throw new SocketStateError(SocketErrorCode.IoMuxPollReentered, 'IoMux.poll() called from inside a callback it is running');
    }
    return this.dispatcher.poll(maxCallbacks);
  }

  /**
   * Runs `callback` on this IoMux's callback queue, after the callbacks already waiting: never
   * inside the caller's own call, and with manual dispatch only inside {@link IoMux.poll}. For
   * layers built on the socket API (the message sockets use it to keep their callbacks in order
   * with the sockets'), and for app work that must run in order with socket callbacks. A
   * callback that throws is handled as a socket callback that throws.
   *
   * @throws TypeError if `callback` is not a function
   */
  post(callback: () => void): void {
    if (typeof callback !== 'function') throw new TypeError('IoMux.post(): expected a function');
    this.dispatcher.post(runCallback, undefined, callback);
  }

  /** Callbacks waiting to run (with manual dispatch: until the next {@link IoMux.poll}). */
  get pendingCallbacks(): number {
    return this.dispatcher.pending;
  }

  /** True once {@link IoMux.terminate} was called. */
  get isTerminated(): boolean {
    return this.terminated;
  }

  /**
   * Shuts down every socket created with this IoMux, as if `shutdown()` was called on each
   * (each reports `SOCKET_SHUTDOWN_NORMAL` once). Afterwards the IoMux makes no more sockets.
   */
  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    for (const socket of [...this.sockets]) socket.shutdown();
  }

  /** @internal */
  register(socket: Terminable): void {
    this.sockets.add(socket);
  }

  /** @internal */
  unregister(socket: Terminable): void {
    this.sockets.delete(socket);
  }

  /** @internal Live sockets on this IoMux (for tests and stats). */
  get size(): number {
    return this.sockets.size;
  }
}

function runCallback(this: void, callback: () => void): void {
  callback();
}

let defaultIoMux: IoMux | undefined;

/** The process-wide IoMux used when a socket's options (or a message socket's) name none. */
export function getDefaultIoMux(): IoMux {
  defaultIoMux ??= new IoMux();
  return defaultIoMux;
}
