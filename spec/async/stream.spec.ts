/** The async layer's stream rules (stream-suite.ts) over TCP, TLS, local sockets and STARTTLS. */
import { loadPki } from '../helpers/tls-fixture';
import { localFixture, starttlsFixture, tcpFixture, tlsFixture } from './fixtures';
import { runAsyncStreamSuite } from './stream-suite';

const pki = loadPki();
runAsyncStreamSuite(tcpFixture);
runAsyncStreamSuite(localFixture);
runAsyncStreamSuite(() => tlsFixture(pki));
runAsyncStreamSuite(() => starttlsFixture(pki));
