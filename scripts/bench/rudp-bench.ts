// The rudp section of `npm run bench` (issue #20): rudp against ENet, the framework's TCP message
// socket and raw dgram, on loopback and through the lossy relay (relay.ts), in the same run; and,
// on the lossless paths, the ceiling of the reliable workloads: raw dgram without reliability
// (rudp-ceiling.ts), which shows how much of rudp's distance to ENet is Node's cost per datagram.
// For each workload and path, every round runs each implementation once, one after the other
// (server and client pinned as for the other workloads; the relay unpinned); a round's figures
// make one pair per comparison, and the ratio reported is the median of the pair ratios.
//
// Options (besides index.ts's --quick, --pairs, --pin, --only=rudp or --only=rudp-bulk,…):
//   --rudp-paths=loopback,relay0,relay1,relay5   only these paths
//   --rudp-api=message|socket                    rudp's reliable workloads through createMessageSocket or the
//                                                rudp socket's own send/recv (default: the message socket where
//                                                the engine carries rudp messages whole; rudp-probe.ts)
//   --no-rudp                                    skip the section
//   --profile=rudp-bulk[:tcp|:dgram][@relay1]    one run under --cpu-prof (rudp by default; :dgram is the
//                                                ceiling of bulk and ping-pong, the baseline of rudp-unrel)
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './build';
import { summarise } from './cpuprofile';
import { fmt } from './report';
import { RudpCell, RudpRun, newCell, rudpDetails, rudpTable, summarise as summariseCell } from './rudp-report';
import { buildEnetPeer } from './rudp-enet';
import { CEILING_BURST, CEILING_DATAGRAM, IMPL_TITLE, Impl, PATHS, RudpPath, RudpWorkload, rudpWorkloads, runsOn } from './rudp-workloads';
import { rudpMessageFraming } from './rudp-probe';
import { Message, RunOutcome, runOnce } from './runner';

export interface RudpBenchOptions {
  quick: boolean;
  pairs: number;
  pin: { server: string; client: string } | null;
  /** `--only=`: 'rudp' for all, or workload names. */
  only: string[] | null;
  markdown: boolean;
}

export interface RudpSection {
  /** What to print after the other tables. */
  lines: string[];
  /** For results.json. */
  json: unknown;
}

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

/** `api` of the rudp peers (rudp-workloads.ts): `--rudp-api=message|socket`, else what the engine supports; and a line saying which. */
async function rudpApi(): Promise<{ api: number; note: string }> {
  const asked = arg('rudp-api');
  if (asked === 'message' || asked === 'socket') return { api: asked === 'message' ? 1 : 0, note: `(--rudp-api=${asked})` };
  const framing = await rudpMessageFraming();
  if (framing === 'datagram') return { api: 1, note: '(createMessageSocket carries rudp messages whole in this engine)' };
  return {
    api: 0,
    note: `(createMessageSocket over rudp reports framing '${framing}' in this engine: it would frame messages as a stream and, on the engine this was written against, never deliver one)`,
  };
}

/** Whether `--only` asks for the rudp section (or does not restrict). */
export function rudpWanted(only: string[] | null): boolean {
  return !process.argv.includes('--no-rudp') && (!only || only.some((n) => n === 'rudp' || n.startsWith('rudp-')));
}

function peerScript(buildDir: string): string {
  return join(buildDir, 'scripts', 'bench', 'rudp-peer.js');
}

/** One run of `impl` on `path`; `flags` add node flags to both peers (profiling). */
function runImpl(
  buildDir: string,
  w: RudpWorkload,
  path: RudpPath,
  impl: Impl,
  round: number,
  opts: RudpBenchOptions,
  flags?: (role: string) => string[],
): Promise<RunOutcome> {
  const peers = w.peers[impl]!;
  return runOnce(peerScript(buildDir), {
    workload: w.name,
    impl: 'fw',
    server: peers.server,
    client: peers.client,
    target: { kind: peers.kind, port: 0, path: '', caFile: '', serverPemFile: '' },
    size: { ...w.size, ...peers.size, relayLoss: path.relayLoss, seed: round + 1 },
    measuredBy: 'client',
    timeoutMs: w.timeoutMs,
    serverFlags: flags?.('server'),
    clientFlags: flags?.('client'),
    pin: opts.pin,
  });
}

