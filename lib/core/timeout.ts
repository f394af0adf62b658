/**
 * The one way a socket arms a time-out. Every time-out option means the same: a whole number
 * of milliseconds, and 0 disables it (nothing is armed). A delay beyond Node's timer limit
 * (2^31 - 1 ms) is armed in steps by the shared deadlines, so it fires when it says.
 */
import { clearDeadline, Deadline, setDeadline } from './deadlines';

export type { Deadline };

/**
 * Calls `fire` once after `ms` milliseconds unless {@link disarmTimeout} comes first.
 * @param ms a checked option value (see `checkTimeout` in `core/validate.ts`); 0 disables it
 * @returns the armed time-out, or null when `ms` is 0 (nothing armed: nothing to disarm)
 */
export function armTimeout(ms: number, fire: () => void): Deadline | null {
  return ms > 0 ? setDeadline(ms, fire) : null;
}

/** Disarms a time-out made by {@link armTimeout} (null, fired or cleared: nothing happens); returns null for the slot. */
export function disarmTimeout(d: Deadline | null): null {
  if (d !== null) clearDeadline(d);
  return null;
}
