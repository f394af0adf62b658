import { LogFlag } from '../../lib';
import { DefaultLog, parseLogFlags } from '../../lib/core/log';

describe('the default log', () => {
  it('is off without the environment variable', () => {
    expect(parseLogFlags(undefined).size).toBe(0);
    expect(parseLogFlags('').size).toBe(0);
    expect(new DefaultLog(new Set()).isEnabled(LogFlag.Tcp)).toBe(false);
  });

  it('takes all, or a list of flags', () => {
    expect([...parseLogFlags('all')].sort()).toEqual(['lds', 'rudp', 'tcp', 'tls', 'udp']); // rudp: issue #20
    expect([...parseLogFlags('tcp, lds')].sort()).toEqual(['lds', 'tcp']);
    expect([...parseLogFlags('local,nonsense')]).toEqual(['lds']);
    const log = new DefaultLog(parseLogFlags('tls'));
    expect(log.isEnabled(LogFlag.Tls)).toBe(true);
    expect(log.isEnabled(LogFlag.Tcp)).toBe(false);
  });
});
