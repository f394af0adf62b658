import type { IoMux } from '../public-api';

/**
 * The order in which one message socket calls its user, and the rule that no callback runs
 * inside one of the user's own calls.
 *
 * A callback caused by the wrapped socket's callback runs at once: that is already the
 * IoMux delivering (on a later tick, or inside `poll()` for a manual IoMux), and an exception
 * it throws is handled there as for any socket callback. One caused by the user's own call (a
 * `receiveNext()` that finds a message already buffered, a `shutdown()` after the socket
 * ended) is posted to the same IoMux, so it too runs where that IoMux runs callbacks. While
 * any of ours is posted and not yet run, later ones are posted behind it: the user sees them
 * in the order they happened (a message before the end that followed it).
 */
export class CallbackQueue {
  private posted = 0;

  constructor(private readonly iomux: IoMux) {}

  /** Runs `fn` now if `now` and nothing of ours waits, else posts it behind what waits. */
  run(fn: () => void, now: boolean): void {
    if (now && this.posted === 0) {
      fn();
      return;
    }
    this.posted++;
    this.iomux.post(() => {
      // Counted first: a callback that throws must not hold back the ones behind it for good.
      this.posted--;
      fn();
    });
  }
}
