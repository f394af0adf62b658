// The rudp section's figures: per workload and path, each implementation's runs, the medians,
// the pair ratios rudp/ENet, rudp/baseline and rudp/ceiling (one pair per round: the
// implementations of a round run one after the other), and the issue's targets. As report.ts
// does for the others. The ceiling (raw dgram without reliability) is context, not a competitor:
// its runs never decide a row's result.
import { fmt, median, pad } from './report';
import { IMPL_TITLE, Impl, RudpPath, RudpTarget, RudpWorkload } from './rudp-workloads';

/** One run's outcome. */
export interface RudpRun {
  /** The figure (MiB/s, round trips/s, messages/s), or null: failed. */
  value: number | null;
  p99Ms?: number;
  p50Ms?: number;
  lost?: number;
  /** Messages or datagrams sent, when the run counts its losses (`lost` of them). */
  sent?: number;
  /** The bulk ceiling's sender: the rate it offered (MiB/s). */
  offeredMiBs?: number;
  cpuMs: number | null;
  /** rudp's own counts (retransmits, packets lost, srtt). */
  facts?: Record<string, unknown>;
}

/** A workload on a path: every run of every implementation, round by round. */
export interface RudpCell {
  workload: string;
  title: string;
  path: string;
  pathTitle: string;
  unit: string;
  baseline: Impl;
  /** The implementation shown as the ceiling, or null. */
  ceiling: Impl | null;
  runs: Partial<Record<Impl, Array<RudpRun | null>>>;
  /** Why an implementation did not run (ENet not built, unreliable messages not in the engine…). */
  absent: Partial<Record<Impl, string>>;
  errors: string[];
  /** The ceiling's errors: reported, but the row's result stays rudp's. */
  ceilingErrors: string[];
  target: RudpTarget | null;
  skipped: boolean;
}

export function newCell(w: RudpWorkload, p: RudpPath): RudpCell {
  return {
    workload: w.name,
    title: w.title,
    path: p.name,
    pathTitle: p.title,
    unit: w.unit,
    baseline: w.baseline,
    ceiling: w.ceiling,
    runs: {},
    absent: {},
    errors: [],
    ceilingErrors: [],
    target: w.targets[p.name] ?? null,
    skipped: false,
  };
}

const values = (runs: Array<RudpRun | null> | undefined, key: 'value' | 'p99Ms' | 'lost' | 'cpuMs' | 'offeredMiBs'): number[] =>
  (runs ?? []).map((r) => r?.[key]).filter((x): x is number => typeof x === 'number');

/** Median of a/b over the rounds where both ran. */
function pairRatio(a: Array<RudpRun | null> | undefined, b: Array<RudpRun | null> | undefined, key: 'value' | 'p99Ms'): number | null {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a?.length ?? 0, b?.length ?? 0); i++) {
    const x = a![i]?.[key];
    const y = b![i]?.[key];
    if (typeof x === 'number' && typeof y === 'number' && y > 0) out.push(x / y);
  }
  return median(out);
}

export interface CellSummary {
  medians: Partial<Record<Impl, number | null>>;
  p99: Partial<Record<Impl, number | null>>;
  vsEnet: number | null;
  vsBaseline: number | null;
  vsCeiling: number | null;
  p99VsEnet: number | null;
  p99VsCeiling: number | null;
  status: 'pass' | 'miss' | 'fail' | 'info' | 'n/a' | 'skipped';
}

export function summarise(c: RudpCell): CellSummary {
  const medians: CellSummary['medians'] = {};
  const p99: CellSummary['p99'] = {};
  for (const impl of Object.keys(c.runs) as Impl[]) {
    medians[impl] = median(values(c.runs[impl], 'value'));
    p99[impl] = median(values(c.runs[impl], 'p99Ms'));
  }
  const vsEnet = pairRatio(c.runs.rudp, c.runs.enet, 'value');
  const vsBaseline = pairRatio(c.runs.rudp, c.runs[c.baseline], 'value');
  const p99VsEnet = pairRatio(c.runs.rudp, c.runs.enet, 'p99Ms');
  const ceiling = c.ceiling ? c.runs[c.ceiling] : undefined;
  const vsCeiling = pairRatio(c.runs.rudp, ceiling, 'value');
  const p99VsCeiling = pairRatio(c.runs.rudp, ceiling, 'p99Ms');
  let status: CellSummary['status'] = 'info';
  const t = c.target;
  if (t) {
    const ok =
      (t.minRatio === undefined || (vsEnet !== null && vsEnet >= t.minRatio)) &&
      (!t.p99 || (p99VsEnet !== null && p99VsEnet <= 1)) &&
      (!t.noLoss || values(c.runs.rudp, 'lost').every((x) => x === 0));
    status = ok ? 'pass' : 'miss';
  }
  const judged = (Object.keys(c.runs) as Impl[]).filter((impl) => impl !== c.ceiling);
  const failed = judged.some((impl) => c.runs[impl]!.some((r) => r === null || r.value === null));
  if (c.errors.length > 0 || failed) status = 'fail';
  if (c.absent.rudp) status = 'n/a';
  if (c.skipped) status = 'skipped';
  return { medians, p99, vsEnet, vsBaseline, vsCeiling, p99VsEnet, p99VsCeiling, status };
}

