// Turns the runs into figures: medians, pair-by-pair ratios, target verdicts; then the
// terminal table, docs/bench/results.json and the hand-written SVG bar chart.
import type { Workload } from './workloads';

export interface Row {
  name: string;
  title: string;
  size: string;
  unit: string;
  higherIsBetter: boolean;
  /** Figures of each run, in run order (null: the run failed). */
  fw: Array<number | null>;
  raw: Array<number | null>;
  fwMedian: number | null;
  rawMedian: number | null;
  /** framework/raw per A/B pair (pairs with both figures). */
  pairRatios: number[];
  /** Median of the pair ratios. */
  ratio: number | null;
  target: string;
  /** pass / miss: the target; fail: wrong results or errors; info: no target; skipped. */
  status: 'pass' | 'miss' | 'fail' | 'info' | 'skipped';
  errors: string[];
  /** Extra facts (memory: heap per connection…). */
  notes: string[];
  /** CPU time of each run, server plus client, in ms (null: not reported). */
  fwCpuMs: Array<number | null>;
  rawCpuMs: Array<number | null>;
  /** Median of the pair ratios of CPU time framework/raw (lower is better for the framework). */
  cpuRatio: number | null;
  /** Per run (fw, raw, fw, raw…): share of the machine other processes used meanwhile. */
  otherLoad: Array<number | null>;
  /** Wall-clock time of each run, in ms (fw, raw, fw, raw…). */
  wallMs: number[];
}

/** What one workload's runs produced, in run order. */
export interface Runs {
  fw: Array<number | null>;
  raw: Array<number | null>;
  fwCpuMs: Array<number | null>;
  rawCpuMs: Array<number | null>;
  errors: string[];
  notes: string[];
  skipped: boolean;
  otherLoad: Array<number | null>;
  wallMs: number[];
}

function pairRatiosOf(a: Array<number | null>, b: Array<number | null>): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x !== null && y !== null && y > 0) out.push(x / y);
  }
  return out;
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function makeRow(w: Workload, runs: Runs): Row {
  const { fw, raw, errors, notes, skipped } = runs;
  const pairRatios = pairRatiosOf(fw, raw);
  const fwMedian = median(fw.filter((x): x is number => x !== null));
  const rawMedian = median(raw.filter((x): x is number => x !== null));
  const ratio = median(pairRatios);
  let target: string;
  let status: Row['status'];
  const t = w.target;
  if (t.kind === 'ratio') {
    target = `ratio ≥ ${t.min.toFixed(2)}`;
    status = ratio !== null && ratio >= t.min ? 'pass' : 'miss';
  } else if (t.kind === 'memory') {
    target = `≤ raw + ${t.slack / 1024} KiB`;
    status = fwMedian !== null && rawMedian !== null && fwMedian <= rawMedian + t.slack ? 'pass' : 'miss';
  } else {
    target = t.text;
    status = 'pass';
  }
  const anyFailed = fw.some((x) => x === null) || raw.some((x) => x === null) || fw.length === 0;
  if (errors.length > 0 || anyFailed) status = 'fail';
  if (skipped) status = 'skipped';
  const cpuRatio = median(pairRatiosOf(runs.fwCpuMs, runs.rawCpuMs));
  return {
    name: w.name,
    title: w.title,
    size: w.sizeText,
    unit: w.unit,
    higherIsBetter: w.higherIsBetter,
    fw,
    raw,
    fwMedian,
    rawMedian,
    pairRatios,
    ratio,
    target,
    status,
    errors,
    notes,
    fwCpuMs: runs.fwCpuMs,
    rawCpuMs: runs.rawCpuMs,
    cpuRatio,
    otherLoad: runs.otherLoad,
    wallMs: runs.wallMs,
  };
}

export function fmt(x: number | null, unit = ''): string {
  if (x === null) return '—';
  const n = Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(Math.abs(x) >= 10 ? 1 : 2);
  return unit ? `${n} ${unit}` : n;
}

export function pad(cells: string[][]): string[] {
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => [...r[i]].length)));
  return cells.map((r) =>
    r
      .map((c, i) => c + ' '.repeat(widths[i] - [...c].length))
      .join('  ')
      .trimEnd(),
  );
}

/** The ratio; for memory, where the target is a difference, the difference too. */
function ratioCell(r: Row): string {
  if (r.ratio === null) return '—';
  if (r.target.startsWith('≤ raw') && r.fwMedian !== null && r.rawMedian !== null) {
    const d = r.fwMedian - r.rawMedian;
    return `${r.ratio.toFixed(2)} (${d >= 0 ? '+' : '−'}${fmt(Math.abs(d))} B)`;
  }
  return r.ratio.toFixed(2);
}

