/** A queued callback: called as `fn.call(self, arg)`, so hot paths post without allocating a closure. */
export type Posted<T, A> = (this: T, arg: A) => void;

/**
 * Queues user callbacks and runs them later, never inside the API call that caused them.
 *
 * Every callback of every socket on one IoMux goes through one FIFO queue, so the order in
 * which a socket posts its callbacks is the order in which the user sees them.
 *
 * - `'auto'` (the default): the queue is drained on `process.nextTick`, after the current call
 *   stack and before further I/O, which keeps latency at the cost of one tick per batch
 *   instead of one macrotask per callback. A throwing callback is re-thrown on its own tick
 *   (it surfaces as an uncaught exception, like a throwing event listener) and the callbacks
 *   behind it still run.
 * - `'manual'`: nothing runs until the app calls {@link Dispatcher.poll} (a game loop's
 *   `RunCallbacks()`); a throwing callback propagates out of `poll()`, and the callbacks
 *   behind it stay queued, in order, for the next `poll()`.
 *
 * The queue is a flat array of (fn, self, arg) triples with a read index, so a burst of
 * callbacks costs no allocation beyond the array's growth.
 */
export class Dispatcher {
  private queue: unknown[] = [];
  private head = 0;
  private scheduled = false;
  /** A callback is running (drain, poll or a direct run): a new one must queue behind it. */
  private running = false;
  private readonly drainBound = (): void => this.drain();

  constructor(readonly manual = false) {}

  /** A callback of this dispatcher is running now. */
  get isRunning(): boolean {
    return this.running;
  }

  /** Callbacks waiting to run. */
  get pending(): number {
    return (this.queue.length - this.head) / 3;
  }

  /** Runs `fn.call(self, arg)` later, after every callback posted before it. */
  post<T, A>(fn: Posted<T, A>, self?: T, arg?: A): void {
    this.queue.push(fn, self, arg);
    if (!this.scheduled && !this.manual) {
      this.scheduled = true;
      process.nextTick(this.drainBound);
    }
  }

  /**
   * For a Node event handler (a socket's 'data', a write's completion), never for an API
   * call: runs `fn` at once when nothing is queued before it and no callback is running,
   * else posts it. Either way the user sees callbacks in post order and never inside one of
   * its own calls — Node does not emit these events synchronously from a socket method — and
   * the common case saves a tick and a queue entry per callback.
   */
  postFromEvent<T, A>(fn: Posted<T, A>, self: T, arg?: A): void {
    if (this.running || this.manual || apiDepth !== 0 || this.head !== this.queue.length) {
      this.post(fn, self, arg);
      return;
    }
    this.running = true;
    try {
      fn.call(self, arg as A);
    } catch (err) {
      process.nextTick(rethrow, err);
    } finally {
      this.running = false;
    }
  }

  /**
   * Manual mode: runs queued callbacks in order, including those they post, until the queue
   * is empty or `max` ran. Returns how many ran.
   */
  poll(max = Infinity): number {
    this.running = true;
    let ran = 0;
    try {
      while (ran < max && this.head < this.queue.length) {
        ran++;
        this.runNext();
      }
    } finally {
      this.running = false;
      this.compact();
    }
    return ran;
  }

  private drain(): void {
    this.running = true;
    // Callbacks posted while draining are appended and run in this same pass.
    while (this.head < this.queue.length) {
      try {
        this.runNext();
      } catch (err) {
        // A throwing user callback must surface like a throwing event listener, but must
        // not cost the callbacks queued behind it (they may belong to other sockets).
        process.nextTick(rethrow, err);
      }
    }
    this.compact();
    this.scheduled = false;
    this.running = false;
  }

  private runNext(): void {
    const q = this.queue;
    const i = this.head;
    const fn = q[i] as Posted<unknown, unknown>;
    const self = q[i + 1];
    const arg = q[i + 2];
    // Cleared before the call: a callback that throws must not run again.
    q[i] = q[i + 1] = q[i + 2] = undefined;
    this.head = i + 3;
    fn.call(self, arg);
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 3 * 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * How many of the stream methods that drive Node on the hot paths (`send`, the resume in
 * `recv`, `shutdown` of a connection) are on the stack, in any IoMux: a belt to the braces of
 * "Node emits no data or write completion synchronously from a socket method". The other
 * methods rely on the braces alone: Node defers those events, and a socket that is shutting
 * down or has ended drops its input.
 */
let apiDepth = 0;

/** A socket method that drives Node starts: pair with {@link leaveApi} in a `finally`. */
export function enterApi(): void {
  apiDepth++;
}

export function leaveApi(): void {
  apiDepth--;
}

function rethrow(err: unknown): never {
  throw err;
}
