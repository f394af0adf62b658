/**
 * The stream conformance suites for a stream transport that can listen and connect (TCP, TLS,
 * STARTTLS, local): the connected-stream suite over one of its connections, the listener
 * suite and the client suite. Run them per transport with `runStreamConformance(name, fixture)`.
 *
 * A transport with connected ends only (the socket pair) runs the connected-stream suite alone:
 * `runConnectedStreamSuite(name, pairFixture())` (connected-stream-suite.ts, connected-fixtures.ts).
 */
import { StreamFixture } from '../helpers/stream-harness';
import { ClientFixture, runClientSuite } from './client-suite';
import { connectedFromStream } from './connected-fixtures';
import { runConnectedStreamSuite } from './connected-stream-suite';
import { ListenerFixture, runListenerSuite } from './listener-suite';

export type { StreamFixture } from '../helpers/stream-harness';

/** A stream transport that runs all three suites: it can listen, connect, and make raw clients and servers. */
export type FullStreamFixture = ListenerFixture & ClientFixture;

/**
 * Runs the connected-stream, listener and client suites for `fixture`. Every such transport
 * has raw peers: a fixture without `rawConnect` or `rawServer` is an error, not a skip.
 */
export function runStreamConformance(name: string, fixture: StreamFixture): void {
  const full = fullFixture(name, fixture);
  runConnectedStreamSuite(name, connectedFromStream(full));
  runListenerSuite(name, full);
  runClientSuite(name, full);
}

function fullFixture(name: string, fixture: StreamFixture): FullStreamFixture {
  if (!fixture.rawConnect || !fixture.rawServer) {
    throw new Error(`runStreamConformance(${name}): the fixture must provide rawConnect and rawServer (the listener and client suites use them)`);
  }
  return fixture as FullStreamFixture;
}
