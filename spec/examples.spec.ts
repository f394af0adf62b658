/**
 * The examples run as written, and the README shows them as they are: the TCP echo example
 * is run as a child process, and README.md's copy of it must equal the file (apart from the
 * import line, which the README writes as `from 'socket-provider'`).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');
const EXAMPLE = 'scripts/examples/tcp-echo.ts';
const README_MARKER = `<!-- example: ${EXAMPLE} -->`;
const RUN_TIMEOUT_MS = 20_000;

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runExample(file: string): Promise<RunResult> {
  // Without SOCKET_PROVIDER_LOG the library writes nothing, so stderr stays empty.
  const env = { ...process.env };
  delete env.SOCKET_PROVIDER_LOG;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', file],
      { cwd: root, env, timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const failure = err as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
        const code = failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null;
        resolve({ code, signal: failure?.signal ?? null, stdout, stderr });
      },
    );
  });
}

/** The fenced code block that follows `marker` in `markdown`, as the lines between the fences. */
function codeBlockAfter(markdown: string, marker: string): string {
  const at = markdown.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker}`);
  const lines = markdown.slice(at + marker.length).split('\n');
  const open = lines.findIndex((line) => line.startsWith('```'));
  if (open < 0) throw new Error(`no code block after ${marker}`);
  const close = lines.findIndex((line, i) => i > open && line.startsWith('```'));
  if (close < 0) throw new Error(`unclosed code block after ${marker}`);
  return lines.slice(open + 1, close).join('\n') + '\n';
}

describe('examples', () => {
  it(
    `${EXAMPLE} prints the echo and exits 0 by itself`,
    async () => {
      const result = await runExample(EXAMPLE);
      expect(result).toEqual({ code: 0, signal: null, stdout: 'echo: hello\n', stderr: '' });
    },
    RUN_TIMEOUT_MS + 5_000,
  );

  it(`README.md shows ${EXAMPLE} as it is (apart from the import line)`, () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const file = readFileSync(path.join(root, EXAMPLE), 'utf8');
    const block = codeBlockAfter(readme, README_MARKER);

    const packageImport = / from 'socket-provider';$/m;
    const repoImport = / from '\.\.\/\.\.\/lib';$/m;
    expect(block).toMatch(packageImport);
    expect(file).toMatch(repoImport);
    expect(block.replace(packageImport, " from '../../lib';")).toBe(file);
  });
});
