/**
 * The fallback of lib/core/direct-read.ts, proven on every Node line of the matrix: where
 * Node's private onread internals (kBuffer/kBufferCb, `_handle.useUserBuffer`) are not as
 * expected, `readDirectly` returns false and changes nothing, and an accepted connection is
 * read through the stream's 'data' events instead. Here the library is loaded in an isolated
 * module registry whose `readDirectly` always answers false — what it answers on a Node
 * whose internals moved — and accepted TCP, local and TLS connections must still carry every
 * byte, both ways, and end normally. spec/core/node-internals.spec.ts is the canary that the
 * fast path itself holds on the running line.
 */
import type * as Lib from '../../lib';
import { randomBytes, sha256, tempPath, withTimeout } from '../helpers/net-helpers';
import { loadPki } from '../helpers/tls-fixture';

const pki = loadPki();
const WAIT = 10_000;
const PAYLOAD = randomBytes(256 * 1024);
/** Bind to 127.0.0.1, port 0; the client connects to the port reported. */
const TCP_ANY_PORT = '127.0.0.1:0';

let lib: typeof Lib;
/** The read-path counters of the isolated library (reads through onread, 'data' events). */
let readPaths: { onread: number; data: number };
let calls = 0;
beforeAll(() => {
  jest.isolateModules(() => {
    jest.doMock('../../lib/core/direct-read', () => {
      const actual = jest.requireActual<typeof import('../../lib/core/direct-read')>('../../lib/core/direct-read');
      return {
        ...actual,
        readDirectly: (): boolean => {
          calls++;
          return false; // the internals are "not found": the 'data' path serves
        },
      };
    });
    lib = require('../../lib') as typeof Lib; // eslint-disable-line @typescript-eslint/no-require-imports
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    readPaths = (require('../../lib/core/node-internals') as typeof import('../../lib/core/node-internals')).readPathStats;
  });
});

/**
 * A listener whose accepted socket echoes everything; a client sends PAYLOAD and reads the echo
 * back in full, then both shut down. Returns what the client got and how many 'data'
 * events the library took (the accepted end's, read without onread).
 */
async function echoThroughAccepted(
  provider: Lib.ISocketProvider,
  bindAddress: string,
  options: { server?: Lib.SocketOptions; client?: Lib.SocketOptions; serverName?: string } = {},
): Promise<{ echoed: Buffer; dataEvents: number; reasons: string[] }> {
  const reasons: string[] = [];
  const got: Buffer[] = [];
  // The client reads with onread (it passes it to Node itself); only the accepted end can take 'data' events.
  const dataBefore = readPaths.data;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const ended = (r: Lib.ShutdownReason): void => {
    reasons.push(r);
    if (reasons.length === 2) finish(); // the client's and the accepted socket's
  };
  const buf = new Uint8Array(64 * 1024);
  const abuf = new Uint8Array(64 * 1024);
  const client = provider.createSocket(
    {
      socketConnectComplete: (s: Lib.ISocket) => {
        s.send(PAYLOAD);
        s.recv(buf, buf.length, true);
      },
      socketRecvResult: (s: Lib.ISocket, b: Uint8Array, n: number) => {
        got.push(Buffer.from(b.subarray(0, n)));
        if (got.reduce((a, x) => a + x.length, 0) >= PAYLOAD.length) s.shutdown();
        else s.recv(buf, buf.length, true);
      },
      socketShutdown: (_s: Lib.ISocket, r: Lib.ShutdownReason) => ended(r),
    } as unknown as Lib.USocket,
    options.client,
  );
  const accepted = {
    socketAcceptComplete: (s: Lib.ISocket) => {
      s.recv(abuf, abuf.length, true);
    },
    socketRecvResult: (s: Lib.ISocket, b: Uint8Array, n: number) => s.send(b, n),
    socketSendResult: (s: Lib.ISocket) => s.recv(abuf, abuf.length, true),
    socketShutdown: (_s: Lib.ISocket, r: Lib.ShutdownReason) => ended(r),
  } as unknown as Lib.USocket;
  const listener = provider.createSocket(
    {
      socketBindResult: (s: Lib.ISocket, _a: string, port: number) => {
        s.listen();
        client.connect(port === 0 ? bindAddress : `127.0.0.1:${port}`, options.serverName);
      },
      socketListenResult: (s: Lib.ISocket) => s.accept(accepted),
      socketShutdown: () => undefined,
    } as unknown as Lib.USocket,
    options.server,
  );
  if (bindAddress === TCP_ANY_PORT) listener.bind('127.0.0.1', 0);
  else listener.bind(bindAddress, 0);
  try {
    await withTimeout(finished, WAIT, 'the echo to finish and both ends to close');
  } finally {
    listener.shutdown();
  }
  return { echoed: Buffer.concat(got), dataEvents: readPaths.data - dataBefore, reasons };
}

describe(`readDirectly falls back to 'data' events where Node's onread internals moved (${process.version})`, () => {
  it('TCP: an accepted connection echoes every byte and ends normally, read without onread', async () => {
    const before = calls;
    const r = await echoThroughAccepted(lib.createTcpSocketProvider(), TCP_ANY_PORT);
    expect(calls).toBeGreaterThan(before);
    expect(r.dataEvents).toBeGreaterThan(0); // the accepted end read through 'data' events
    expect(sha256(r.echoed)).toBe(sha256(PAYLOAD));
    expect(r.reasons.sort()).toEqual(['SOCKET_SHUTDOWN_BY_PEER', 'SOCKET_SHUTDOWN_NORMAL']);
  });

  const itUnix = process.platform !== 'win32' ? it : it.skip;
  itUnix('local: the same over a Unix domain socket', async () => {
    const before = calls;
    const r = await echoThroughAccepted(lib.createLocalSocketProvider(), tempPath('fallback'));
    expect(calls).toBeGreaterThan(before);
    expect(r.dataEvents).toBeGreaterThan(0); // the accepted end read through 'data' events
    expect(sha256(r.echoed)).toBe(sha256(PAYLOAD));
  });

  it('TLS: an accepted TLS connection (readDirectly while reading) echoes every byte, read without onread', async () => {
    const tlsP = lib.createTlsSocketProvider();
    const server = tlsP.createSocketContext();
    server.setServerCertificate(pki.server);
    const client = tlsP.createSocketContext();
    client.setCertificateAuthority(pki.ca);
    const before = calls;
    const r = await echoThroughAccepted(tlsP, TCP_ANY_PORT, { server: { context: server }, client: { context: client }, serverName: 'localhost' });
    expect(calls).toBeGreaterThan(before);
    expect(r.dataEvents).toBeGreaterThan(0); // the accepted end read through 'data' events
    expect(sha256(r.echoed)).toBe(sha256(PAYLOAD));
  });
});
