import { IInstanceLog, LogFlag } from '../api';

/** The environment variable that switches the default log on: `all`, or flags such as `tcp,tls`. */
export const LOG_ENV = 'SOCKET_PROVIDER_LOG';

const ALL_FLAGS: readonly LogFlag[] = [LogFlag.Tcp, LogFlag.Tls, LogFlag.Udp, LogFlag.Local, LogFlag.Rudp];

/** Parses `SOCKET_PROVIDER_LOG` (`all`, `*`, or a comma list of `tcp`, `tls`, `udp`, `lds`, `rudp`). */
export function parseLogFlags(value: string | undefined): Set<LogFlag> {
  const flags = new Set<LogFlag>();
  if (!value) return flags;
  for (const word of value.split(',').map((w) => w.trim().toLowerCase())) {
    if (word === 'all' || word === '*' || word === '1') ALL_FLAGS.forEach((f) => flags.add(f));
    else if (word === 'local') flags.add(LogFlag.Local);
    else if ((ALL_FLAGS as readonly string[]).includes(word)) flags.add(word as LogFlag);
  }
  return flags;
}

/**
 * The package's own log: silent unless `SOCKET_PROVIDER_LOG` names a flag. It reads the
 * variable once, when first used, so a hot path pays one Set lookup per line.
 */
export class DefaultLog implements IInstanceLog {
  private readonly flags: Set<LogFlag>;

  constructor(flags: Set<LogFlag> = parseLogFlags(process.env[LOG_ENV])) {
    this.flags = flags;
  }

  isEnabled(flag: LogFlag): boolean {
    return this.flags.has(flag);
  }

  log(flag: LogFlag, message: string): void {
    process.stderr.write(`${new Date().toISOString()} socket-provider ${flag}: ${message}\n`);
  }
}

let defaultLog: DefaultLog | undefined;

/** The process-wide default log, made on first use. */
export function getDefaultLog(): IInstanceLog {
  defaultLog ??= new DefaultLog();
  return defaultLog;
}
