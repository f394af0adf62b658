/**
 * Model-based fuzzing of local sockets (issue #7, item 1): random call sequences against
 * plain Node `net` peers on Unix-socket paths and against the framework itself, every
 * invariant checked on every run (helpers/stream-fuzz.ts). Seeded: FUZZ_SEED overrides the default seed; a failure prints the
 * seed and path to rerun (docs/reliability.md).
 */
import { describeStreamFuzz } from './helpers/stream-envs';

describeStreamFuzz('local', 'local', 250, 'spec/reliability/fuzz-local.spec.ts');
