/**
 * The warning for a message socket whose app stopped asking: data waits for it and no
 * `receiveNext()` has been pending for `unreadWarningMs`. Nothing is read while none is pending
 * (that is the flow control), so an app that forgot to ask again sees a silent connection; this
 * makes it speak up, once per message socket on its log and once per process as a process
 * warning (code `SOCKET_PROVIDER_UNREAD_MESSAGE`), with how to fix it.
 *
 * One timer serves every message socket: a sweep every `period` (half the smallest threshold in
 * use, 10 ms to 1 s; unref'd, stopped when no socket is watched). The hot path only stores the
 * sweep's clock when a message is delivered (`idle()`); a socket is examined (its `stats()`) only
 * once it has been idle for its threshold, and then at most once per threshold.
 */

/** What the watch asks of a message socket. */
export interface UnreadSubject {
  /** Data waits for the app and no `receiveNext()` is pending. */
  readonly unreadWaiting: boolean;
  /** Logs the warning on the socket's log and hands the text to `processWarning`. */
  warnUnread(ms: number, processWarning: (text: string) => void): void;
}

const watches = new Set<UnreadWatch>();
let timer: NodeJS.Timeout | null = null;
let period = 1000;
/** The sweep's clock: performance.now() at the last sweep (or the first watch). */
let clock = 0;
let warnedProcess = false;

/** One message socket's watch. */
export class UnreadWatch {
  /** The clock when the app last stopped asking (a message was delivered), or when the watch began. */
  private idleSince = clock;
  private nextCheck = 0;

  constructor(
    private readonly subject: UnreadSubject,
    readonly ms: number,
  ) {}

  /** A message was delivered: no `receiveNext()` is pending from now on, until the app asks. */
  idle(): void {
    this.idleSince = clock;
  }

  /** The message socket ended (or warned): no more checks. */
  stop(): void {
    if (!watches.delete(this)) return;
    if (watches.size === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  /** One sweep: warn if the socket has been idle long enough with data waiting. */
  check(now: number): void {
    // idleSince may be up to one period early: wait a period more, so the wait is at least `ms`.
    const due = Math.max(this.idleSince + this.ms + period, this.nextCheck);
    if (now < due) return;
    if (!this.subject.unreadWaiting) {
      this.nextCheck = now + this.ms;
      return;
    }
    this.stop(); // once per message socket
    this.subject.warnUnread(this.ms, warnProcessOnce);
  }
}

/** Starts watching a message socket (`ms` > 0). */
export function watchUnread(subject: UnreadSubject, ms: number): UnreadWatch {
  if (watches.size === 0) clock = performance.now();
  const watch = new UnreadWatch(subject, ms);
  watches.add(watch);
  const wanted = Math.min(1000, Math.max(10, Math.floor(ms / 2)));
  if (timer === null || wanted < period) {
    if (timer !== null) clearInterval(timer);
    period = timer === null ? wanted : Math.min(period, wanted);
    timer = setInterval(sweep, period);
    timer.unref();
  }
  return watch;
}

function sweep(): void {
  const now = (clock = performance.now());
  for (const watch of watches) watch.check(now); // a Set may lose its entries while iterated
}

function warnProcessOnce(text: string): void {
  if (warnedProcess) return;
  warnedProcess = true;
  process.emitWarning(`${text} (warned once per process)`, { code: 'SOCKET_PROVIDER_UNREAD_MESSAGE' });
}
