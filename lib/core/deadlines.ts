/**
 * Time-outs for many sockets at once (connect, handshake, flush on shutdown).
 *
 * Every stream socket arms at least one time-out, and nearly all of them are cleared long
 * before they fire. A Node `Timeout` per arming costs an object with async-hook bookkeeping,
 * a clock read into libuv and a list insert and removal (about 3 % of a client's CPU in the
 * accept-rate benchmark). Time-outs of one duration always expire in the order they were
 * armed, so a {@link Lane} keeps them in one linked list with a single Node timer for the
 * oldest: arming is an append, clearing an unlink, and nothing stays behind a cleared one.
 */

/** An armed time-out: pass it to {@link clearDeadline}. */
export interface Deadline {
  /** @internal */ at: number;
  /** @internal */ fire: (() => void) | null;
  /** @internal */ prev: Deadline | null;
  /** @internal */ next: Deadline | null;
  /** @internal */ lane: Lane;
}

/** The longest delay Node's `setTimeout` takes (2^31 - 1 ms). */
const MAX_TIMER_MS = 0x7fffffff;

/** The armed time-outs of one duration, oldest first. */
class Lane {
  head: Deadline | null = null;
  tail: Deadline | null = null;
  /** Armed for the head's time, or a little earlier (the head may have been cleared since). */
  private timer: NodeJS.Timeout | null = null;
  private readonly expireBound = (): void => this.expire();

  constructor(
    readonly ms: number,
    /** The lane's timer does not keep the process alive (Node's `unref()`). */
    private readonly unref: boolean,
  ) {}

  add(fire: () => void): Deadline {
    const d: Deadline = { at: performance.now() + this.ms, fire, prev: this.tail, next: null, lane: this };
    if (this.tail) this.tail.next = d;
    else this.head = d;
    this.tail = d;
    // Armed for the oldest, which is not this one when a time-out of this lane arms another
    // while the lane expires (the timer is down then, and older ones are still waiting).
    this.timer ??= this.arm(this.head!.at - performance.now());
    return d;
  }

  remove(d: Deadline): void {
    if (d.prev) d.prev.next = d.next;
    else this.head = d.next;
    if (d.next) d.next.prev = d.prev;
    else this.tail = d.prev;
    d.prev = d.next = null;
    d.fire = null;
    // With nothing armed, no timer may keep the process alive.
    if (this.head === null && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private arm(ms: number): NodeJS.Timeout {
    // Node runs a longer delay after 1 ms (with a warning): a long one is armed in steps.
    const timer = setTimeout(this.expireBound, Math.min(Math.max(1, ms), MAX_TIMER_MS));
    if (this.unref) timer.unref();
    return timer;
  }

  private expire(): void {
    this.timer = null;
    const now = performance.now();
    try {
      // Each time-out's callback may arm or clear others (of this lane too): take one at a time.
      for (let d = this.head; d !== null && d.at <= now; d = this.head) {
        const fire = d.fire!;
        this.remove(d);
        fire();
      }
    } finally {
      // Also after a callback threw: the time-outs behind it still fire.
      if (this.head !== null && this.timer === null) this.timer = this.arm(this.head.at - performance.now());
    }
  }
}

const lanes = new Map<number, Lane>();
const unrefLanes = new Map<number, Lane>();

/**
 * Calls `fire` once after `ms` milliseconds (> 0) unless {@link clearDeadline} comes first.
 * With `unref`, a pending time-out does not keep the process alive (as Node's `unref()`).
 */
export function setDeadline(ms: number, fire: () => void, unref = false): Deadline {
  const map = unref ? unrefLanes : lanes;
  let lane = map.get(ms);
  if (lane === undefined) {
    lane = new Lane(ms, unref);
    map.set(ms, lane);
  }
  return lane.add(fire);
}

/** Disarms a time-out; one that already fired or was cleared is left alone. */
export function clearDeadline(d: Deadline): void {
  if (d.fire !== null) d.lane.remove(d);
}
