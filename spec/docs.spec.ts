/**
 * The API reference (`npm run docs`) builds from the TSDoc without a single warning.
 *
 * TypeDoc runs with the project's own typedoc.json, which asks for a comment on every exported
 * member (enum members, properties, methods, constructors, accessors, type aliases included) and
 * treats every warning as an error. Whatever lib/index.ts exports at the time is checked, so a
 * new export without TSDoc fails here. The output goes to a temporary directory, never to the
 * tree.
 *
 * Also: a helper file of an example (one that is not run on its own, such as the worker of
 * scripts/examples/ipc.ts) may be shown in docs/*.md after an `<!-- example-part: path -->`
 * marker; the code block that follows must be that file, with its relative import of the
 * library written `from 'socket-provider'`. (Whole examples use `<!-- example: path -->`,
 * checked by examples.spec.ts.)
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

const root = path.resolve(__dirname, '..');
const TYPEDOC_BIN = path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
const PROJECT_OPTIONS = path.join(root, 'typedoc.json');
const RUN_TIMEOUT_MS = 45_000;

interface RunResult {
  code: number | null;
  /** The lines TypeDoc printed that are warnings or errors (stdout and stderr). */
  problems: string[];
  output: string;
}

function runTypedoc(optionsFile: string, args: string[]): Promise<RunResult> {
  // Plain text: no colour codes around "[warning]".
  const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TYPEDOC_BIN, '--options', optionsFile, ...args],
      { cwd: root, env, timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const failure = err as (Error & { code?: unknown }) | null;
        const code = failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null;
        const output = `${stdout}${stderr}`;
        // "Found 0 errors and 0 warnings" is TypeDoc's summary line, not a problem of its own.
        const problems = output.split('\n').filter((line) => /\[(warning|error)\]/.test(line) && !/Found \d+ errors? and \d+ warnings?/.test(line));
        resolve({ code, problems, output });
      },
    );
  });
}

/** Every name an entry point (lib/index.ts, lib/async/index.ts…) exports, types included, as the compiler sees them. */
function exportedNames(entry = 'lib/index.ts'): string[] {
  const index = path.join(root, entry);
  const program = ts.createProgram([index], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(index)!)!;
  return [...new Set(checker.getExportsOfModule(moduleSymbol).map((s) => s.name))].sort();
}

/** typedoc.json's entry points (lib/index.ts, and each subpath export's entry). */
const ENTRY_POINTS = (JSON.parse(readFileSync(PROJECT_OPTIONS, 'utf8')) as { entryPoints: string[] }).entryPoints;

/** The module name TypeDoc gives an entry point when there are several: its path under lib/, without `.ts` and `/index`. */
const moduleName = (entry: string): string =>
  path
    .relative('lib', entry)
    .replace(/\.ts$/, '')
    .replace(/\/index$/, '');

let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'socket-provider-docs-'));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('API reference (TypeDoc)', () => {
  let build: RunResult;
  const htmlDir = (): string => path.join(tmp, 'html');
  const jsonFile = (): string => path.join(tmp, 'api.json');

  beforeAll(async () => {
    build = await runTypedoc(PROJECT_OPTIONS, ['--out', htmlDir(), '--json', jsonFile()]);
  }, RUN_TIMEOUT_MS + 5_000);

  it('builds from typedoc.json with no warning and no error', () => {
    expect(build.problems).toEqual([]);
    expect(build.code).toBe(0);
    expect(existsSync(path.join(htmlDir(), 'index.html'))).toBe(true);
  });

  it('documents every name lib/index.ts exports (none is hidden by @internal or @hidden)', () => {
    const reference = JSON.parse(readFileSync(jsonFile(), 'utf8')) as { children?: Array<{ name: string; children?: Array<{ name: string }> }> };
    // One entry point: its names are the top level. Several (subpath exports): one module each.
    const names = (entry: string): string[] => {
      const top = reference.children ?? [];
      const members = ENTRY_POINTS.length === 1 ? top : (top.find((m) => m.name === moduleName(entry))?.children ?? []);
      return [...new Set(members.map((c) => c.name))].sort();
    };
    expect(names('lib/index.ts')).toEqual(exportedNames());
    for (const entry of ENTRY_POINTS.filter((e) => e !== 'lib/index.ts')) expect([entry, names(entry)]).toEqual([entry, exportedNames(entry)]);
  });

  it(
    'fails the build for an export without TSDoc (the check can fail)',
    async () => {
      // A throw-away project with one documented and one undocumented export, built with options
      // that extend typedoc.json: if the project's validation were weakened, this build would pass.
      const project = path.join(tmp, 'undocumented');
      mkdirSync(project);
      writeFileSync(
        path.join(project, 'index.ts'),
        '/** Has a comment. */\nexport function documented(): void {}\nexport function undocumentedExample(): void {}\n',
      );
      writeFileSync(
        path.join(project, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'commonjs', strict: true, types: [] }, files: ['index.ts'] }),
      );
      // Paths in an options file are relative to it; `extends` takes every other setting from ours.
      const options = path.join(project, 'typedoc.json');
      writeFileSync(options, JSON.stringify({ extends: [PROJECT_OPTIONS], entryPoints: ['index.ts'], tsconfig: 'tsconfig.json', readme: 'none', out: 'out' }));
      const result = await runTypedoc(options, []);
      expect(result.code).not.toBe(0);
      expect(result.problems.join('\n')).toMatch(/undocumentedExample .*does not have any documentation/);
      expect(result.problems.join('\n')).not.toMatch(/\bdocumented \(/);
    },
    RUN_TIMEOUT_MS + 5_000,
  );
});

/** Each `<!-- example-part: path -->` in docs/*.md with the fenced block on the lines after it. */
function shownParts(): Array<[doc: string, file: string, block: string]> {
  const parts: Array<[string, string, string]> = [];
  for (const name of readdirSync(path.join(root, 'docs')).filter((n) => n.endsWith('.md'))) {
    const lines = readFileSync(path.join(root, 'docs', name), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const file = /^<!-- example-part: (\S+) -->$/.exec(line.trim())?.[1];
      if (!file) return;
      const end = lines.findIndex((l, j) => j > i + 1 && l.startsWith('```'));
      const fenced = lines[i + 1]?.startsWith('```') && end > 0;
      parts.push([`docs/${name}`, file, fenced ? lines.slice(i + 2, end).join('\n') + '\n' : '(no code block on the line after the marker)']);
    });
  }
  return parts;
}

const parts = shownParts();

describe('example parts shown in the docs', () => {
  it('docs/getting-started.md shows the worker of the IPC example', () => {
    expect(parts.map(([doc, file]) => `${doc} ${file}`)).toContain('docs/getting-started.md scripts/examples/ipc/child.ts');
  });

  it.each(parts)('%s shows %s as it is (apart from the library import)', (_doc, file, block) => {
    const source = readFileSync(path.join(root, file), 'utf8');
    const libImport = / from '(?:\.\.\/)+lib';$/gm;
    expect(source).toMatch(libImport);
    expect(block).toBe(source.replace(libImport, " from 'socket-provider';"));
  });
});