/** The table for the terminal (and, in Markdown form, for docs/performance.md). */
export function table(rows: Row[], markdown = false): string {
  const head = ['workload', 'framework (median)', 'raw Node (median)', 'fw/raw per pair', 'ratio', 'target', 'result'];
  const body = rows.map((r) => [
    r.title,
    fmt(r.fwMedian, r.unit),
    fmt(r.rawMedian, r.unit),
    r.pairRatios.map((x) => x.toFixed(2)).join(' '),
    ratioCell(r),
    r.target,
    r.status === 'fail' ? 'FAIL' : r.status,
  ]);
  if (markdown) {
    const line = (c: string[]): string => `| ${c.join(' | ')} |`;
    return [line(head), line(head.map(() => '---')), ...body.map(line)].join('\n');
  }
  return pad([head, ...body]).join('\n');
}

/** CPU time per run (both processes): robust against other load on the machine, unlike wall-clock rates. */
export function cpuTable(rows: Row[], markdown = false): string {
  const nums = (xs: Array<number | null>): number[] => xs.filter((x): x is number => x !== null);
  const head = ['workload', 'size', 'CPU ms/run framework', 'CPU ms/run raw', 'CPU fw/raw', 'other load (max)'];
  const body = rows.map((r) => {
    const load = nums(r.otherLoad);
    return [
      r.title,
      r.size,
      fmt(median(nums(r.fwCpuMs))),
      fmt(median(nums(r.rawCpuMs))),
      r.cpuRatio === null ? '—' : r.cpuRatio.toFixed(2),
      load.length ? `${Math.round(100 * Math.max(...load))} %` : '—',
    ];
  });
  if (markdown) {
    const line = (c: string[]): string => `| ${c.join(' | ')} |`;
    return [line(head), line(head.map(() => '---')), ...body.map(line)].join('\n');
  }
  return pad([head, ...body]).join('\n');
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A horizontal bar chart of the ratios framework/raw (1.00 = as fast as raw Node; longer is
 * better for the framework). A tick marks each target; green meets it, red misses it, grey has
 * no ratio target. Memory is not a ratio: it is written under the chart.
 */
export function svg(rows: Row[], caption: string): string {
  const bars = rows.filter((r) => r.higherIsBetter && r.ratio !== null);
  const others = rows.filter((r) => !bars.includes(r));
  const left = 250;
  const width = 760;
  const plot = width - left - 70;
  const rowH = 26;
  const top = 50;
  const max = Math.max(1.25, ...bars.map((r) => r.ratio ?? 0)) * 1.05;
  const x = (v: number): number => left + (v / max) * plot;
  const height = top + bars.length * rowH + 40 + others.length * 18 + 30;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">socket-provider vs raw Node: throughput ratio framework/raw (median of A/B pairs)</text>`,
  );
  out.push(`<text x="${width / 2}" y="37" text-anchor="middle" fill="#555">${esc(caption)}</text>`);
  for (let v = 0; v <= max; v += 0.25) {
    const xv = x(v).toFixed(1);
    out.push(
      `<line x1="${xv}" y1="${top - 4}" x2="${xv}" y2="${top + bars.length * rowH}" stroke="${v === 1 ? '#333' : '#ddd'}" stroke-width="${v === 1 ? 1.5 : 1}"/>`,
    );
    out.push(`<text x="${xv}" y="${top + bars.length * rowH + 14}" text-anchor="middle" fill="#555">${v.toFixed(2)}</text>`);
  }
  bars.forEach((r, i) => {
    const y = top + i * rowH;
    const colour = r.status === 'pass' && r.target.startsWith('ratio') ? '#3a9d48' : r.status === 'miss' || r.status === 'fail' ? '#d0453a' : '#8a8f98';
    out.push(`<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(r.title)}</text>`);
    out.push(`<rect x="${left}" y="${y + 4}" width="${(x(r.ratio!) - left).toFixed(1)}" height="${rowH - 8}" fill="${colour}"/>`);
    const m = /ratio ≥ ([\d.]+)/.exec(r.target);
    if (m) {
      const tx = x(Number(m[1])).toFixed(1);
      out.push(`<line x1="${tx}" y1="${y + 1}" x2="${tx}" y2="${y + rowH - 1}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>`);
    }
    // The value, with a white halo so that a target tick behind it does not hide it.
    const label = `${r.ratio!.toFixed(2)}${r.status === 'fail' ? ' FAIL' : ''}`;
    out.push(`<text x="${(x(r.ratio!) + 5).toFixed(1)}" y="${y + 16}" stroke="#fff" stroke-width="4" paint-order="stroke">${label}</text>`);
  });
  let y = top + bars.length * rowH + 36;
  out.push(
    `<text x="20" y="${y}" fill="#555">1.00 = as fast as raw Node. Green meets its target (dashed tick), red misses it or failed, grey has no ratio target.</text>`,
  );
  for (const r of others) {
    y += 18;
    const text =
      r.name === 'idle-memory'
        ? `${r.title}: framework ${fmt(r.fwMedian, 'B')}, raw ${fmt(r.rawMedian, 'B')} (target ${r.target}): ${r.status}`
        : `${r.title}: ${r.status}`;
    out.push(`<text x="20" y="${y}">${esc(text)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
