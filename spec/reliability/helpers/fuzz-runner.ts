/**
 * Runs a fast-check property with the fuzz seed of this run: a fixed default, overridden by
 * FUZZ_SEED; FUZZ_PATH replays one run of that seed (fast-check's `path`); FUZZ_RUNS multiplies
 * the number of runs (for longer fuzzing by hand); FUZZ_SHRINK=1 lets fast-check shrink a
 * failure (slow: every shrink step is a real network run). The failure report carries the
 * seed, the path and the counterexample, and says how to rerun it.
 */
import fc from 'fast-check';

/** The default seed: fixed, so that `npm test` runs the same scenarios every time. */
export const DEFAULT_FUZZ_SEED = 20260701;

export function fuzzSeed(): number {
  const raw = process.env.FUZZ_SEED;
  if (raw === undefined || raw === '') return DEFAULT_FUZZ_SEED;
  const seed = Number(raw);
  if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${JSON.stringify(raw)}`);
  return seed;
}

/** The number of runs for a property: `base`, times FUZZ_RUNS if set; 1 when FUZZ_PATH replays one. */
export function fuzzRuns(base: number): number {
  if (process.env.FUZZ_PATH) return 1;
  const factor = Number(process.env.FUZZ_RUNS ?? '1');
  return Math.max(1, Math.round(base * (Number.isFinite(factor) && factor > 0 ? factor : 1)));
}

/** Counts what the runs of one property did, for the figures in docs/reliability.md. */
export interface FuzzTally {
  runs: number;
  calls: number;
  thrownAsPredicted: number;
  bytesChecked: number;
  /** Sockets that ended BY_PEER, whose delivered bytes were compared with all the peer sent. */
  byPeerChecked: number;
  /** STARTTLS upgrades whose handshake completed. */
  upgradesCompleted: number;
  reasons: Record<string, number>;
}

export function newTally(): FuzzTally {
  return { runs: 0, calls: 0, thrownAsPredicted: 0, bytesChecked: 0, byPeerChecked: 0, upgradesCompleted: 0, reasons: {} };
}

/**
 * Asserts `check` on `numRuns` scenarios drawn from `arb` with the fuzz seed. `check` throws
 * (with the violations in its message) when an invariant broke.
 */
export async function runFuzz<T>(file: string, arb: fc.Arbitrary<T>, check: (scenario: T) => Promise<void>, numRuns: number): Promise<void> {
  const seed = fuzzSeed();
  const path = process.env.FUZZ_PATH || undefined;
  try {
    await fc.assert(fc.asyncProperty(arb, check), {
      seed,
      path,
      numRuns: fuzzRuns(numRuns),
      endOnFailure: process.env.FUZZ_SHRINK !== '1',
      includeErrorInReport: true,
    });
  } catch (e) {
    const report = e instanceof Error ? e.message : String(e);
    const pathMatch = /path: "([^"]*)"/.exec(report);
    const replay = `FUZZ_SEED=${seed}${pathMatch ? ` FUZZ_PATH=${pathMatch[1]}` : ''} npx jest ${file}`;
    throw new Error(`fuzzing failed with seed ${seed}; rerun the failing case with:\n  ${replay}\n\n${report}`);
  }
}
