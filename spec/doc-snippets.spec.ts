/**
 * Every TypeScript code block in the docs compiles as written.
 *
 * Each ```ts block of README.md and docs/*.md that is not a copy of an example (those follow an
 * `<!-- example: … -->` or `<!-- example-part: … -->` marker and are checked against the file by
 * examples.spec.ts and docs.spec.ts) is type-checked as its own module, with `socket-provider`
 * resolved to lib/index.ts (a subpath export `socket-provider/x` to lib/x) and the compiler
 * options of tsconfig.json. All blocks go into one program, one virtual file each, so the
 * library and Node's types are checked once.
 *
 * A block that is a fragment declares what it relies on (`declare const socket: ISocket;`), so
 * the reader sees it too. A top-level import or declaration a block does not use itself is not
 * an error (a guide shows a class, or the names to import, for the reader to use); an unused
 * local inside a function still is.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const root = path.resolve(__dirname, '..');

/** One ```ts block: where its opening fence is (1-based line) and its code. */
interface Snippet {
  doc: string;
  line: number;
  code: string;
}

const FENCE_OPEN = /^( *)(`{3,}|~{3,})\s*([^`\s]*)/;
const TS_LANGUAGES = new Set(['ts', 'typescript']);
const EXAMPLE_MARKER = /^<!-- example(?:-part)?: \S+ -->$/;

/** One fenced code block: its opening fence's line (1-based), its language, and its code. */
interface FencedBlock {
  line: number;
  language: string;
  /** It follows an example marker on the line before: a copy of a file, checked elsewhere. */
  marked: boolean;
  code: string;
}

