// `npm run bench` (`-- --quick` for a short run): socket-provider against raw Node, issue #6.
//
// Each workload is written twice (stream-fw.ts / conn-fw.ts / udp.ts with the framework's
// public API; stream-raw.ts / conn-raw.ts / udp.ts in plain Node). Every run starts a server
// process and a client process of one implementation (compiled once, see build.ts), waits
// until the server is ready, and takes the figure the measuring side reports. Runs alternate
// framework, raw, framework, raw… (A/B pairs); the table gives the median of each side and the
// ratio framework/raw pair by pair, whose median is checked against the target. DTLS
// has no raw counterpart (Node has no DTLS): dtls.ts measures the framework alone.
//
// Options:
//   --quick            small sizes (128 MiB bulk, 10k round trips, fewer connections), < 2 min
//   --pairs=N          A/B pairs per workload (default 3, and 5 for the workloads whose runs take
//                      a second or two: bulk, fan-in, UDP, accept rate)
//   --only=a,b         only these workloads (names as in workloads.ts; `dtls` for DTLS; `multicore`
//                      for the multi-core section: accept rate and ping-pong ×100 against 1 and 2
//                      cluster workers, and 2 with reusePort where Node has it)
//   --pin=MODE         split (default: server on CPU 0, client on CPU 1), same (both on 0), none
//   --no-dtls          skip the DTLS figures
//   --out=DIR          where results.json/.svg go (a full run: docs/bench/; a quick run: nowhere)
//   --profile=NAME[:raw]  one run of a workload with both peers under `node --cpu-prof`, summarised
//                      (the top 15 functions by self time; --top=N for more)
//   --heap             one idle-memory run per side with heap snapshots, growth per connection compared
//   --redraw           results.svg again from results.json, no runs
//   --markdown         the tables in Markdown too
//   --no-rudp, --rudp-paths=…, --only=rudp  the rudp section (rudp-bench.ts: rudp against ENet, TCP, dgram)
// Figures are printed, never asserted: speed is not part of `npm test`.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { makeTestPki } from '../certs';
import { buildPeers, ROOT } from './build';
import type { Target } from './common';
import { summarise } from './cpuprofile';
import { benchDtls } from './dtls';
import { compareHeaps, groupHeap, growth, HeapGroups } from './heapsnapshot';
import { cpuTable, fmt, makeRow, Row, Runs, svg, table } from './report';
import { runOnce } from './runner';
import { benchRudp, profileRudp, RudpSection, rudpWanted } from './rudp-bench';
import { multicoreScaling, Workload, workloads } from './workloads';

interface Options {
  quick: boolean;
  pairs: number;
  /** Pairs for the workloads with short runs (Workload.shortRuns). */
  shortPairs: number;
  only: string[] | null;
  dtls: boolean;
  out: string | null;
  profile: string | null;
  pin: { server: string; client: string } | null;
  pinText: string;
}

/**
 * Where the peers run. Left to the OS, a ping-pong pair lands sometimes on one CPU and
 * sometimes on two, and the rate differs by 4× between the two (a cross-CPU wake-up is slow in
 * this VM): the default pins the server to CPU 0 and the client to CPU 1, for every run of
 * both implementations. `--pin=same` puts both on CPU 0 (measures CPU cost more than latency),
 * `--pin=none` leaves placement to the OS.
 */
function pinning(arg: string | undefined): { pin: Options['pin']; pinText: string } {
  const haveTaskset = ['/usr/bin/taskset', '/bin/taskset', '/usr/local/bin/taskset'].some((f) => existsSync(f));
  const mode = arg ?? 'split';
  if (mode === 'none' || !haveTaskset || cpus().length < 2) return { pin: null, pinText: 'not pinned (placement left to the OS)' };
  if (mode === 'same') return { pin: { server: '0', client: '0' }, pinText: 'server and client both pinned to CPU 0' };
  return { pin: { server: '0', client: '1' }, pinText: 'server pinned to CPU 0, client to CPU 1' };
}

function parseArgs(argv: string[]): Options {
  const get = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = argv.includes('--quick');
  return {
    quick,
    pairs: Number(get('pairs') ?? 3),
    shortPairs: Number(get('pairs') ?? 5),
    only: get('only')?.split(',') ?? null,
    dtls: !argv.includes('--no-dtls'),
    out: get('out') ?? (quick ? null : join(ROOT, 'docs', 'bench')),
    profile: get('profile') ?? null,
    ...pinning(get('pin')),
  };
}

