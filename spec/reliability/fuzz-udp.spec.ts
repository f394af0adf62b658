/**
 * Model-based fuzzing of UDP sockets (issue #7, item 1): random call sequences, datagrams from
 * the peer and from a stranger, every invariant checked on every run. Seeded: FUZZ_SEED
 * overrides the default seed; a failure prints the seed and path to rerun.
 */
import { fuzzRuns, newTally, runFuzz } from './helpers/fuzz-runner';
import { report } from './helpers/report';
import { runUdpScenario, udpScenarioArb } from './helpers/udp-fuzz';

const RUNS = 300;

describe('fuzzing the UDP socket API', () => {
  it(`keeps every invariant over ${RUNS} random scenarios`, async () => {
    const tally = newTally();
    await runFuzz('spec/reliability/fuzz-udp.spec.ts', udpScenarioArb(), (sc) => runUdpScenario(sc, tally), RUNS);
    expect(tally.runs).toBe(fuzzRuns(RUNS));
    report('udp', tally);
  }, 120_000);
});
