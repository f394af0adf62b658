/**
 * Model-based fuzzing of TCP sockets (issue #7, item 1): random call sequences against
 * plain Node `net` peers and against the framework itself, every invariant checked on every run
 * (helpers/stream-fuzz.ts). Seeded: FUZZ_SEED overrides the default seed; a failure prints the
 * seed and path to rerun (docs/reliability.md).
 */
import { describeStreamFuzz } from './helpers/stream-envs';

describeStreamFuzz('tcp', 'TCP', 300, 'spec/reliability/fuzz-tcp.spec.ts');