const tty = process.stderr.isTTY;
const t0 = Date.now();
function progress(text: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(0).padStart(4);
  if (tty) process.stderr.write(`\r\x1b[K[${s}s] ${text}`);
  else process.stderr.write(`[${s}s] ${text}\n`);
}
function progressDone(): void {
  if (tty) process.stderr.write('\r\x1b[K');
}

function cpuModel(): string {
  return cpus()[0]?.model ?? 'unknown';
}

/** `--redraw`: rewrites results.svg from the results.json next to it (no runs). */
function redraw(dir: string): void {
  const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as {
    mode: string;
    date: string;
    node: string;
    cpu: string;
    cores: number;
    workloads: Row[];
  };
  writeFileSync(join(dir, 'results.svg'), svg(json.workloads, `${json.mode} run, ${json.date.slice(0, 10)}, Node ${json.node}, ${json.cpu} × ${json.cores}`));
  console.log(table(json.workloads));
  if (process.argv.includes('--markdown')) console.log('\n' + table(json.workloads, true) + '\n\n' + cpuTable(json.workloads, true));
  console.log(`rewrote ${join(dir, 'results.svg')}`);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (process.argv.includes('--redraw')) {
    redraw(opts.out ?? join(ROOT, 'docs', 'bench'));
    return;
  }
  const mode = opts.quick ? 'quick' : 'full';
  console.log(`socket-provider bench (${mode}), Node ${process.version}, ${cpuModel()} × ${cpus().length}; ${opts.pinText}`);
  const build = buildPeers();
  const pki = await makeTestPki();
  const caFile = join(build.dir, 'ca.pem');
  const serverPemFile = join(build.dir, 'server.pem');
  writeFileSync(caFile, pki.ca);
  writeFileSync(serverPemFile, pki.server);
  const targetFor = (w: Workload, run: number): Target => ({
    kind: w.transport,
    port: 0,
    path: join(build.dir, `${w.name}-${run}.sock`),
    caFile,
    serverPemFile,
  });

  const rudpOpts = { quick: opts.quick, pairs: opts.pairs, pin: opts.pin, only: opts.only, markdown: process.argv.includes('--markdown') };
  try {
    if (opts.profile?.startsWith('rudp-')) {
      await profileRudp(opts.profile, rudpOpts, build.dir, Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 15));
      return;
    }
    if (opts.profile) {
      await profile(opts, build.peer, build.dir, targetFor);
      return;
    }
    if (process.argv.includes('--heap')) {
      await heap(opts, build.peer, targetFor);
      return;
    }
    const list = workloads(opts.quick).filter((w) => !opts.only || opts.only.includes(w.name) || (w.group !== undefined && opts.only.includes(w.group)));
    const budgetMs = opts.quick ? 110_000 : 540_000; // leave room for DTLS and the report
    const pairsOf = (w: Workload): number => w.pairs ?? (w.shortRuns ? opts.shortPairs : opts.pairs);
    const totalRuns = list.reduce((n, w) => n + 2 * pairsOf(w), 0);
    let runNo = 0;
    let fdLimit: number | null = null;
    const loadBefore = loadavg();
    if (loadBefore[0] > 0.5) console.log(`note: load average ${loadBefore[0].toFixed(2)} before the run: other processes use the CPU, figures will be noisy`);
    const rows: Row[] = [];
    for (const w of list) {
      const pairs = pairsOf(w);
      const runs: Runs = { fw: [], raw: [], fwCpuMs: [], rawCpuMs: [], errors: [], notes: [], skipped: false, otherLoad: [], wallMs: [] };
      const { errors, notes } = runs;
      for (let p = 0; p < pairs && !runs.skipped; p++) {
        for (const impl of ['fw', 'raw'] as const) {
          if (Date.now() - t0 > budgetMs) {
            runs.skipped = true;
            errors.push(`skipped: the run's time budget (${budgetMs / 1000} s) was used up`);
            break;
          }
          runNo++;
          progress(`${runNo}/${totalRuns} ${w.name} ${impl === 'fw' ? 'framework' : 'raw Node'} (pair ${p + 1}/${pairs})`);
          const out = await runOnce(build.peer, {
            workload: w.name,
            impl,
            server: w.server,
            client: w.client,
            target: targetFor(w, runNo),
            size: w.size,
            measuredBy: w.measuredBy,
            timeoutMs: w.timeoutMs,
            serverFlags: w.serverFlags,
            pin: w.unpinned ? null : opts.pin,
          });
          const value = out.result ? w.figure(out.result) : null;
          (impl === 'fw' ? runs.fw : runs.raw).push(value !== null && Number.isFinite(value) ? value : null);
          (impl === 'fw' ? runs.fwCpuMs : runs.rawCpuMs).push(out.cpuMs);
          if (out.fdLimit !== null) fdLimit = out.fdLimit;
          runs.otherLoad.push(out.otherLoad);
          runs.wallMs.push(out.wallMs);
          for (const e of out.errors) errors.push(`${impl === 'fw' ? 'framework' : 'raw'} run ${p + 1}: ${e}`);
          if (w.name === 'idle-memory' && out.result) {
            const r = out.result;
            notes.push(
              `${impl} run ${p + 1}: RSS ${fmt(Number(r.perConn))} B/conn (median of slopes ${(r.rssSlopes as number[]).join(' ')}; 10 %→100 % ${fmt(Number(r.overallPerConn))}), ` +
                `heap ${fmt(Number(r.heapPerConn))} B/conn, RSS growth since start ${fmt(Number(r.rssTotalDelta) / 1048576)} MiB`,
            );
          }
          if (w.name === 'concurrent-10k' && out.result) {
            notes.push(
              `${impl}: ${out.result.echoed}/${out.result.conns} echoed correctly; all open after ${fmt(Number(out.result.connectMs))} ms, all echoed after ${fmt(Number(out.result.ms))} ms`,
            );
          }
        }
      }
      const row = makeRow(w, runs);
      rows.push(row);
      progressDone();
      console.log(
        `  ${w.title}: framework ${fmt(row.fwMedian, w.unit)}, raw ${fmt(row.rawMedian, w.unit)}, ratio ${row.ratio?.toFixed(2) ?? '—'} (${row.status})`,
      );
    }

    let dtlsRows: Array<[string, string]> = [];
    if (opts.dtls && (!opts.only || opts.only.includes('dtls'))) {
      progress('DTLS (framework only: Node has no DTLS)');
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no result within 60 s (a hang)')), 60_000);
      });
      try {
        dtlsRows = await Promise.race([benchDtls(opts.quick), limit]);
      } catch (err) {
        dtlsRows = [['DTLS bench FAILED', String(err instanceof Error ? err.message : err)]];
      } finally {
        clearTimeout(timer);
      }
      progressDone();
    }
    let rudp: RudpSection | null = null;
    if (rudpWanted(opts.only)) {
      try {
        rudp = await benchRudp(rudpOpts, build.dir, progress);
      } catch (err) {
        rudp = { lines: [`rudp bench FAILED: ${String(err instanceof Error ? err.stack : err)}`], json: null };
      }
      progressDone();
    }
    const seconds = (Date.now() - t0) / 1000;

    const loadAfter = loadavg();
    console.log('');
    if (rows.length > 0) console.log(table(rows) + '\n\n' + cpuTable(rows));
    if (dtlsRows.length > 0) {
      console.log('\nDTLS (framework only: Node has no DTLS to compare with)');
      const width = Math.max(...dtlsRows.map(([k]) => k.length));
      for (const [k, v] of dtlsRows) console.log(`  ${k.padEnd(width)}  ${v}`);
    }
    if (rudp) console.log('\n' + rudp.lines.join('\n'));
    const scaling = multicoreScaling(rows);
    if (scaling.length > 0) {
      console.log(`\nmulti-core scaling (median figures; the load generator shares the ${cpus().length} cores with the workers, placement left to the OS):`);
      for (const line of scaling) console.log(line);
    }
    const problems = rows.filter((r) => r.errors.length > 0 || r.notes.length > 0);
    for (const r of problems) {
      console.log(`\n${r.title}:`);
      for (const n of r.notes) console.log(`  ${n}`);
      for (const e of r.errors.slice(0, 10)) console.log(`  ERROR ${e}`);
      if (r.errors.length > 10) console.log(`  … ${r.errors.length - 10} more errors`);
    }
    console.log(`\nsizes (${mode} mode, the same for both implementations):`);
    for (const r of rows) console.log(`  ${r.title}: ${r.size}`);
    const pairsText =
      opts.shortPairs === opts.pairs
        ? `${opts.pairs} A/B pairs`
        : `${opts.pairs} A/B pairs (${opts.shortPairs} for the short runs: bulk, fan-in, UDP, accept rate)`;
    console.log(
      `${mode} mode; ${pairsText} unless stated; open-files limit of the peers ${fdLimit ?? '?'}; load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after; whole run ${seconds.toFixed(0)} s`,
    );

    const json = {
      date: new Date().toISOString(),
      mode,
      node: process.version,
      cpu: cpuModel(),
      cores: cpus().length,
      pairs: opts.pairs,
      shortPairs: opts.shortPairs,
      placement: opts.pinText,
      durationSeconds: Math.round(seconds),
      fdLimit,
      loadAverage: { before: loadBefore, after: loadAfter },
      workloads: rows.map((r) => ({ ...r, sizes: workloads(opts.quick).find((w) => w.name === r.name)?.size })),
      dtls: dtlsRows.map(([what, value]) => ({ what, value })),
      rudp: rudp?.json ?? null,
    };
    if (opts.out) {
      mkdirSync(opts.out, { recursive: true });
      writeFileSync(join(opts.out, 'results.json'), JSON.stringify(json, null, 2) + '\n');
      writeFileSync(
        join(opts.out, 'results.svg'),
        svg(rows, `${mode} run, ${json.date.slice(0, 10)}, Node ${process.version}, ${cpuModel()} × ${cpus().length}`),
      );
      console.log(`wrote ${join(opts.out, 'results.json')} and results.svg`);
    } else {
      console.log('quick run: docs/bench/ left as it is (pass --out=DIR to write results.json/.svg)');
    }
    if (process.argv.includes('--markdown') && rows.length > 0) console.log('\n' + table(rows, true) + '\n\n' + cpuTable(rows, true));
  } finally {
    build.cleanup();
  }
}