function toRun(w: RudpWorkload, out: RunOutcome): RudpRun {
  const r: Message | undefined = out.result;
  const ok = r !== undefined && typeof r.ms === 'number' && r.ms > 0 && out.errors.length === 0;
  const num = (x: unknown): number | undefined => (typeof x === 'number' ? x : undefined);
  return {
    value: ok ? w.figure(r) : null,
    p50Ms: num(r?.p50Ms),
    p99Ms: num(r?.p99Ms),
    lost: num(r?.lost),
    sent: num(r?.sent),
    offeredMiBs: num(r?.offeredMiBs),
    cpuMs: out.cpuMs,
    facts: r?.rudp ? { rudp: r.rudp } : undefined,
  };
}

/** What the ceiling column is, under the table. */
const CEILING_NOTE = [
  "  raw dgram ceiling: Node's own dgram with no reliability, a ceiling and not a competitor (rudp/ceiling: the share of it rudp",
  '  reaches). Lossless paths only (it recovers nothing, and its losses are allowed). Ping-pong: 64 B datagrams one at a time, a',
  `  connected socket against a dgram echo. Bulk: the same bytes one way in ${CEILING_DATAGRAM} B datagrams (rudp's default mtu), ${CEILING_BURST} per turn`,
  "  of the sender's event loop; the figure is the receiver's rate (bytes received over its first to last datagram), the loss its misses.",
];

