// Compiles the bench peers once per bench run, so that no peer process pays for ts-node:
// every .ts file of lib/ and scripts/bench/ is transpiled (no type check; `npm test` does
// that) into a temporary directory with the same layout, next to a node_modules link.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import * as ts from 'typescript';

export const ROOT = join(__dirname, '..', '..');

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) tsFiles(full, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Transpiles lib/ and scripts/bench/ into a new temporary directory; returns it and the peer's path. */
export function buildPeers(): { dir: string; peer: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'socket-provider-bench-'));
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
    sourceMap: false,
  };
  for (const file of [...tsFiles(join(ROOT, 'lib')), ...tsFiles(join(ROOT, 'scripts', 'bench'))]) {
    const out = join(dir, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    const js = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file }).outputText;
    writeFileSync(out, js);
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, peer: join(dir, 'scripts', 'bench', 'peer.js'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
