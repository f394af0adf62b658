// The workloads of issue #6: what each side runs, the sizes (full and --quick), the figure,
// and the target. Both implementations of a workload get exactly the same sizes.
import { createTcpSocketProvider, SocketErrorCode, USocket } from '../../lib';
import type { Message } from './runner';

const MiB = 1 << 20;

export type Target =
  /** framework/raw (median of the pair ratios) at least `min`. */
  | { kind: 'ratio'; min: number }
  /** framework per-connection bytes at most raw + `slack`. */
  | { kind: 'memory'; slack: number }
  /** every run correct, no errors (the figure is information only). */
  | { kind: 'correct'; text: string };

export interface Workload {
  name: string;
  title: string;
  transport: 'tcp' | 'tls' | 'local' | 'udp';
  server: string;
  client: string;
  measuredBy: 'client' | 'server';
  size: Record<string, number>;
  sizeText: string;
  unit: string;
  higherIsBetter: boolean;
  figure(r: Message): number;
  target: Target;
  /** A/B pairs, fixed (default: the run's setting). */
  pairs?: number;
  /**
   * Its runs take a second or two, so a passing hiccup of the machine weighs more in one run:
   * it gets the run's larger number of pairs (`shortPairs`, 5 by default).
   */
  shortRuns?: boolean;
  timeoutMs: number;
  serverFlags?: string[];
  /** A group `--only=` may name instead of each workload (`multicore`). */
  group?: string;
  /** Placement left to the OS (the multi-core workloads: a server of 2 workers pinned to one CPU would be pointless). */
  unpinned?: boolean;
}

const mibps = (r: Message): number => Number(r.bytes) / MiB / (Number(r.ms) / 1000);
const per =
  (key: string) =>
  (r: Message): number =>
    Number(r[key]) / (Number(r.ms) / 1000);
const sizeOf = (bytes: number): string => (bytes >= 1 << 30 ? `${bytes / (1 << 30)} GiB` : `${bytes / MiB} MiB`);
const count = (n: number): string => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

