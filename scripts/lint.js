#!/usr/bin/env node
// Project rules the compiler and eslint do not check: small files, no console output from the
// library, no focused or skipped tests left behind, no import cycle in lib/. (Type errors: `tsc --noEmit`, run first.)
'use strict';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a plain CommonJS script that node runs as it is
const fs = require('fs');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a plain CommonJS script that node runs as it is
const path = require('path');

const root = path.resolve(__dirname, '..');
const problems = [];

function walk(dir, out = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

for (const file of walk(path.join(root, 'lib'))) {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n').length;
  const rel = path.relative(root, file);
  if (lines > 600) problems.push(`${rel}: ${lines} lines (keep library files under 600)`);
  text.split('\n').forEach((line, i) => {
    // A TSDoc example may show console output; the code may not.
    if (!/^\s*(\*|\/\/)/.test(line) && /\bconsole\.(log|error|warn|info)\(/.test(line))
      problems.push(`${rel}:${i + 1}: console output in the library (use the socket log)`);
  });
}

for (const file of walk(path.join(root, 'spec'))) {
  const rel = path.relative(root, file);
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (/\b(it|test|describe)\.only\(/.test(line)) problems.push(`${rel}:${i + 1}: focused test (.only)`);
      if (/\b(fit|fdescribe|xit|xdescribe)\(/.test(line)) problems.push(`${rel}:${i + 1}: focused or disabled test`);
    });
}

// No import cycle in lib/ (type-only imports included: a cycle of types is still a knot in the
// design). Relative imports and re-exports are followed; node: and package imports are not.
function importsOf(file) {
  const deps = [];
  for (const m of fs.readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) {
    const base = path.resolve(path.dirname(file), m[1]);
    const target = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
    if (target) deps.push(target);
  }
  return deps;
}

const libFiles = walk(path.join(root, 'lib'));
const graph = new Map(libFiles.map((f) => [f, importsOf(f)]));
const state = new Map(); // 1: on the current path, 2: done
const trail = [];
function visit(file) {
  state.set(file, 1);
  trail.push(file);
  for (const dep of graph.get(file) ?? []) {
    if (state.get(dep) === 1) {
      const cycle = trail
        .slice(trail.indexOf(dep))
        .concat(dep)
        .map((f) => path.relative(root, f));
      problems.push(`import cycle: ${cycle.join(' -> ')}`);
    } else if (!state.has(dep)) visit(dep);
  }
  trail.pop();
  state.set(file, 2);
}
for (const file of libFiles) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('lint: ok');
