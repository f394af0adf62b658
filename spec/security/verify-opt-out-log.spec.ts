/**
 * The verification opt-out is logged (docs/security.md, "Verification opt-out"):
 * `setVerifyPeer(false)` writes one line to the context's log, under the `tls` flag, saying that
 * peer certificates will not be verified. As lib/context.ts does it today, the line is written
 * at the call and only if the context's log has `tls` on at that moment; connections made later
 * do not repeat it. A context made without a log writes to the package's default log.
 */
import { createTcpSocketProvider, createTlsSocketProvider, createUdpSocketProvider, IInstanceLog, ISocketContext, ISocketProvider, LogFlag } from '../../lib';

const OPT_OUT_LINE = 'setVerifyPeer(false): peer certificates will NOT be verified on connections made with this context';

/** A log whose flags a test switches; it records what it was asked and what it was given. */
class SwitchLog implements IInstanceLog {
  readonly lines: Array<[LogFlag, string]> = [];
  readonly on = new Set<LogFlag>();
  isEnabled(flag: LogFlag): boolean {
    return this.on.has(flag);
  }
  log(flag: LogFlag, message: string): void {
    if (!this.on.has(flag)) throw new Error(`log(${flag}) called while ${flag} is off`);
    this.lines.push([flag, message]);
  }
}

/** A context (of the TLS provider unless `make` says otherwise) whose log has "tls" on. */
function contextLoggingTls(make: () => ISocketProvider = createTlsSocketProvider): { log: SwitchLog; context: ISocketContext } {
  const log = new SwitchLog();
  log.on.add(LogFlag.Tls);
  return { log, context: make().createSocketContext(log) };
}

describe('setVerifyPeer(false) is logged', () => {
  it.each([
    ['TLS', createTlsSocketProvider],
    ['TCP', createTcpSocketProvider],
    ['UDP (for DTLS)', createUdpSocketProvider],
  ])('a context from the %s provider whose log has the tls flag on writes the opt-out line, once, under tls', (_name, make) => {
    const { log, context } = contextLoggingTls(make);
    expect(log.lines).toEqual([]);
    context.setVerifyPeer(false);
    expect(log.lines).toEqual([[LogFlag.Tls, OPT_OUT_LINE]]);
  });

  it('turning verification back on, or leaving it on, writes nothing', () => {
    const { log, context } = contextLoggingTls();
    context.setVerifyPeer(true);
    expect(log.lines).toEqual([]);
    context.setVerifyPeer(false);
    context.setVerifyPeer(true);
    expect(log.lines).toEqual([[LogFlag.Tls, OPT_OUT_LINE]]);
  });

  it('every opt-out call is logged again (one line per call)', () => {
    const { log, context } = contextLoggingTls();
    context.setVerifyPeer(false);
    context.setVerifyPeer(false);
    expect(log.lines).toEqual([
      [LogFlag.Tls, OPT_OUT_LINE],
      [LogFlag.Tls, OPT_OUT_LINE],
    ]);
  });

  it('only the tls flag counts: a log with every other flag on stays silent (the line is written at the call only)', () => {
    const log = new SwitchLog();
    for (const flag of [LogFlag.Tcp, LogFlag.Udp, LogFlag.Local]) log.on.add(flag);
    const context = createTlsSocketProvider().createSocketContext(log);
    context.setVerifyPeer(false);
    expect(log.lines).toEqual([]);
    // Switching "tls" on afterwards does not bring the line back: it is written at the call.
    log.on.add(LogFlag.Tls);
    context.setAlpnProtocols(['h2']);
    expect(log.lines).toEqual([]);
  });

  describe('a context made without a log: the package log, switched by SOCKET_PROVIDER_LOG', () => {
    /** stderr lines written by `setVerifyPeer(false)` on a context of a freshly loaded package. */
    async function stderrOfOptOut(env: string | undefined): Promise<string[]> {
      const saved = process.env.SOCKET_PROVIDER_LOG;
      const written: string[] = [];
      const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
      try {
        if (env === undefined) delete process.env.SOCKET_PROVIDER_LOG;
        else process.env.SOCKET_PROVIDER_LOG = env;
        // A fresh module registry: the default log reads the variable once, when first used.
        await jest.isolateModulesAsync(async () => {
          const fresh = await import('../../lib');
          fresh.createTlsSocketProvider().createSocketContext().setVerifyPeer(false);
        });
      } finally {
        spy.mockRestore();
        if (saved === undefined) delete process.env.SOCKET_PROVIDER_LOG;
        else process.env.SOCKET_PROVIDER_LOG = saved;
      }
      return written;
    }

    it('SOCKET_PROVIDER_LOG=tls: the line goes to stderr', async () => {
      const written = await stderrOfOptOut('tls');
      expect(written).toHaveLength(1);
      expect(written[0]).toMatch(/^\S+ socket-provider tls: setVerifyPeer\(false\): peer certificates will NOT be verified/);
    });

    it('SOCKET_PROVIDER_LOG unset (the default): the opt-out is silent', async () => {
      expect(await stderrOfOptOut(undefined)).toEqual([]);
    });
  });

  it('a bad argument throws TypeError and logs nothing', () => {
    const { log, context } = contextLoggingTls();
    expect(() => context.setVerifyPeer('no' as unknown as boolean)).toThrow(TypeError);
    expect(() => context.setVerifyPeer(0 as unknown as boolean)).toThrow(TypeError);
    expect(log.lines).toEqual([]);
  });
});