export function workloads(quick: boolean): Workload[] {
  const q = <T>(full: T, short: T): T => (quick ? short : full);
  const bulkBytes = q(1024 * MiB, 128 * MiB);
  const tlsBytes = q(256 * MiB, 64 * MiB);
  const rounds = q(100_000, 10_000);
  const warmup = q(2000, 1000);
  const fanConns = q(100, 25);
  const fanBytes = q(8 * MiB, 4 * MiB);
  const datagrams = q(200_000, 20_000);
  const accepts = q(20_000, 4000);
  const idle = q(5000, 2000);
  const upgrades = q(2000, 300);
  const concurrent = 10_000;
  const timeoutMs = q(120_000, 45_000);

  const bulk = (name: string, title: string, transport: 'tcp' | 'tls' | 'local', bytes: number, min: number): Workload => ({
    name,
    title,
    transport,
    server: 'sink',
    client: 'bulk',
    measuredBy: 'client',
    size: { conns: 1, perConn: bytes },
    sizeText: `${sizeOf(bytes)} in 64 KiB sends, 64 KiB partial recvs`,
    unit: 'MiB/s',
    higherIsBetter: true,
    figure: mibps,
    target: { kind: 'ratio', min },
    shortRuns: true,
    timeoutMs,
  });
  const pingpong = (name: string, title: string, transport: 'tcp' | 'tls' | 'local'): Workload => ({
    name,
    title,
    transport,
    server: 'echo64',
    client: 'pingpong',
    measuredBy: 'client',
    size: { rounds, warmup },
    sizeText: `64 B, ${count(rounds)} round trips (+${count(warmup)} warm-up), 1 connection`,
    unit: 'round trips/s',
    higherIsBetter: true,
    figure: per('rounds'),
    target: { kind: 'ratio', min: 0.95 },
    timeoutMs,
  });

  return [
    bulk('tcp-bulk', 'TCP bulk', 'tcp', bulkBytes, 1.0),
    pingpong('tcp-pingpong', 'TCP ping-pong', 'tcp'),
    {
      ...bulk('tcp-fanin', 'TCP fan-in', 'tcp', fanBytes, 1.0),
      size: { conns: fanConns, perConn: fanBytes },
      sizeText: `${fanConns} connections × ${sizeOf(fanBytes)}, 64 KiB sends/recvs`,
      target: { kind: 'correct', text: 'correct (no ratio target)' },
    },
    bulk('tls-bulk', 'TLS 1.3 bulk', 'tls', tlsBytes, 0.95),
    pingpong('tls-pingpong', 'TLS 1.3 ping-pong', 'tls'),
    bulk('local-bulk', 'Local socket bulk', 'local', bulkBytes, 1.0),
    pingpong('local-pingpong', 'Local socket ping-pong', 'local'),
    {
      name: 'udp-rate',
      title: 'UDP datagram rate',
      transport: 'udp',
      server: 'udp-echo',
      client: 'udp-pump',
      measuredBy: 'client',
      size: { datagrams, window: 256 },
      sizeText: `${count(datagrams)} × 512 B echoed, credit window 256`,
      unit: 'datagrams/s',
      higherIsBetter: true,
      figure: per('datagrams'),
      target: { kind: 'ratio', min: 0.95 },
      shortRuns: true,
      timeoutMs,
    },
    {
      name: 'accept-rate',
      title: 'TCP accept rate',
      transport: 'tcp',
      server: 'accept-server',
      client: 'accept-client',
      measuredBy: 'client',
      size: { total: accepts, inflight: 50 },
      sizeText: `${count(accepts)} connect / 1-byte greeting / close, 50 in flight`,
      unit: 'connections/s',
      higherIsBetter: true,
      figure: per('connections'),
      target: { kind: 'ratio', min: 0.9 },
      shortRuns: true,
      timeoutMs,
    },
    {
      name: 'idle-memory',
      title: 'Memory per idle TCP connection',
      transport: 'tcp',
      server: 'idle-server',
      client: 'idle-client',
      measuredBy: 'server',
      size: { conns: idle, inflight: 50, afterOpen: 0, measure: 1 },
      sizeText: `${count(idle)} connections, one 64 B echo each, server RSS slope`,
      unit: 'B/connection',
      higherIsBetter: false,
      figure: (r) => Number(r.perConn),
      target: { kind: 'memory', slack: 2048 },
      timeoutMs,
      serverFlags: ['--expose-gc'],
    },
    {
      name: 'starttls',
      title: 'STARTTLS upgrade rate',
      transport: 'tcp',
      server: 'starttls-server',
      client: 'starttls-client',
      measuredBy: 'client',
      size: { total: upgrades, inflight: 10 },
      sizeText: `${count(upgrades)} × (connect, "S", upgrade, 64 B echo, close), 10 in flight`,
      unit: 'upgrades/s',
      higherIsBetter: true,
      figure: per('upgrades'),
      target: { kind: 'correct', text: 'correct (no ratio target)' },
      timeoutMs,
    },
    {
      name: 'concurrent-10k',
      title: '10,000 concurrent TCP connections',
      transport: 'tcp',
      server: 'idle-server',
      client: 'idle-client',
      measuredBy: 'client',
      size: { conns: concurrent, inflight: 200, afterOpen: 1, measure: 0 },
      sizeText: `${count(concurrent)} open at once, then one 64 B echo on each`,
      unit: 'connections/s',
      higherIsBetter: true,
      figure: per('echoed'),
      target: { kind: 'correct', text: 'all 10,000 echo correctly, no errors' },
      pairs: 1,
      timeoutMs,
    },
    // Issue #18: tcp-bulk again, the framework side written with the async layer (await write,
    // readSome) and with toDuplex (stream.pipeline, pipe), against the same raw Node: the cost of
    // each layer is its ratio beside tcp-bulk's in the same run.
    {
      ...bulk('tcp-bulk-async', 'TCP bulk, async layer', 'tcp', bulkBytes, 0.9),
      server: 'sink-async',
      client: 'bulk-async',
      sizeText: `${sizeOf(bulkBytes)}: await write() of 64 KiB, readSome() of 64 KiB (socket-provider/async)`,
    },
    {
      ...bulk('tcp-bulk-duplex', 'TCP bulk, toDuplex', 'tcp', bulkBytes, 0.8),
      server: 'sink-duplex',
      client: 'bulk-duplex',
      sizeText: `${sizeOf(bulkBytes)}: pipeline() of 64 KiB chunks into toDuplex, pipe() out of it`,
    },
    ...multicoreWorkloads(quick),
  ];
}

