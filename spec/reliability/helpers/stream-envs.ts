/** The transports the stream fuzzing runs on (providers, options and addresses of each), and the fuzz test of one. */
import { createLocalSocketProvider, createTcpSocketProvider, createTlsSocketProvider, ISocketContext } from '../../../lib';
import { tempPath } from '../../helpers/net-helpers';
import { clientContext, loadPki, serverContext, TestPki } from '../../helpers/tls-fixture';
import { fuzzRuns, newTally, runFuzz } from './fuzz-runner';
import { report } from './report';
import { runStreamScenario, StreamEnv, streamScenarioArb } from './stream-fuzz';
import { StreamKind } from './stream-peers';

/** A STARTTLS handshake with a peer that never answers ends after this (keeps runs short). */
export const FUZZ_UPGRADE_HANDSHAKE_MS = 300;

const ipAddress = (addr: string, port: number): string => (addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`);

/** The fuzz environment of `kind`; `pki` must be readable (inside a test) when TLS is used. */
export function streamEnv(kind: StreamKind, pki: TestPki): StreamEnv {
  let server: ISocketContext | null = null;
  let client: ISocketContext | null = null;
  const serverCtx = (): ISocketContext => (server ??= serverContext(pki));
  const clientCtx = (): ISocketContext => (client ??= clientContext(pki));
  return {
    kind,
    pki,
    provider: () => (kind === 'tcp' ? createTcpSocketProvider() : kind === 'tls' ? createTlsSocketProvider() : createLocalSocketProvider()),
    tlsProvider: () => createTlsSocketProvider(),
    serverOptions: () => (kind === 'tls' ? { context: serverCtx() } : {}),
    clientOptions: () => (kind === 'tls' ? { context: clientCtx() } : {}),
    bindArgs: () => (kind === 'local' ? [tempPath('sp-fuzz'), 0] : ['127.0.0.1', 0]),
    connectAddress: (addr, port) => (kind === 'local' ? addr : ipAddress(addr, port)),
    upgradeOptions: (role) =>
      role === 'A'
        ? { serverSide: true, context: serverCtx(), handshakeTimeoutMs: FUZZ_UPGRADE_HANDSHAKE_MS }
        : { context: clientCtx(), serverName: 'localhost', handshakeTimeoutMs: FUZZ_UPGRADE_HANDSHAKE_MS },
  };
}

/**
 * The fuzzing test of one stream transport: `runs` scenarios (times FUZZ_RUNS) with the fuzz
 * seed; `file` is named in the replay command a failure prints.
 */
export function describeStreamFuzz(kind: StreamKind, title: string, runs: number, file: string): void {
  const pki = loadPki();
  describe(`fuzzing the ${title} socket API`, () => {
    it(`keeps every invariant over ${runs} random scenarios`, async () => {
      const tally = newTally();
      const env = streamEnv(kind, pki);
      await runFuzz(file, streamScenarioArb(), (sc) => runStreamScenario(env, sc, tally), runs);
      expect(tally.runs).toBe(fuzzRuns(runs));
      report(kind, tally);
    }, 120_000);
  });
}
