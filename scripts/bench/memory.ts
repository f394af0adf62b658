// Memory per idle connection, measured inside the server process (run with --expose-gc). As
// connections come in, the server takes ten samples of its resident memory (after full GCs),
// at 10 %, 20 % … 100 % of `conns` connections open and idle. The figure is the median of the
// nine slopes between consecutive samples (bytes per connection). A median of slopes ignores
// one-off steps that have nothing to do with connections (the V8 heap or malloc growing by a
// few MiB at once), which a single before/after difference would spread over every connection;
// starting at 10 % keeps out code compiled for the first connections. The overall slope
// (10 % to 100 %) and the heap slope are reported too.
import { dirname, join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { PeerArgs, PeerIo } from './common';
import { median } from './report';

interface Sample {
  n: number;
  rss: number;
  heap: number;
}

function sample(n: number): Sample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { n, rss: m.rss, heap: m.heapUsed };
}

export class MemoryProbe {
  private count = 0;
  private readonly samples: Sample[] = [];
  private readonly checkpoints: number[] = [];
  private readonly base: Sample;
  private readonly conns: number;
  private readonly measure: boolean;

  constructor(
    private readonly io: PeerIo,
    private readonly args: PeerArgs,
  ) {
    this.conns = args.size.conns;
    this.measure = args.size.measure === 1;
    const conns = this.conns;
    for (let i = 1; i < 10; i++) this.checkpoints.push(Math.floor((conns * i) / 10));
    this.base = sample(0);
    if (this.measure && !(globalThis as { gc?: unknown }).gc) io.error('memory probe without --expose-gc');
  }

  /** A connection answered its first message: it is open and idle from now on. */
  echoed(): void {
    this.count++;
    if (!this.measure) return;
    if (this.checkpoints.includes(this.count)) {
      this.samples.push(sample(this.count));
      if (this.count === this.checkpoints[1]) this.snapshot('a');
    }
    if (this.count === this.conns) {
      // Let the last echoes and their garbage settle, then take the last sample.
      setTimeout(() => this.report(), 500);
    }
  }

  /**
   * `--heap`: heap snapshots at 20 % (a) and 100 % (b) of the connections, for heapsnapshot.ts
   * to compare: what grew between them is what the connections in between cost.
   */
  private snapshot(which: 'a' | 'b'): void {
    if (this.args.size.snapshot !== 1) return;
    writeHeapSnapshot(join(dirname(this.args.target.path), `${this.args.impl}-${which}.heapsnapshot`));
    if (which === 'a') this.snapshotAt = this.count;
  }

  /** Connections open when snapshot a was taken. */
  snapshotAt = 0;

  private report(): void {
    const s = [...this.samples, sample(this.conns)];
    const slopes = (key: 'rss' | 'heap'): number[] => s.slice(1).map((b, i) => (b[key] - s[i][key]) / (b.n - s[i].n));
    this.snapshot('b');
    const first = s[0];
    const last = s[s.length - 1];
    this.io.result({
      perConn: median(slopes('rss')),
      rssSlopes: slopes('rss').map(Math.round),
      overallPerConn: (last.rss - first.rss) / (last.n - first.n),
      heapPerConn: median(slopes('heap')),
      rssTotalDelta: last.rss - this.base.rss,
      snapshotAt: this.snapshotAt,
      conns: this.conns,
    });
  }
}