/** Whether this Node has the reusePort option (asked through the public API: createSocket throws where it has not). */
export function reusePortAvailable(): boolean {
  class Quiet extends USocket {
    socketShutdown(): void {}
  }
  try {
    createTcpSocketProvider().createSocket(new Quiet(), { reusePort: true }).shutdown();
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === SocketErrorCode.ReusePortUnavailable) return false;
    throw err;
  }
}

/**
 * Issue #17: TCP accept rate and ping-pong over 100 connections against a server of 1 and of 2
 * `cluster` workers, and of 2 workers with reusePort where the running Node has it. The load
 * generator (one client process) shares the machine's cores with the workers.
 */
export function multicoreWorkloads(quick: boolean): Workload[] {
  const q = <T>(full: T, short: T): T => (quick ? short : full);
  const accepts = q(6000, 2000);
  const rounds = q(300, 100);
  const modes: Array<[string, string, Record<string, number>]> = [
    ['1w', '1 worker', { workers: 1 }],
    ['2w', '2 workers', { workers: 2 }],
  ];
  if (reusePortAvailable()) modes.push(['2w-reuseport', '2 workers, reusePort', { workers: 2, reusePort: 1 }]);
  const out: Workload[] = [];
  for (const [suffix, text, server] of modes) {
    out.push({
      name: `mc-accept-${suffix}`,
      title: `Multi-core accept rate, ${text}`,
      transport: 'tcp',
      server: 'accept-server',
      client: 'accept-client',
      measuredBy: 'client',
      size: { total: accepts, inflight: 100, ...server },
      sizeText: `${count(accepts)} connect / 1-byte greeting / close, 100 in flight; server: cluster of ${text}`,
      unit: 'connections/s',
      higherIsBetter: true,
      figure: per('connections'),
      target: { kind: 'correct', text: 'correct (scaling below)' },
      pairs: 2,
      timeoutMs: 60_000,
      group: 'multicore',
      unpinned: true,
    });
    out.push({
      name: `mc-pingpong-${suffix}`,
      title: `Multi-core ping-pong ×100, ${text}`,
      transport: 'tcp',
      server: 'echo64',
      client: 'pingpong-many',
      measuredBy: 'client',
      size: { conns: 100, rounds, ...server },
      sizeText: `100 connections × ${rounds} round trips of 64 B, all at once; server: cluster of ${text}`,
      unit: 'round trips/s',
      higherIsBetter: true,
      figure: per('rounds'),
      target: { kind: 'correct', text: 'correct (scaling below)' },
      pairs: 2,
      timeoutMs: 60_000,
      group: 'multicore',
      unpinned: true,
    });
  }
  return out;
}

/** Lines on how the multi-core rows scale: 2 workers / 1 worker, per implementation. */
export function multicoreScaling(rows: Array<{ name: string; fwMedian: number | null; rawMedian: number | null }>): string[] {
  const by = new Map(rows.map((r) => [r.name, r]));
  const lines: string[] = [];
  for (const [kind, title] of [
    ['accept', 'accept rate'],
    ['pingpong', 'ping-pong ×100'],
  ]) {
    const one = by.get(`mc-${kind}-1w`);
    if (!one) continue;
    for (const [suffix, text] of [
      ['2w', '2 workers (cluster)'],
      ['2w-reuseport', '2 workers (reusePort)'],
    ]) {
      const two = by.get(`mc-${kind}-${suffix}`);
      if (!two) continue;
      const r = (a: number | null, b: number | null): string => (a !== null && b !== null && b > 0 ? (a / b).toFixed(2) : '—');
      lines.push(`  ${title}, ${text} / 1 worker: framework ${r(two.fwMedian, one.fwMedian)}, raw Node ${r(two.rawMedian, one.rawMedian)}`);
    }
  }
  return lines;
}
