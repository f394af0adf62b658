/**
 * The datagram conformance suite over a DTLS socket accepted by a DTLS listener (issue #19),
 * its peer our DTLS client. The listener itself: spec/datagram-listener/dtls-listener.spec.ts.
 */
import { loadPki } from '../helpers/tls-fixture';
import { acceptedDtlsFixture } from './datagram-fixtures';
import { runDatagramSuite } from './datagram-suite';

runDatagramSuite('accepted dtls (DTLS listener)', acceptedDtlsFixture(loadPki()));
