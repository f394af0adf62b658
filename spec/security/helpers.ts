/**
 * What the security specs share: guarded providers made fresh for each test (with the
 * always-rules checked and raw peers closed after it), a log that keeps its lines, and a
 * framework TLS echo listener.
 */
import { createTcpSocketProvider, createTlsSocketProvider, IInstanceLog, ISocketContext, ISocketProvider, LogFlag } from '../../lib';
import { closeAllRaw } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { closeAllRawTls } from '../helpers/tls-fixture';

export const WAIT = 10_000;

/** A log that keeps the lines of the flags it was given (all flags by default). */
export class LinesLog implements IInstanceLog {
  readonly lines: string[] = [];
  constructor(private readonly flags: readonly LogFlag[] = Object.values(LogFlag)) {}
  isEnabled(flag: LogFlag): boolean {
    return this.flags.includes(flag);
  }
  log(flag: LogFlag, message: string): void {
    this.lines.push(`${flag}: ${message}`);
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export interface Providers {
  tcp: ISocketProvider;
  tls: ISocketProvider;
}

/**
 * Guarded TCP and TLS providers, new for each test of the calling describe block; after each
 * test every socket is shut down, every callback rule checked, and raw Node peers closed.
 */
export function useProviders(): Providers {
  const p = {} as Providers;
  beforeEach(() => {
    p.tcp = guardProvider(createTcpSocketProvider());
    p.tls = guardProvider(createTlsSocketProvider());
  });
  afterEach(async () => {
    const violations = await cleanupAndCheck();
    await closeAllRaw();
    await closeAllRawTls();
    expect(violations).toEqual([]);
  });
  return p;
}

/** A framework TLS echo listener on 127.0.0.1:0; `accepted` holds the users of its connections, in order. */
export async function tlsEchoListener(tls: ISocketProvider, context: ISocketContext, log: IInstanceLog): Promise<{ port: number; accepted: RecordingUser[] }> {
  const accepted: RecordingUser[] = [];
  const lu = new RecordingUser('listener', {
    accept: () => {
      const u = new RecordingUser(`conn-${accepted.length}`, { autoRecv: 1024, echo: true });
      accepted.push(u);
      return u;
    },
  });
  const listener = tls.createSocket(lu, { context, log });
  listener.bind('127.0.0.1', 0);
  await lu.waitFor('socketBindResult', 1, WAIT, listener);
  listener.listen();
  return { port: lu.eventsOf('socketBindResult', listener)[0].args[1] as number, accepted };
}
