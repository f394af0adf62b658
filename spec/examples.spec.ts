/**
 * The examples run as written, and the docs show them as they are.
 *
 * - Every `scripts/examples/*.ts` file is run as a child process: it must exit 0 by itself,
 *   print exactly its expected output (`NAME.expected.txt` beside it) and nothing on stderr.
 * - Every `<!-- example: path -->` marker in README.md and docs/*.md must be followed by a
 *   fenced code block equal to that file, apart from the library imports: the docs write
 *   `from 'socket-provider'` where the file has `from '../../lib'`, and `from
 *   'socket-provider/testing'` (any subpath export) where it has `from '../../lib/testing'`.
 *   Other imports are shown as they are.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');
const EXAMPLES_DIR = 'scripts/examples';
const RUN_TIMEOUT_MS = 20_000;

/** What each example prints on stdout: `scripts/examples/NAME.ts` has `NAME.expected.txt` beside it. */
function expectedOutputs(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(path.join(root, EXAMPLES_DIR)).filter((n) => n.endsWith('.expected.txt'))) {
    out[`${EXAMPLES_DIR}/${name.replace(/\.expected\.txt$/, '.ts')}`] = readFileSync(path.join(root, EXAMPLES_DIR, name), 'utf8');
  }
  return out;
}
const EXPECTED_OUTPUT = expectedOutputs();

const MARKER = /<!-- example: (\S+) -->/g;
const PACKAGE_IMPORT = / from 'socket-provider(\/[a-z-]+)?';$/gm;
const REPO_IMPORT = / from '\.\.\/\.\.\/lib(\/[a-z-]+)?';$/gm;

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

function exampleFiles(): string[] {
  return readdirSync(path.join(root, EXAMPLES_DIR))
    .filter((name) => name.endsWith('.ts'))
    .map((name) => `${EXAMPLES_DIR}/${name}`)
    .sort();
}

function markdownFiles(): string[] {
  const docs = readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`)
    .sort();
  return ['README.md', ...docs];
}

interface ShownExample {
  doc: string;
  file: string;
  /** The lines of the code block right after the marker, with a final newline. */
  block: string;
}

/** Every marker in `doc`, with the fenced code block that must follow it on the next line. */
function examplesShownIn(doc: string): ShownExample[] {
  const markdown = readFileSync(path.join(root, doc), 'utf8');
  const shown: ShownExample[] = [];
  for (const match of markdown.matchAll(MARKER)) {
    const file = match[1];
    const lines = markdown.slice(match.index! + match[0].length).split('\n');
    // lines[0] is the rest of the marker's line; the fence must open on the next one.
    if (lines[0].trim() !== '' || !lines[1]?.startsWith('```')) {
      throw new Error(`${doc}: the marker for ${file} is not followed on the next line by a code block`);
    }
    const close = lines.findIndex((line, i) => i > 1 && line.startsWith('```'));
    if (close < 0) throw new Error(`${doc}: unclosed code block after the marker for ${file}`);
    shown.push({ doc, file, block: lines.slice(2, close).join('\n') + '\n' });
  }
  return shown;
}

const shownExamples = markdownFiles().flatMap(examplesShownIn);

describe('examples', () => {
  it('every example in scripts/examples has an expected output, and every expected output an example', () => {
    expect(exampleFiles()).toEqual(Object.keys(EXPECTED_OUTPUT).sort());
  });

  it.each(Object.entries(EXPECTED_OUTPUT))(
    '%s prints its expected output and exits 0 by itself',
    async (file, stdout) => {
      const result = await runExample(file);
      expect(result).toEqual({ code: 0, signal: null, stdout, stderr: '' });
    },
    RUN_TIMEOUT_MS + 5_000,
  );

  it('README.md shows the TCP echo example', () => {
    expect(shownExamples.filter((e) => e.doc === 'README.md').map((e) => e.file)).toContain('scripts/examples/tcp-echo.ts');
  });

  it.each(shownExamples.map((e) => [e.doc, e.file, e] as const))('%s shows %s as it is (apart from the library import)', (_doc, file, shown) => {
    expect(existsSync(path.join(root, file))).toBe(true);
    const source = readFileSync(path.join(root, file), 'utf8');
    expect(shown.block).toMatch(PACKAGE_IMPORT);
    expect(shown.block).not.toMatch(REPO_IMPORT);
    expect(source).toMatch(REPO_IMPORT);
    expect(shown.block.replace(PACKAGE_IMPORT, (_m, subpath: string | undefined) => ` from '../../lib${subpath ?? ''}';`)).toBe(source);
  });
});
