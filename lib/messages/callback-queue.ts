/**
 * The order in which one message socket calls its user, and the rule that no callback runs
 * inside one of the user's own calls.
 *
 * A callback caused by the wrapped socket's callback runs at once: that is already on a
 * later tick, delivered by the socket's IoMux. One caused by the user's own call (a
 * `receiveNext()` that finds a message already buffered, a `shutdown()` after the socket
 * ended) is queued and run on `process.nextTick`. Once anything is queued, later callbacks
 * queue behind it, so the user sees them in the order they happened.
 */
export class CallbackQueue {
  private readonly queue: Array<() => void> = [];
  private readonly drainBound = (): void => this.drain();

  /** Runs `fn` now if `now` and nothing waits, else after everything queued before it. */
  run(fn: () => void, now: boolean): void {
    if (now && this.queue.length === 0) {
      invoke(fn);
      return;
    }
    this.queue.push(fn);
    if (this.queue.length === 1) process.nextTick(this.drainBound);
  }

  private drain(): void {
    const queue = this.queue;
    // Callbacks queued while draining are appended and run in this same pass.
    for (let i = 0; i < queue.length; i++) invoke(queue[i]);
    queue.length = 0;
  }
}

/**
 * Runs a user callback. One that throws surfaces like a throwing event listener (re-thrown on
 * a later tick), without cutting short the socket's own work around it.
 */
function invoke(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    process.nextTick(rethrow, err);
  }
}

function rethrow(err: unknown): never {
  throw err;
}
