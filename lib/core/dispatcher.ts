/**
 * Queues user callbacks and runs them later, never inside the API call that caused them.
 *
 * Every callback of every socket on one IoMux goes through one FIFO queue, so the order in
 * which a socket posts its callbacks is the order in which the user sees them. The queue is
 * drained on `process.nextTick`: after the current call stack, before further I/O, which
 * keeps latency at the cost of one tick per batch instead of one macrotask per callback.
 */
export class Dispatcher {
  private queue: Array<() => void> = [];
  private scheduled = false;
  private readonly drainBound = (): void => this.drain();

  /** Runs `fn` later, after every callback posted before it. */
  post(fn: () => void): void {
    this.queue.push(fn);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.drainBound);
    }
  }

  private drain(): void {
    const queue = this.queue;
    // Callbacks posted while draining are appended and run in this same pass.
    for (let i = 0; i < queue.length; i++) {
      const fn = queue[i];
      try {
        fn();
      } catch (err) {
        // A throwing user callback must surface like a throwing event listener, but must
        // not cost the callbacks queued behind it (they may belong to other sockets).
        process.nextTick(rethrow, err);
      }
    }
    queue.length = 0;
    this.scheduled = false;
  }
}

function rethrow(err: unknown): never {
  throw err;
}
