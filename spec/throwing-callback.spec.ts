import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

// A user callback that throws must surface like a throwing event listener (an uncaught
// exception) and must not cost any other socket its callbacks.
function runFixture(arg: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'fixtures/throwing-user.ts'), arg], {
    cwd: path.join(__dirname, '..'),
    encoding: 'utf8',
    timeout: 20000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('a user callback that throws', () => {
  it('is an uncaught exception: the process dies as with a throwing listener', () => {
    const { status, stderr } = runFixture('unhandled');
    expect(status).toBe(1);
    expect(stderr).toContain('boom from first');
  });

  it('leaves every other socket working when the app handles uncaught exceptions', () => {
    const { status, stdout } = runFixture('handled');
    expect(status).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toContain('uncaught: boom from first');
    expect(lines).toContain('first echoed hello');
    expect(lines).toContain('second echoed hello');
    expect(lines).toContain('first shutdown SOCKET_SHUTDOWN_NORMAL');
    expect(lines).toContain('second shutdown SOCKET_SHUTDOWN_NORMAL');
  });
});
