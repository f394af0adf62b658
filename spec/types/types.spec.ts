/**
 * The compile-time checks in spec/types/*.types.ts pass: `tsc --noEmit -p .` checks them too, this
 * runs them under jest (which only transpiles) so `npx jest` alone catches a typing regression.
 * Each file proves what should compile by compiling, and what should not by `@ts-expect-error`.
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const root = path.resolve(__dirname, '..', '..');
const files = readdirSync(__dirname)
  .filter((name) => name.endsWith('.types.ts'))
  .map((name) => path.join(__dirname, name));

function compilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  return { ...options, noEmit: true, declaration: false, sourceMap: false, types: ['node'] };
}

describe('type-level checks (spec/types/*.types.ts)', () => {
  let program: ts.Program;

  beforeAll(() => {
    program = ts.createProgram(files, compilerOptions());
  }, 60_000);

  it('finds the files', () => {
    expect(files.map((f) => path.basename(f))).toContain('socket-user.types.ts');
  });

  it.each(files.map((f) => [path.basename(f), f]))('%s compiles, and every @ts-expect-error line is an error', (_name, file) => {
    const source = program.getSourceFile(file)!;
    const problems = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => {
      const { line } = source.getLineAndCharacterOfPosition(d.start ?? 0);
      return `${path.basename(file)}:${line + 1} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);
  });
});