function fencedBlocksOf(markdown: string): FencedBlock[] {
  const lines = markdown.split('\n');
  const blocks: FencedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, language] = open;
    const closing = new RegExp(`^ *${fence[0]}{${fence.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !closing.test(lines[end])) end++;
    // A block inside a list item is indented like its fence; the code is not.
    const code = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()));
    const marked = i > 0 && EXAMPLE_MARKER.test(lines[i - 1].trim());
    blocks.push({ line: i + 1, language: language.toLowerCase(), marked, code: code.join('\n') + '\n' });
    i = end;
  }
  return blocks;
}

/** The ```ts blocks of one markdown text that do not follow an example marker. */
function tsBlocksOf(doc: string, markdown: string): Snippet[] {
  return fencedBlocksOf(markdown)
    .filter((b) => TS_LANGUAGES.has(b.language) && !b.marked)
    .map(({ line, code }) => ({ doc, line, code }));
}

/** The docs checked: the README and every guide, so a new guide cannot go unchecked. */
const CHECKED_DOCS = [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

/** tsconfig.json's options, for code that imports the package by its name and runs no jest. */
function snippetOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  return {
    ...options,
    noEmit: true,
    declaration: false,
    sourceMap: false,
    types: ['node'],
    // Each block is a module of its own even without an import, so blocks never share names.
    moduleDetection: ts.ModuleDetectionKind.Force,
    // As an ES module project compiles them: the async examples use top-level await.
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    baseUrl: root,
    // The subpath exports too: 'socket-provider/testing' is lib/testing.ts, 'socket-provider/async' lib/async/index.ts.
    paths: { 'socket-provider': ['lib/index.ts'], 'socket-provider/*': ['lib/*'] },
  };
}

/** The virtual file a snippet becomes: beside its doc, so a relative import would resolve from there. */
function fileNameOf(snippet: Snippet): string {
  return path.join(root, `${snippet.doc}.line-${snippet.line}.ts`);
}

/** "'x' is declared but its value is never read" and its variants for types and whole declarations. */
const UNUSED = new Set([6133, 6192, 6196, 6198, 6199, 6205]);

/** The innermost node that starts at or before `position` and ends after it. */
function findNodeAt(node: ts.Node, position: number): ts.Node | undefined {
  if (position < node.getStart() || position >= node.end) return undefined;
  return ts.forEachChild(node, (child) => findNodeAt(child, position)) ?? node;
}

/** Whether `node` (a declaration's name, or an import) is outside every function, block and class member. */
function isTopLevel(node: ts.Node): boolean {
  if (ts.isSourceFile(node)) return true;
  // The name of a function is outside the function.
  const start = ts.isFunctionDeclaration(node.parent) && node.parent.name === node ? node.parent.parent : node.parent;
  for (let n = start; n !== undefined && !ts.isSourceFile(n); n = n.parent) {
    if (ts.isFunctionLike(n) || ts.isBlock(n) || ts.isClassElement(n) || ts.isModuleBlock(n)) return false;
  }
  return true;
}

/** "Unused" said of an import or declaration at the top level (not inside a function or class). */
function isUnusedTopLevelDeclaration(diagnostic: ts.Diagnostic, file: ts.SourceFile): boolean {
  if (!UNUSED.has(diagnostic.code) || diagnostic.start === undefined) return false;
  const node = findNodeAt(file, diagnostic.start);
  return node !== undefined && isTopLevel(node);
}

/** Type-checks every snippet in one program; returns each one's problems as `doc:line:col TSnnnn: message`. */
function typeCheck(snippets: readonly Snippet[]): string[][] {
  const options = snippetOptions();
  const sources = new Map(snippets.map((s) => [fileNameOf(s), s]));
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => sources.has(path.resolve(name)) || fileExists.call(host, name);
  host.readFile = (name) => sources.get(path.resolve(name))?.code ?? readFile.call(host, name);
  host.getSourceFile = (name, languageVersion, onError, shouldCreate) => {
    const snippet = sources.get(path.resolve(name));
    if (snippet) return ts.createSourceFile(name, snippet.code, languageVersion, true);
    return getSourceFile.call(host, name, languageVersion, onError, shouldCreate);
  };
  const program = ts.createProgram({ rootNames: [...sources.keys()], options, host });
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  if (global.length > 0) throw new Error(ts.formatDiagnostics(global, host));
  return snippets.map((snippet) => {
    const file = program.getSourceFile(fileNameOf(snippet))!;
    const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
    return diagnostics
      .filter((d) => !isUnusedTopLevelDeclaration(d, file))
      .map((d) => {
        const { line, character } = file.getLineAndCharacterOfPosition(d.start ?? 0);
        // The code starts on the line after the fence.
        return `${snippet.doc}:${snippet.line + 1 + line}:${character + 1} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
  });
}

const docs = CHECKED_DOCS.map((doc) => ({ doc, markdown: readFileSync(path.join(root, doc), 'utf8') }));
const snippets = docs.flatMap(({ doc, markdown }) => tsBlocksOf(doc, markdown));

/**
 * Must fail, three times: a name the package does not export, a call with too few arguments, an
 * unused local in a function. The unused top-level names are no error.
 */
const CANARY: Snippet = {
  doc: 'docs/canary.md',
  line: 1,
  code: [
    "import { createTcpSocketProvider, createFooSocketProvider, ISocket } from 'socket-provider';",
    'createTcpSocketProvider().createSocket();',
    'createFooSocketProvider();',
    'const unusedButShown = 1;',
    'function shownToo() {',
    '  const unusedInside = 1;',
    '}',
    '',
  ].join('\n'),
};

describe('TypeScript code blocks in the docs', () => {
  let problems: string[][];
  let canaryProblems: string[];

  beforeAll(() => {
    [canaryProblems, ...problems] = typeCheck([CANARY, ...snippets]);
  }, 60_000);

  it('finds the ```ts blocks and leaves out the examples shown after a marker', () => {
    const markdown = [
      '# Title', // 1
      '```ts', // 2
      'const a = 1;', // 3
      '```', // 4
      '<!-- example: scripts/examples/tcp-echo.ts -->', // 5
      '```ts', // 6
      'not checked here', // 7
      '```', // 8
      '```sh', // 9
      'npm test', // 10
      '```', // 11
      '1. In a list:', // 12
      '   ```typescript', // 13
      '   const b = 2;', // 14
      '   ```', // 15
      '````ts', // 16
      '```', // 17
      '````', // 18
    ].join('\n');
    expect(tsBlocksOf('x.md', markdown)).toEqual([
      { doc: 'x.md', line: 2, code: 'const a = 1;\n' },
      { doc: 'x.md', line: 13, code: 'const b = 2;\n' },
      { doc: 'x.md', line: 16, code: '```\n' },
    ]);
    expect(snippets.length).toBeGreaterThan(0);
  });

  it('reports a block that does not compile, by doc, line and diagnostic (the check can fail)', () => {
    expect(canaryProblems).toEqual([
      // TS2305, or TS2724 when it can suggest a similar name.
      expect.stringMatching(/^docs\/canary\.md:2:\d+ TS(2305|2724): .*"socket-provider".* has no exported member .*'createFooSocketProvider'/),
      expect.stringMatching(/^docs\/canary\.md:3:\d+ TS2554: Expected 1-2 arguments, but got 0/),
      "docs/canary.md:7:9 TS6133: 'unusedInside' is declared but its value is never read.",
    ]);
  });

  it.each(docs.map(({ doc, markdown }) => [doc, markdown]))('%s: every code block names its language (so none is TypeScript unchecked)', (doc, markdown) => {
    const untagged = fencedBlocksOf(markdown).filter((b) => b.language === '');
    expect(untagged.map((b) => `${doc}:${b.line} has no language: ${b.code.split('\n')[0]}`)).toEqual([]);
  });

  it.each(snippets.map((s, i) => [s.doc, s.line, i] as const))('%s, the block at line %d, compiles', (_doc, _line, i) => {
    expect(problems[i]).toEqual([]);
  });
});
