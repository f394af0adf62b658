/**
 * Found by the fuzzer (spec/reliability/fuzz-*.spec.ts): shutdown() called after the socket
 * posted its end but before the user saw it. CONTRACT §10: "After shutdown() the socket's end is
 * SOCKET_SHUTDOWN_NORMAL, whatever happens while it closes"; the recording user enforces it.
 */
import { createTcpSocketProvider, IInstanceLog, LogFlag, ShutdownReason } from '../../lib';
import { closeAllRaw, pollUntil, rawServer } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';

afterEach(async () => {
  await closeAllRaw();
});

it('shutdown() right after a recv that took the last bytes of a closed stream: the end is NORMAL', async () => {
  const srv = await rawServer((sock) => sock.end('hello'));
  const u = new RecordingUser('client');
  // The socket's log (public: IInstanceLog) tells when the peer's end of stream arrived.
  const lines: string[] = [];
  const log: IInstanceLog = { isEnabled: (flag) => flag === LogFlag.Tcp, log: (_flag, message) => lines.push(message) };
  const s = guardProvider(createTcpSocketProvider()).createSocket(u, { log });
  s.connect(`127.0.0.1:${srv.port}`);
  await u.waitFor('socketConnectComplete', 1, 10000, s);
  await pollUntil(() => s.bytesReceived === 5, 'the 5 bytes');
  // The peer's FIN has arrived too: the socket logs it as it takes note of it.
  await pollUntil(() => lines.some((line) => line.includes('the peer closed its side')), 'the end of stream (logged)');
  s.recv(new Uint8Array(5)); // completes at once and, the stream being over, posts BY_PEER
  s.shutdown(); // before either callback was delivered
  expect(await u.waitForShutdown(s)).toBe(ShutdownReason.Normal);
  expect(await cleanupAndCheck()).toEqual([]);
});
