/**
 * The datagram conformance suite over UDP: a connected socket (its peer a plain dgram socket)
 * a bound one (recv from any source, sendTo), and a per-peer socket accepted by a datagram listener. UDP specifics: spec/transports/udp.spec.ts.
 */
import { acceptedUdpFixture, boundUdpFixture, connectedUdpFixture } from './datagram-fixtures';
import { runDatagramSuite } from './datagram-suite';

runDatagramSuite('connected udp', connectedUdpFixture());
runDatagramSuite('bound udp', boundUdpFixture());
runDatagramSuite('accepted udp (datagram listener)', acceptedUdpFixture());
