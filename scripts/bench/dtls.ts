// DTLS figures for `npm run bench` (issue #19). Node has no DTLS, so there is no raw-Node side:
// the reference is the framework's own UDP echo (the `udp-rate` workload's framework peers),
// run in the same rounds. Every run is a server process (a DTLS listener for many peers,
// dtls-fw.ts) and a client process, pinned like the other workloads (server CPU 0, client
// CPU 1 by default), so the clients' CPU never counts against the server.
//
// Each round runs: UDP echo (1 peer), DTLS echo (1 peer), DTLS echo (100 peers on one port);
// the ratios DTLS/UDP are taken round by round. Then the handshake runs: 50 in flight, and one
// at a time (latency). Medians and the spread (min–max) of every figure are reported.
import type { Target } from './common';
import { fmt, median } from './report';
import { runOnce, RunOutcome } from './runner';
import { Workload, workloads } from './workloads';

const per =
  (key: string) =>
  (r: Record<string, unknown>): number =>
    Number(r[key]) / (Number(r.ms) / 1000);

/** The DTLS workloads (for `--profile=NAME` too). */
export function dtlsWorkloads(quick: boolean): Workload[] {
  const q = <T>(full: T, short: T): T => (quick ? short : full);
  const datagrams = q(100_000, 20_000);
  const timeoutMs = q(120_000, 45_000);
  const echo = (name: string, title: string, peers: number, window: number): Workload => ({
    name,
    title,
    transport: 'udp',
    server: 'dtls-echo',
    client: 'dtls-pump',
    measuredBy: 'client',
    size: { peers, datagrams, window },
    sizeText: `${datagrams / 1000}k × 512 B echoed, ${peers} peer${peers > 1 ? 's' : ''} on one port, credit window ${Math.ceil(window / peers)}${peers > 1 ? ' per peer' : ''}`,
    unit: 'datagrams/s',
    higherIsBetter: true,
    figure: per('datagrams'),
    target: { kind: 'correct', text: 'correct (compared with UDP)' },
    timeoutMs,
  });
  const handshakes = (name: string, title: string, total: number, inflight: number): Workload => ({
    name,
    title,
    transport: 'udp',
    server: 'dtls-echo',
    client: 'dtls-handshake',
    measuredBy: 'client',
    size: { total, inflight, warmup: 10 },
    sizeText: `${total} sessions (UDP connect, DTLS 1.2 handshake with cookie exchange, ECDSA P-256 certificate, X25519, AES-128-GCM, DTLS-SRTP, close_notify), ${inflight} in flight, after 10 for warm-up`,
    unit: 'handshakes/s',
    higherIsBetter: true,
    figure: per('handshakes'),
    target: { kind: 'correct', text: 'correct' },
    timeoutMs,
  });
  return [
    echo('dtls-echo-1', 'DTLS 512 B echo, 1 peer', 1, 256),
    echo('dtls-echo-100', 'DTLS 512 B echo, 100 peers on one port', 100, 300),
    handshakes('dtls-handshakes', 'DTLS handshakes, 50 in flight', q(500, 200), 50),
    handshakes('dtls-handshake-latency', 'DTLS handshake, one at a time', q(20, 5), 1),
  ];
}

export interface DtlsBenchSetup {
  quick: boolean;
  rounds: number;
  peer: string;
  pin: { server: string; client: string } | null;
  targetFor: (w: Workload, run: number) => Target;
  /** `--only`: DTLS workload names (the UDP reference runs with any echo), or null / `dtls` for all. */
  only: string[] | null;
  /** Date.now() after which no run starts. */
  deadline: number;
  progress: (text: string) => void;
}

/** One figure's runs. */
interface Series {
  title: string;
  unit: string;
  values: number[];
  /** CPU time per datagram echoed (µs) or per handshake (ms), of each run. */
  serverCpu: number[];
  clientCpu: number[];
  /** The handshake runs: the median time of one handshake (ms). */
  extra: number[];
  /** Share of the machine's CPU that other processes used during each run (0..1). */
  otherLoad: number[];
  errors: string[];
}

const spread = (xs: number[]): string => (xs.length === 0 ? '—' : `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`);

function describe(s: Series): string {
  const m = median(s.values);
  return `${fmt(m, s.unit)} (median of ${s.values.length}; spread ${spread(s.values)})`;
}

/**
 * [server, client] CPU time per unit of one run: µs per datagram echoed, ms per handshake. The
 * DTLS runs count only their measured part (the server samples its CPU while its count grows,
 * the client measures its window), so the handshakes before an echo, and the warm-up sessions
 * and werift's loading before the handshake runs, stay out; UDP counts each process from after
 * its modules loaded to its quit.
 */
function cpuPerUnit(out: RunOutcome): [number, number] {
  const r = out.result!;
  const handshakes = r.handshakes !== undefined;
  const n = Number(handshakes ? r.handshakes : r.datagrams);
  const scale = handshakes ? 1 : 1000; // ms per handshake, µs per datagram
  const window = out.serverFinal?.[handshakes ? 'acceptWindow' : 'echoWindow'] as { count: number; cpuMs: number } | null | undefined;
  if (r.windowCpuMs === undefined) return [(scale * (out.serverCpuMs ?? NaN)) / n, (scale * (out.clientCpuMs ?? NaN)) / n];
  return [window ? (scale * window.cpuMs) / window.count : NaN, (scale * Number(r.windowCpuMs)) / n];
}

