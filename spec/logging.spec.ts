/**
 * CONTRACT §9: a socket logs its life (connect, bind, errors with their OS code, the shutdown
 * reason) to its own log, under its transport's flag only, and only when that flag is on.
 */
import { createTcpSocketProvider, createUdpSocketProvider, IInstanceLog, LogFlag, ShutdownReason } from '../lib';
import { cleanupAndCheck, RecordingUser } from './helpers/recording-user';
import { closedPort } from './helpers/net-helpers';

class MemoryLog implements IInstanceLog {
  readonly lines: Array<[LogFlag, string]> = [];
  asked = new Set<LogFlag>();
  constructor(private readonly enabled: (flag: LogFlag) => boolean) {}
  isEnabled(flag: LogFlag): boolean {
    this.asked.add(flag);
    return this.enabled(flag);
  }
  log(flag: LogFlag, message: string): void {
    this.lines.push([flag, message]);
  }
}

describe('socket logging', () => {
  afterEach(async () => expect(await cleanupAndCheck()).toEqual([]));

  it('a TCP socket logs its connect failure with the OS code and its reason, under "tcp" only', async () => {
    const log = new MemoryLog(() => true);
    const u = new RecordingUser('client');
    const s = createTcpSocketProvider().createSocket(u, { log });
    s.connect(`127.0.0.1:${await closedPort()}`);
    expect(await u.waitForShutdown(s)).toBe(ShutdownReason.ConnectRejected);
    expect(new Set(log.lines.map(([flag]) => flag))).toEqual(new Set([LogFlag.Tcp]));
    const text = log.lines.map(([, m]) => m).join('\n');
    expect(text).toContain('ECONNREFUSED');
    expect(text).toContain('SOCKET_CONNECT_REJECTED');
    expect(text).toMatch(/idle -> resolving/);
  });

  it('a UDP socket logs under "udp"; nothing is written when its flag is off', async () => {
    const on = new MemoryLog((flag) => flag === LogFlag.Udp);
    const off = new MemoryLog(() => false);
    for (const log of [on, off]) {
      const u = new RecordingUser('udp');
      const s = createUdpSocketProvider().createSocket(u, { log });
      s.bind('127.0.0.1', 0);
      await u.waitFor('socketBindResult', 1, 10000, s);
      s.shutdown();
      expect(await u.waitForShutdown(s)).toBe(ShutdownReason.Normal);
    }
    expect(on.lines.length).toBeGreaterThan(0);
    expect(on.lines.every(([flag]) => flag === LogFlag.Udp)).toBe(true);
    expect(on.lines.map(([, m]) => m).join('\n')).toContain('SOCKET_SHUTDOWN_NORMAL');
    expect(off.lines).toEqual([]);
    expect([...off.asked]).toEqual([LogFlag.Udp]); // it asked only about its own flag
  });
});