/** One framework (or raw) run of a workload with both peers under --cpu-prof; prints the top self-time functions. */
async function profile(opts: Options, peer: string, dir: string, targetFor: (w: Workload, run: number) => Target): Promise<void> {
  const [name, which] = opts.profile!.split(':');
  const w = workloads(opts.quick).find((x) => x.name === name);
  if (!w) throw new Error(`no workload ${name}`);
  const impl = which === 'raw' ? 'raw' : 'fw';
  const profDir = join(dir, 'profiles');
  mkdirSync(profDir, { recursive: true });
  const flags = (role: string): string[] => ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${role}.cpuprofile`];
  progress(`profiling ${w.name} (${impl})`);
  const out = await runOnce(peer, {
    workload: w.name,
    impl,
    server: w.server,
    client: w.client,
    target: targetFor(w, 1),
    size: w.size,
    measuredBy: w.measuredBy,
    timeoutMs: w.timeoutMs,
    serverFlags: [...(w.serverFlags ?? []), ...flags('server')],
    clientFlags: flags('client'),
    pin: opts.pin,
  });
  progressDone();
  console.log(
    `${w.title} (${impl}, ${opts.quick ? 'quick' : 'full'} size: ${w.sizeText}): ${out.result ? fmt(w.figure(out.result), w.unit) : 'no result'} under the profiler`,
  );
  for (const e of out.errors) console.log(`  ERROR ${e}`);
  // Only the measured window counts (start-up and module loading stay out), when the peer reported one.
  const window = out.result?.windowUs as [number, number] | undefined;
  for (const f of readdirSync(profDir).sort()) {
    console.log(`\n${f}:`);
    console.log(
      summarise(JSON.parse(readFileSync(join(profDir, f), 'utf8')), Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 15), window),
    );
  }
}

/** One idle-memory run per implementation with a heap snapshot at the end; prints where the heap differs. */
async function heap(opts: Options, peer: string, targetFor: (w: Workload, run: number) => Target): Promise<void> {
  const w = workloads(opts.quick).find((x) => x.name === 'idle-memory')!;
  const grown: HeapGroups[] = [];
  let between = 0;
  for (const impl of ['fw', 'raw'] as const) {
    progress(`idle-memory (${impl}) with heap snapshots`);
    const target = targetFor(w, impl === 'fw' ? 1 : 2);
    const out = await runOnce(peer, { ...w, workload: w.name, impl, target, size: { ...w.size, snapshot: 1 }, pin: opts.pin });
    for (const e of out.errors) console.log(`  ERROR ${e}`);
    const file = (which: string): string => join(dirname(target.path), `${impl}-${which}.heapsnapshot`);
    grown.push(growth(groupHeap(file('a')), groupHeap(file('b'))));
    between = w.size.conns - Number(out.result?.snapshotAt ?? 0);
  }
  progressDone();
  console.log(`Heap growth while ${between} more idle connections opened (${w.sizeText}; snapshots at 20 % and 100 %):`);
  console.log(compareHeaps(grown[0], grown[1], between));
}

main().then(
  () => process.exit(0),
  (err) => {
    progressDone();
    console.error(err);
    process.exit(1);
  },
);
