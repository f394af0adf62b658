// Summarises V8 heap snapshots of the idle-memory server (`npm run bench -- --heap`): the
// heap's objects grouped by constructor (or type), with their count and total self size, so
// that two snapshots (framework, raw) can be compared per connection. Also usable alone:
// `npx ts-node --transpile-only scripts/bench/heapsnapshot.ts FILE.heapsnapshot [CONNS]`.
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapGroups {
  /** `type name` → count and total self size in bytes. */
  groups: Map<string, { count: number; bytes: number }>;
  total: number;
}

export function groupHeap(file: string): HeapGroups {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]];
    let name = snap.strings[snap.nodes[i + nameAt]];
    // Strings and numbers are grouped by type; their content is not a name.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'code') name = '';
    const key = `${type}${name ? ` ${name.slice(0, 60)}` : ''}`;
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += snap.nodes[i + sizeAt];
    groups.set(key, g);
    total += snap.nodes[i + sizeAt];
  }
  return { groups, total };
}

/** What grew from snapshot `a` to snapshot `b` of one process, per group. */
export function growth(a: HeapGroups, b: HeapGroups): HeapGroups {
  const groups = new Map<string, { count: number; bytes: number }>();
  for (const k of new Set([...a.groups.keys(), ...b.groups.keys()])) {
    const x = a.groups.get(k) ?? { count: 0, bytes: 0 };
    const y = b.groups.get(k) ?? { count: 0, bytes: 0 };
    groups.set(k, { count: y.count - x.count, bytes: y.bytes - x.bytes });
  }
  return { groups, total: b.total - a.total };
}

/**
 * Side by side, per connection: the heap growth of the framework's server and of raw Node's
 * while `conns` more connections opened, by group, the largest differences first.
 */
export function compareHeaps(fw: HeapGroups, raw: HeapGroups, conns: number, n = 20): string {
  const keys = new Set([...fw.groups.keys(), ...raw.groups.keys()]);
  const rows = [...keys].map((k) => {
    const a = fw.groups.get(k) ?? { count: 0, bytes: 0 };
    const b = raw.groups.get(k) ?? { count: 0, bytes: 0 };
    return { k, a, b, diff: a.bytes - b.bytes };
  });
  rows.sort((x, y) => Math.abs(y.diff) - Math.abs(x.diff));
  const per = (x: number): string => (x / conns).toFixed(0).padStart(6);
  const cnt = (x: number): string => (x / conns).toFixed(2).padStart(6);
  const lines = rows.slice(0, n).map((r) => `  ${per(r.a.bytes)} ${per(r.b.bytes)} ${per(r.diff)}   ${cnt(r.a.count)} ${cnt(r.b.count)}  ${r.k}`);
  return [
    `  heap growth per connection: framework ${per(fw.total).trim()} B, raw ${per(raw.total).trim()} B`,
    '  bytes per connection        objects per conn.',
    '      fw    raw   diff       fw    raw  type and constructor (V8 heap snapshot groups)',
    ...lines,
  ].join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: heapsnapshot.ts FILE.heapsnapshot [CONNS]');
    process.exit(2);
  }
  const conns = Number(process.argv[3] ?? 1);
  const h = groupHeap(file);
  const top = [...h.groups.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 25);
  for (const [k, g] of top) console.log(`  ${(g.bytes / conns).toFixed(0).padStart(8)} B/conn ${String(g.count).padStart(8)}  ${k}`);
}
