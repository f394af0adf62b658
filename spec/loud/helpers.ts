/**
 * Helpers for the "failures that speak up" specs (issue #18): a log that records its lines, a
 * spy on process warnings (jest's `process` is the one the library sees), and a promise for
 * one callback.
 */
import { IInstanceLog, LogFlag } from '../../lib';
import { withTimeout } from '../helpers/net-helpers';

export const WAIT = 10000;

/** An IInstanceLog with every flag on, keeping the lines. */
export class LinesLog implements IInstanceLog {
  readonly lines: string[] = [];
  isEnabled(): boolean {
    return true;
  }
  log(flag: LogFlag, message: string): void {
    this.lines.push(`${flag}: ${message}`);
  }
  having(text: string): string[] {
    return this.lines.filter((l) => l.includes(text));
  }
}

/** Process warnings emitted while the spy is on (not printed). */
export function spyWarnings(): { calls: Array<{ text: string; code: string | undefined }>; restore(): void } {
  const calls: Array<{ text: string; code: string | undefined }> = [];
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(((warning: string | Error, options?: { code?: string }) => {
    calls.push({ text: String(warning), code: options?.code });
  }) as typeof process.emitWarning);
  return { calls, restore: () => spy.mockRestore() };
}

/** A promise and the function that resolves it, bounded when awaited through `wait`. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; wait(what: string): Promise<T> } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve, wait: (what) => withTimeout(promise, WAIT, what) };
}