export async function benchRudp(opts: RudpBenchOptions, buildDir: string, progress: (text: string) => void): Promise<RudpSection> {
  const started = Date.now();
  // Generous: on a loaded 2-core machine a full section took 30 minutes (docs/performance.md).
  const budgetMs = opts.quick ? 420_000 : 2_700_000;
  progress('rudp: building the ENet peer');
  const enet = buildEnetPeer(join(ROOT, 'scripts', 'bench', 'enet-peer.c'), join(buildDir, 'scripts', 'bench'));
  const pathNames = arg('rudp-paths')?.split(',');
  const paths = PATHS.filter((p) => !pathNames || pathNames.includes(p.name));
  const all = !opts.only || opts.only.includes('rudp');
  const api = await rudpApi();
  const list = rudpWorkloads(opts.quick, api.api).filter((w) => all || opts.only!.includes(w.name));
  const cells: RudpCell[] = [];
  /** rudp unreliable messages missing from the engine: said once, not tried on every path. */
  const missing = new Map<string, string>();
  const total = list.length * paths.length * opts.pairs;
  let step = 0;
  for (const w of list) {
    for (const path of paths) {
      const cell = newCell(w, path);
      cells.push(cell);
      const impls = (['rudp', 'enet', w.baseline, w.ceiling] as Array<Impl | null>).filter((i): i is Impl => i !== null && runsOn(w, i, path));
      if (!enet.binary) cell.absent.enet = enet.note;
      /** Implementations that timed out here: another round would only take as long again. */
      const gaveUp = new Set<Impl>();
      for (let round = 0; round < opts.pairs && !cell.skipped; round++) {
        step++;
        for (const impl of impls) {
          if (Date.now() - started > budgetMs) {
            cell.skipped = true;
            cell.errors.push(`skipped: the rudp section's time budget (${budgetMs / 1000} s) was used up`);
            break;
          }
          if (impl === 'rudp' && missing.has(w.name)) cell.absent.rudp = missing.get(w.name);
          if (cell.absent[impl] || gaveUp.has(impl)) continue;
          progress(`rudp ${step}/${total}: ${w.title}, ${path.title}, ${IMPL_TITLE[impl]} (round ${round + 1}/${opts.pairs})`);
          const out = await runImpl(buildDir, w, path, impl, round, opts);
          if (typeof out.result?.unavailable === 'string') {
            missing.set(w.name, out.result.unavailable);
            cell.absent.rudp = out.result.unavailable;
            continue;
          }
          (cell.runs[impl] ??= []).push(toRun(w, out));
          const errors = impl === w.ceiling ? cell.ceilingErrors : cell.errors;
          const who = impl === w.ceiling ? `${IMPL_TITLE[impl]} ceiling` : IMPL_TITLE[impl];
          for (const e of out.errors) errors.push(`${who} round ${round + 1}: ${e}`);
          if (out.errors.some((e) => e.startsWith('no result within'))) {
            gaveUp.add(impl);
            errors.push(`${who}: not run again on this path after a time-out`);
          }
        }
      }
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const lines = [
    `rudp (issue #20): messages over UDP against ${enet.binary ? 'ENet' : 'ENet (skipped)'}, the TCP message socket and raw dgram; ${opts.pairs} rounds, ratios are medians of the pair ratios`,
    rudpTable(cells),
    '',
    `  rudp's reliable workloads through ${api.api === 1 ? 'a message socket (createMessageSocket), as the TCP baseline' : "the rudp socket's own send/recv (one message each)"} ${api.note}`,
    ...rudpDetails(cells),
    `  ${enet.note}`,
    '  rudp at its defaults (mtu 1200), ENet at its defaults (MTU 1400). The relay (relay.ts, one Node process) forwards both ways and drops the',
    '  seeded share in each direction; the TCP message socket cannot cross it (it forwards datagrams), so it runs on loopback only.',
    ...CEILING_NOTE,
    `  sizes: ${list.map((w) => `${w.title}: ${w.sizeText}`).join('; ')}; section took ${seconds} s`,
  ];
  if (opts.markdown) lines.push('', rudpTable(cells, true));
  const json = {
    enet: enet.note,
    ceiling: CEILING_NOTE.map((l) => l.trim()).join(' '),
    sizes: Object.fromEntries(list.map((w) => [w.name, w.size])),
    cells: cells.map((c) => ({ ...c, summary: summariseCell(c) })),
  };
  return { lines, json };
}

/** `--profile=rudp-bulk[:tcp|:dgram][@path]`: one run with both Node peers under --cpu-prof; the top functions by self time. */
export async function profileRudp(spec: string, opts: RudpBenchOptions, buildDir: string, top: number): Promise<void> {
  const [head, pathName = 'loopback'] = spec.split('@');
  const [name, which = 'rudp'] = head.split(':');
  const w = rudpWorkloads(opts.quick, (await rudpApi()).api).find((x) => x.name === name);
  const path = PATHS.find((p) => p.name === pathName);
  const impl = which as Impl;
  if (!w || !path || !w.peers[impl] || impl === 'enet')
    throw new Error(`cannot profile ${spec}: rudp-bulk|rudp-pingpong|rudp-unrel[:rudp|tcp|dgram][@${PATHS.map((p) => p.name).join('|')}]`);
  if (!runsOn(w, impl, path)) throw new Error(`cannot profile ${spec}: ${IMPL_TITLE[impl]} does not run ${w.title} on ${path.title}`);
  const dir = join(buildDir, 'profiles');
  mkdirSync(dir, { recursive: true });
  const flags = (role: string): string[] => ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${role}.cpuprofile`];
  const out = await runImpl(buildDir, w, path, impl, 0, opts, flags);
  const run = toRun(w, out);
  console.log(
    `${w.title}, ${path.title}, ${IMPL_TITLE[impl]} (${w.peers[impl]!.sizeText ?? w.sizeText}): ${fmt(run.value, w.unit)} under the profiler` +
      (run.p99Ms ? `, p99 ${fmt(run.p99Ms, 'ms')}` : '') +
      (run.sent ? `, ${run.lost} of ${run.sent} lost` : '') +
      (run.offeredMiBs ? `, the sender offered ${fmt(run.offeredMiBs, 'MiB/s')}` : ''),
  );
  for (const e of out.errors) console.log(`  ERROR ${e}`);
  const window = out.result?.windowUs as [number, number] | undefined;
  for (const f of readdirSync(dir).sort()) {
    console.log(`\n${f}:`);
    console.log(summarise(JSON.parse(readFileSync(join(dir, f), 'utf8')), top, window));
  }
}
