/**
 * The four programs of issue #18, written with the async layer (scripts/examples/async-*.ts,
 * run by spec/examples.spec.ts) and in plain Node (scripts/examples/plain/), run here: each
 * plain version prints exactly what its async version is expected to print, and exits 0. The
 * line counts in docs/async.md are the files' real counts, and no async version is longer. An
 * `<!-- async-example: path -->` marker in docs/async.md is followed by that file as it is, its
 * imports of the library written `from 'socket-provider'` and `from 'socket-provider/async'`.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const EX = 'scripts/examples';

/** Program name in the table, the async files, the plain files (a worker process's file counts too). */
const PROGRAMS: Array<[title: string, name: string, asyncFiles: string[], plainFiles: string[]]> = [
  ['TCP chat server and client', 'chat', [`${EX}/async-chat.ts`], [`${EX}/plain/chat.ts`]],
  ['TLS chat, ALPN and client certificates', 'tls-chat', [`${EX}/async-tls-chat.ts`], [`${EX}/plain/tls-chat.ts`]],
  ['Parent/child JSON IPC over a Unix socket', 'ipc', [`${EX}/async-ipc.ts`, `${EX}/async-ipc/child.ts`], [`${EX}/plain/ipc.ts`, `${EX}/plain/ipc/child.ts`]],
  ['60 Hz UDP state sender', 'udp-state', [`${EX}/async-udp-state.ts`], [`${EX}/plain/udp-state.ts`]],
];

const text = (f: string): string => readFileSync(path.join(root, f), 'utf8');
/** All lines, and the lines of code (neither blank nor a comment alone). */
function counts(files: string[]): { lines: number; code: number } {
  const lines = files.flatMap((f) => text(f).replace(/\n$/, '').split('\n'));
  return { lines: lines.length, code: lines.filter((l) => l.trim() !== '' && !l.trim().startsWith('//')).length };
}

function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.SOCKET_PROVIDER_LOG;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', file],
      { cwd: root, env, timeout: 20_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const failure = err as (Error & { code?: unknown }) | null;
        resolve({ code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null, stdout, stderr });
      },
    );
  });
}

describe('the four programs: async layer against plain Node', () => {
  it.each(PROGRAMS)(
    'plain Node %s prints what the async version prints, and exits 0',
    async (_title, name, _a, plain) => {
      const expected = text(`${EX}/async-${name}.expected.txt`);
      expect(await run(plain[0])).toEqual({ code: 0, stdout: expected, stderr: '' });
    },
    25_000,
  );

  it.each(PROGRAMS)('%s: the async version is no longer, and docs/async.md states both counts', (title, _name, asyncFiles, plainFiles) => {
    const a = counts(asyncFiles);
    const p = counts(plainFiles);
    expect(a.lines).toBeLessThanOrEqual(p.lines);
    expect(a.code).toBeLessThanOrEqual(p.code);
    const row = `| ${title} | ${a.lines} (${a.code}) | ${p.lines} (${p.code}) |`;
    expect(text('docs/async.md').split('\n')).toContain(row);
  });
});

describe('examples shown in docs/async.md', () => {
  const md = text('docs/async.md');
  const shown = [...md.matchAll(/<!-- async-example: (\S+) -->\n```ts\n([\s\S]*?)```/g)].map((m) => [m[1], m[2]] as const);

  it('shows the async chat example', () => {
    expect(shown.map(([f]) => f)).toContain(`${EX}/async-chat.ts`);
  });

  it.each(shown)('shows %s as it is (apart from the library imports)', (file, block) => {
    const source = text(file)
      .replace(/ from '(?:\.\.\/)+lib';$/gm, " from 'socket-provider';")
      .replace(/ from '(?:\.\.\/)+lib\/async';$/gm, " from 'socket-provider/async';");
    expect(block).toBe(source);
  });
});
