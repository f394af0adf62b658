/**
 * Model-based fuzzing of TLS sockets (issue #7, item 1): random call sequences against
 * plain Node `tls` peers and against the framework itself, every invariant checked on every run
 * (helpers/stream-fuzz.ts). Seeded: FUZZ_SEED overrides the default seed; a failure prints the
 * seed and path to rerun (docs/reliability.md).
 */
import { describeStreamFuzz } from './helpers/stream-envs';

describeStreamFuzz('tls', 'TLS', 150, 'spec/reliability/fuzz-tls.spec.ts');
