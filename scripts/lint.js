#!/usr/bin/env node
// Project rules the compiler does not check: small files, no console output from the
// library, no focused or skipped tests left behind. (Type errors: `tsc --noEmit`, run first.)
'use strict';
const fs = require('fs');
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
    if (/\bconsole\.(log|error|warn|info)\(/.test(line)) problems.push(`${rel}:${i + 1}: console output in the library (use the socket log)`);
  });
}

for (const file of walk(path.join(root, 'spec'))) {
  const rel = path.relative(root, file);
  fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (/\b(it|test|describe)\.only\(/.test(line)) problems.push(`${rel}:${i + 1}: focused test (.only)`);
    if (/\b(fit|fdescribe|xit|xdescribe)\(/.test(line)) problems.push(`${rel}:${i + 1}: focused or disabled test`);
  });
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('lint: ok');
