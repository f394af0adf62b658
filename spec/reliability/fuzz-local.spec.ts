/**
 * Model-based fuzzing of local (Unix-socket) (issue #7, item 1): random call sequences against plain
 * Node `net` peers and against the framework itself, every invariant checked on every run.
 * Seeded: FUZZ_SEED overrides the default seed; a failure prints the seed and path to rerun.
 */
import { loadPki } from '../helpers/tls-fixture';
import { fuzzRuns, newTally, runFuzz } from './helpers/fuzz-runner';
import { reportTally } from './helpers/report';
import { streamEnv } from './helpers/stream-envs';
import { runStreamScenario, streamScenarioArb } from './helpers/stream-fuzz';

const RUNS = 250;
const pki = loadPki();

describe('fuzzing the local socket API', () => {
  it(`keeps every invariant over ${RUNS} random scenarios`, async () => {
    const tally = newTally();
    const env = streamEnv('local', pki);
    await runFuzz('spec/reliability/fuzz-local.spec.ts', streamScenarioArb(), (sc) => runStreamScenario(env, sc, tally), RUNS);
    expect(tally.runs).toBe(fuzzRuns(RUNS));
    reportTally('local', tally);
  }, 120_000);
});
