/**
 * The datagram conformance suite over UDP: a connected socket (its peer a plain dgram socket)
 * and a bound one (recv from any source, sendTo). UDP specifics: spec/udp.spec.ts.
 */
import { boundUdpFixture, connectedUdpFixture } from './datagram-fixtures';
import { runDatagramSuite } from './datagram-suite';

runDatagramSuite('connected udp', connectedUdpFixture());
runDatagramSuite('bound udp', boundUdpFixture());