const ratio = (x: number | null): string => (x === null ? '—' : x.toFixed(2));

/** The median share of messages (datagrams) lost, for runs that count their losses; '' otherwise. */
function lossText(runs: Array<RudpRun | null> | undefined): string {
  const shares = (runs ?? []).filter((r) => r && typeof r.lost === 'number' && r.sent).map((r) => r!.lost! / r!.sent!);
  const share = median(shares);
  return share === null ? '' : ` (${(100 * share).toFixed(share === 0 ? 0 : 2)} % lost)`;
}

/**
 * The table: one row per workload and path, the unit in the workload's name; ping-pong gets a
 * second row for its p99 round trip.
 */
export function rudpTable(cells: RudpCell[], markdown = false): string {
  const head = ['workload', 'path', 'rudp', 'ENet', 'baseline', 'raw dgram ceiling', 'rudp/ENet', 'rudp/baseline', 'rudp/ceiling', 'target', 'result'];
  const indent = markdown ? '&nbsp;&nbsp;' : '  ';
  const body: string[][] = [];
  for (const c of cells) {
    const s = summarise(c);
    const cellOf = (impl: Impl | null): string => {
      if (impl === null) return '—';
      if (c.absent[impl]) return impl === 'rudp' ? 'not available' : 'skipped';
      if (!c.runs[impl]) return '—';
      const m = s.medians[impl] ?? null;
      return m === null ? 'failed' : fmt(m) + lossText(c.runs[impl]);
    };
    const ms = (impl: Impl | null): string => (impl === null || c.absent[impl] || !c.runs[impl] ? '—' : fmt(s.p99[impl] ?? null));
    const base = (text: (impl: Impl) => string): string => (c.runs[c.baseline] ? `${IMPL_TITLE[c.baseline]}: ${text(c.baseline)}` : '—');
    const p99Target = c.target?.p99 ? c.target : null;
    const rateTarget = c.target && !c.target.p99 ? c.target : null;
    // A cell has one target, on its rate row or its p99 row; the other row says 'info' unless the cell failed.
    const result = (t: RudpTarget | null): string => (s.status === 'fail' ? 'FAIL' : t || !['pass', 'miss'].includes(s.status) ? s.status : 'info');
    body.push([
      `${c.title} (${c.unit})`,
      c.pathTitle,
      cellOf('rudp'),
      cellOf('enet'),
      base(cellOf),
      cellOf(c.ceiling),
      ratio(s.vsEnet),
      ratio(s.vsBaseline),
      ratio(s.vsCeiling),
      rateTarget?.text ?? '—',
      result(rateTarget),
    ]);
    if (c.workload === 'rudp-pingpong') {
      const p99 = [ms('rudp'), ms('enet'), base(ms), ms(c.ceiling), ratio(s.p99VsEnet), '', ratio(s.p99VsCeiling)];
      body.push([`${indent}p99 round trip (ms)`, c.pathTitle, ...p99, p99Target?.text ?? '—', result(p99Target)]);
    }
  }
  if (markdown) {
    const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
    return [line(head), line(head.map(() => '---')), ...body.map(line)].join('\n');
  }
  return pad([head, ...body]).join('\n');
}

/** CPU time per run of each implementation (both peers; the relay not counted), and rudp's own counts. */
export function rudpDetails(cells: RudpCell[]): string[] {
  const lines: string[] = [];
  const absent = new Set<string>();
  for (const c of cells) {
    const cpu = (Object.keys(c.runs) as Impl[]).map((impl) => `${IMPL_TITLE[impl]} ${fmt(median(values(c.runs[impl], 'cpuMs')))} ms`);
    const facts = (c.runs.rudp ?? []).map((r) => r?.facts?.rudp).filter((f) => f !== undefined);
    const factText = facts.length ? `; rudp client: ${JSON.stringify(facts[Math.floor(facts.length / 2)])}` : '';
    const offered = c.ceiling ? median(values(c.runs[c.ceiling], 'offeredMiBs')) : null;
    const offerText = offered === null ? '' : `; ceiling's sender offered ${fmt(offered, 'MiB/s')}`;
    lines.push(`  ${c.title}, ${c.pathTitle}: CPU/run ${cpu.join(', ')}${offerText}${factText}`);
    for (const [impl, why] of Object.entries(c.absent)) absent.add(`  not run: ${IMPL_TITLE[impl as Impl]}${impl === 'enet' ? '' : `, ${c.title}`}: ${why}`);
    const errors = [...c.errors, ...c.ceilingErrors];
    for (const e of errors.slice(0, 6)) lines.push(`    ERROR ${e}`);
    if (errors.length > 6) lines.push(`    … ${errors.length - 6} more errors`);
  }
  return [...lines, ...absent];
}