/** The DTLS figures as [what, value] rows, and the raw series for results.json. */
export async function benchDtls(setup: DtlsBenchSetup): Promise<{ rows: Array<[string, string]>; series: Series[] }> {
  const list = dtlsWorkloads(setup.quick);
  const byName = (n: string): Workload => list.find((w) => w.name === n)!;
  const udpW = workloads(setup.quick).find((w) => w.name === 'udp-rate')!;
  const series = new Map<string, Series>();
  const seriesOf = (w: Workload): Series => {
    let s = series.get(w.name);
    if (!s) series.set(w.name, (s = { title: w.title, unit: w.unit, values: [], serverCpu: [], clientCpu: [], extra: [], otherLoad: [], errors: [] }));
    return s;
  };
  let runNo = 0;
  const wanted = (name: string): boolean => !setup.only || setup.only.includes('dtls') || setup.only.includes(name);
  const run = async (w: Workload, label: string): Promise<RunOutcome | null> => {
    if (w !== udpW && !wanted(w.name)) return null;
    if (w === udpW && !wanted('dtls-echo-1') && !wanted('dtls-echo-100')) return null;
    if (Date.now() > setup.deadline) {
      seriesOf(w).errors.push('skipped: the time budget was used up');
      return null;
    }
    setup.progress(`DTLS: ${label}`);
    const out = await runOnce(setup.peer, {
      workload: w.name,
      impl: 'fw',
      server: w.server,
      client: w.client,
      target: setup.targetFor(w, 1000 + ++runNo),
      size: w.size,
      measuredBy: w.measuredBy,
      timeoutMs: w.timeoutMs,
      pin: setup.pin,
    });
    const s = seriesOf(w);
    for (const e of out.errors) s.errors.push(e);
    if (out.otherLoad !== null) s.otherLoad.push(out.otherLoad);
    const value = out.result ? w.figure(out.result) : NaN;
    if (Number.isFinite(value) && out.errors.length === 0) {
      s.values.push(value);
      s.extra.push(Number(out.result!.medianMs ?? NaN));
      const [server, client] = cpuPerUnit(out);
      if (Number.isFinite(server)) s.serverCpu.push(server);
      if (Number.isFinite(client)) s.clientCpu.push(client);
    }
    return out;
  };

  const ratios1: number[] = [];
  const ratios100: number[] = [];
  for (let r = 0; r < setup.rounds; r++) {
    const udp = await run(udpW, `round ${r + 1}/${setup.rounds}: UDP echo, 1 peer`);
    const one = await run(byName('dtls-echo-1'), `round ${r + 1}/${setup.rounds}: DTLS echo, 1 peer`);
    const hundred = await run(byName('dtls-echo-100'), `round ${r + 1}/${setup.rounds}: DTLS echo, 100 peers`);
    const u = udp?.result && udp.errors.length === 0 ? udpW.figure(udp.result) : null;
    if (u && one?.result && one.errors.length === 0) ratios1.push(byName('dtls-echo-1').figure(one.result) / u);
    if (u && hundred?.result && hundred.errors.length === 0) ratios100.push(byName('dtls-echo-100').figure(hundred.result) / u);
  }
  await run(byName('dtls-handshake-latency'), 'one handshake at a time');
  for (let r = 0; r < setup.rounds; r++) await run(byName('dtls-handshakes'), `handshakes, 50 in flight (${r + 1}/${setup.rounds})`);

  const udpS = series.get(udpW.name);
  const rows: Array<[string, string]> = [];
  const ratioText = (xs: number[]): string =>
    xs.length === 0 ? '—' : `${median(xs)!.toFixed(2)}× the UDP rate (per round: ${xs.map((x) => x.toFixed(2)).join(' ')})`;
  const cpuPer = (xs: number[], unit: string): string => (xs.length ? `${fmt(median(xs))} ${unit}` : '—');
  const ran = (w: Workload): boolean => series.has(w.name);
  if (udpS) rows.push([`UDP 512 B echo, 1 peer (${udpW.sizeText}), same rounds`, describe(udpS)]);
  for (const [name, ratios] of [
    ['dtls-echo-1', ratios1],
    ['dtls-echo-100', ratios100],
  ] as const) {
    if (!ran(byName(name))) continue;
    const s = seriesOf(byName(name));
    rows.push([`${s.title} (${byName(name).sizeText})`, describe(s)]);
    rows.push(['  against UDP', ratioText(ratios)]);
    rows.push([
      '  CPU per datagram echoed',
      `server ${cpuPer(s.serverCpu, 'µs')}, client ${cpuPer(s.clientCpu, 'µs')} (UDP: server ${cpuPer(udpS?.serverCpu ?? [], 'µs')}, client ${cpuPer(udpS?.clientCpu ?? [], 'µs')})`,
    ]);
  }
  const hsW = byName('dtls-handshakes');
  const hs = series.get(hsW.name);
  if (hs) {
    rows.push([`${hs.title} (${hsW.size.total} sessions; clients in a separate process)`, describe(hs)]);
    rows.push(['  CPU per handshake', `server ${cpuPer(hs.serverCpu, 'ms')}, client ${cpuPer(hs.clientCpu, 'ms')}`]);
    rows.push(['  handshake time with 50 in flight', `${fmt(median(hs.extra.filter(Number.isFinite)))} ms (median of the runs' medians)`]);
  }
  const latW = byName('dtls-handshake-latency');
  const lat = series.get(latW.name);
  if (lat) rows.push([`${lat.title} (median of ${latW.size.total})`, `${fmt(median(lat.extra.filter(Number.isFinite)))} ms`]);
  const load = [...series.values()].flatMap((s) => s.otherLoad);
  if (load.length > 0) {
    rows.push([
      'other processes on the machine during these runs',
      `${Math.round(100 * median(load)!)} % of its CPU (median; max ${Math.round(100 * Math.max(...load))} %): figures from a shared machine`,
    ]);
  }
  for (const s of series.values()) for (const e of s.errors.slice(0, 5)) rows.push([`ERROR ${s.title}`, e]);
  return { rows, series: [...series.values()] };
}
