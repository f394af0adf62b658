// Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time.
// `npx ts-node --transpile-only scripts/bench/cpuprofile.ts FILE.cpuprofile [N [START_US,END_US]]`, or through
// `npm run bench -- --profile=NAME`, which profiles one run and prints this for both peers.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives: the framework (lib/), the bench itself, Node's own JS, or native/VM. */
function groupOf(url: string, name: string): string {
  if (url.includes('/node_modules/')) return 'dependencies (node_modules)';
  if (url.includes('/lib/')) return 'socket-provider lib/ (framework JS)';
  if (url.includes('/scripts/bench/')) return 'bench peer code (scripts/bench/)';
  if (url.startsWith('node:')) return "Node's JS (node:net, streams, events…)";
  if (url === '' && name.startsWith('(')) return `${name}`;
  if (url === '') return 'native (syscalls, C++ bindings)';
  return 'other JS';
}

/**
 * The top `n` functions by self time (sampled), one line each: ms, share, function, file:line;
 * then the self time grouped by where the code lives. With `window` ([start, end] in µs of the
 * monotonic clock, as the peers report it), only samples inside it count: start-up (module
 * loading, connecting) and shutdown stay out.
 */
export function summarise(profile: CpuProfile, n = 15, window?: [number, number]): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  const group = new Map<string, number>();
  const own = new Map<string, number>();
  let total = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the following gap to sample i.
    t += profile.timeDeltas[i];
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (window && (t < window[0] || t > window[1])) continue;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    const f = node.callFrame;
    const where = f.url ? ` ${basename(f.url)}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const g = groupOf(f.url, f.functionName);
    if (g.startsWith('socket-provider')) own.set(key, (own.get(key) ?? 0) + dt);
    group.set(g, (group.get(g) ?? 0) + dt);
    total += dt;
  }
  const line = ([k, us]: [string, number]): string => `  ${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`;
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  const groups = [...group.entries()].sort((a, b) => b[1] - a[1]);
  return [
    `  ${window ? `measured window ${((window[1] - window[0]) / 1000).toFixed(0)} ms` : 'whole process'}: ${(total / 1000).toFixed(0)} ms sampled; top ${n} functions by self time:`,
    ...top.map(line),
    '  self time by where the code lives:',
    ...groups.map(line),
    "  the framework's own functions (lib/), top 8 by self time:",
    ...[...own.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(line),
  ].join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: cpuprofile.ts FILE.cpuprofile [N]');
    process.exit(2);
  }
  const window = process.argv[4] ? (process.argv[4].split(',').map(Number) as [number, number]) : undefined;
  console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(process.argv[3] ?? 15), window));
}
