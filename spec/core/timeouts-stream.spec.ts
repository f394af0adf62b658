/**
 * Stream time-outs where 0 disables (issue #16): `connectTimeoutMs`, TLS `handshakeTimeoutMs`
 * and `shutdownTimeoutMs`. Each 0 case runs beside a sibling with a small non-zero time-out
 * that does end; the 0 socket is watched for 1.5x the time the sibling took, then released or
 * shut down, and must end as the contract says. Loopback only; every wait bounded.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import { createTcpSocketProvider, createTlsSocketProvider, ISocket, ShutdownReason } from '../../lib';
import { closeAllRaw, rawConnect, rawServer, withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';

const WAIT = 15000;

/** Resolves at `performance.now()` >= `at`. */
function until(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));
}

afterEach(async () => {
  const violations = await cleanupAndCheck();
  await closeAllRaw();
  expect(violations).toEqual([]);
});

describe('connectTimeoutMs', () => {
  let holder: ChildProcess | undefined;
  const filler: net.Socket[] = [];

  afterEach(() => {
    holder?.kill('SIGKILL');
    holder = undefined;
    for (const s of filler.splice(0)) s.destroy();
  });

  /**
   * A port whose connects never complete: a listener with a backlog of 0 that never accepts
   * (Node always accepts, so a small python3 process holds it), its accept queue filled by one
   * raw connection; the kernel then drops every further SYN, and a connect waits.
   */
  async function blackholePort(): Promise<number> {
    const code = 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()\n';
    const child = spawn('python3', ['-c', code], { stdio: ['pipe', 'pipe', 'inherit'] });
    holder = child;
    const port = await withTimeout(
      new Promise<number>((resolve, reject) => {
        child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        child.once('error', reject);
      }),
      WAIT,
      'the python3 listener',
    );
    filler.push(await rawConnect(port)); // fills the accept queue
    const extra = net.connect(port, '127.0.0.1'); // its SYN is dropped: proof the queue is full
    extra.on('error', () => undefined);
    filler.push(extra);
    return port;
  }

  it('0 disables it: a connect that hangs is still connecting after a 200 ms sibling failed', async () => {
    const port = await blackholePort();
    const tcp = guardProvider(createTcpSocketProvider());
    const siblingUser = new RecordingUser('connect-200');
    const sibling = tcp.createSocket(siblingUser, { connectTimeoutMs: 200 });
    const unboundedUser = new RecordingUser('connect-0');
    const unbounded = tcp.createSocket(unboundedUser, { connectTimeoutMs: 0 });
    const start = performance.now();
    unbounded.connect(`127.0.0.1:${port}`);
    sibling.connect(`127.0.0.1:${port}`);
    expect(await siblingUser.waitForShutdown(sibling, WAIT)).toBe(ShutdownReason.ConnectFailed);
    await until(start + 1.5 * (performance.now() - start));
    expect(unboundedUser.names(unbounded)).toEqual([]);
    unbounded.shutdown();
    expect(await unboundedUser.waitForShutdown(unbounded, WAIT)).toBe(ShutdownReason.Normal);
    expect(unboundedUser.count('socketConnectComplete')).toBe(0);
  });
});

describe('handshakeTimeoutMs (TLS)', () => {
  it('0 disables it: a client whose server never answers the ClientHello waits, a 300 ms sibling fails', async () => {
    const silent = await rawServer(); // accepts, reads, never writes
    const tls = guardProvider(createTlsSocketProvider());
    const siblingUser = new RecordingUser('handshake-300');
    const sibling = tls.createSocket(siblingUser, { handshakeTimeoutMs: 300 });
    const unboundedUser = new RecordingUser('handshake-0');
    const unbounded = tls.createSocket(unboundedUser, { handshakeTimeoutMs: 0 });
    const start = performance.now();
    unbounded.connect(`127.0.0.1:${silent.port}`, 'localhost');
    sibling.connect(`127.0.0.1:${silent.port}`, 'localhost');
    expect(await siblingUser.waitForShutdown(sibling, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
    await until(start + 1.5 * (performance.now() - start));
    expect(unboundedUser.names(unbounded)).toEqual([]);
    unbounded.shutdown();
    expect(await unboundedUser.waitForShutdown(unbounded, WAIT)).toBe(ShutdownReason.Normal);
  });
});

describe('shutdownTimeoutMs (streams)', () => {
  const CHUNK = 256 * 1024;
  const CHUNKS = 64; // 16 MiB: far more than the loopback socket buffers hold

  /** A TCP client connected to a peer that does not read, with 16 MiB sent, then shutdown(). */
  async function shutDownUnread(shutdownTimeoutMs: number, peers: net.Socket[]) {
    const srv = await rawServer((sock) => {
      sock.pause(); // never reads until the test resumes it
      peers.push(sock);
    });
    const user = new RecordingUser(`shutdown-${shutdownTimeoutMs}`);
    const s: ISocket = guardProvider(createTcpSocketProvider()).createSocket(user, { shutdownTimeoutMs });
    s.connect(`127.0.0.1:${srv.port}`);
    await user.waitFor('socketConnectComplete', 1, WAIT, s);
    const chunk = Buffer.alloc(CHUNK, 0x61);
    for (let i = 0; i < CHUNKS; i++) s.send(chunk);
    const start = performance.now();
    s.shutdown();
    return { s, user, start };
  }

  it('0 disables it: shutdown() waits for a peer that does not read; a 100 ms sibling closes anyway', async () => {
    const peers: net.Socket[] = [];
    const sibling = await shutDownUnread(100, peers);
    const unbounded = await shutDownUnread(0, peers);
    expect(await sibling.user.waitForShutdown(sibling.s, WAIT)).toBe(ShutdownReason.Normal);
    const took = performance.now() - sibling.start;
    expect(sibling.user.count('socketSendResult')).toBeLessThan(CHUNKS); // closed with data unsent

    await until(unbounded.start + 1.5 * took);
    expect(unbounded.user.count('socketShutdown')).toBe(0);

    for (const p of peers) p.resume(); // the peers read at last: the queued data drains
    expect(await unbounded.user.waitForShutdown(unbounded.s, WAIT)).toBe(ShutdownReason.Normal);
  });
});
