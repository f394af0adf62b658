import { ShutdownReason } from '../index';

/**
 * The tool's exit codes: one per way a run can end, so a script can tell a refused
 * connection from a failed handshake without parsing stderr. The table in docs/cli.md
 * repeats them; keep the two equal.
 */
export const ExitCode = {
  Ok: 0,
  /** A local error: stdin or stdout failed (e.g. stdout closed early), or an unexpected exception. */
  Failure: 1,
  Usage: 2,
  AddressInvalid: 3,
  ConnectRejected: 4,
  ConnectFailed: 5,
  TlsHandshakeFailed: 6,
  AlpnSelectionFailed: 7,
  AddrInUse: 8,
  BindFailed: 9,
  ListenFailed: 10,
  AcceptFailed: 11,
  Lost: 12,
  OpenFailed: 13,
  /** The plaintext STARTTLS exchange failed before the upgrade. */
  StarttlsFailed: 14,
  /** The plaintext STARTTLS exchange did not reach the upgrade within --starttls-timeout. */
  StarttlsTimedOut: 15,
  /** 128 + the signal number, as shells report a process ended by that signal. */
  Interrupted: 130,
  Terminated: 143,
} as const;

interface Outcome {
  code: number;
  message: string;
}

const BY_REASON: Record<ShutdownReason, Outcome> = {
  [ShutdownReason.Normal]: { code: ExitCode.Ok, message: 'closed' },
  [ShutdownReason.ByPeer]: { code: ExitCode.Ok, message: 'the peer closed the connection' },
  [ShutdownReason.AddressInvalid]: { code: ExitCode.AddressInvalid, message: 'invalid address' },
  [ShutdownReason.ConnectRejected]: { code: ExitCode.ConnectRejected, message: 'connection refused' },
  [ShutdownReason.ConnectFailed]: { code: ExitCode.ConnectFailed, message: 'cannot reach the peer' },
  [ShutdownReason.TlsHandshakeFailed]: { code: ExitCode.TlsHandshakeFailed, message: 'TLS handshake failed; --verbose shows why' },
  [ShutdownReason.AlpnSelectionFailed]: { code: ExitCode.AlpnSelectionFailed, message: 'no ALPN protocol in common' },
  [ShutdownReason.AddrInUse]: { code: ExitCode.AddrInUse, message: 'address already in use' },
  [ShutdownReason.BindFailed]: { code: ExitCode.BindFailed, message: 'cannot bind the address' },
  [ShutdownReason.ListenFailed]: { code: ExitCode.ListenFailed, message: 'cannot listen' },
  [ShutdownReason.AcceptFailed]: { code: ExitCode.AcceptFailed, message: 'the incoming connection broke before it was accepted' },
  [ShutdownReason.Lost]: { code: ExitCode.Lost, message: 'connection lost' },
  [ShutdownReason.OpenFailed]: { code: ExitCode.OpenFailed, message: 'the OS gave no socket' },
};

/** The exit code and one-line message for a socket that ended for `reason`. */
export function outcomeOf(reason: ShutdownReason): Outcome {
  return BY_REASON[reason] ?? { code: ExitCode.Failure, message: 'ended' };
}

/**
 * Ends the process exactly once: the one place that prints the final line and exits.
 * A signal turns the next clean end into the signal's exit code.
 */
export class Ending {
  private done = false;
  private interruptCode: number | null = null;
  private closer: (() => void) | null = null;

  constructor(private readonly verbose: boolean) {}

  /** What a signal should do in the current phase: shut the live socket down (its end then exits). */
  setCloser(closer: (() => void) | null): void {
    this.closer = closer;
  }

  /** A signal arrived: shut down gracefully, or, the second time or with nothing to shut down, exit at once. */
  interrupt(code: number, name: string): void {
    const closer = this.closer;
    if (this.interruptCode !== null || !closer) {
      this.exit(code, `${name}: stopped`);
      return;
    }
    this.interruptCode = code;
    this.closer = null;
    closer();
  }

  /** The run ended because its socket reported `reason`. */
  byReason(reason: ShutdownReason): void {
    const { code, message } = outcomeOf(reason);
    if (code === ExitCode.Ok && this.interruptCode !== null) this.exit(this.interruptCode, 'stopped by a signal');
    else this.exit(code, `${message} (${reason})`);
  }

  /** Prints `message` (always for a failure; for success only with --verbose) and exits with `code`. */
  exit(code: number, message: string): void {
    if (this.done) return;
    this.done = true;
    const quit = (): never => process.exit(code);
    if (code === ExitCode.Ok && !this.verbose) quit();
    else process.stderr.write(`socket-provider: ${message}\n`, quit);
  }
}
