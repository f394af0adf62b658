/**
 * TCP options whose effect needs a peer the framework cannot play: a listener whose accept
 * queue is full (connect time-out) and an address whose last connection lingers (reuseAddr).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import { createTcpSocketProvider, ShutdownReason } from '../../lib';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { tcpFixture } from '../helpers/tcp-fixture';
import { StreamHarness } from '../helpers/stream-harness';

/**
 * A listener with backlog 0 that never accepts: once its accept queue holds one connection,
 * Linux drops further SYNs, so a connect hangs until its time-out. Node always accepts, so
 * the listener is a tiny python3 process.
 */
async function fullListener(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn('python3', [
    '-c',
    'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()',
  ]);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
    setTimeout(() => reject(new Error('python3 listener did not start')), 10000).unref();
  });
  // Fill the accept queue (and the SYN slot) with plain connections that stay open.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 3; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => undefined));
  child.once('exit', () => fillers.forEach((f) => f.destroy()));
  return { port, child };
}

describe('tcp options', () => {
  let h: StreamHarness;
  beforeEach(() => (h = new StreamHarness(tcpFixture)));
  afterEach(async () => {
    const violations = await cleanupAndCheck();
    await h.cleanup();
    expect(violations).toEqual([]);
  });

  it('connectTimeoutMs: a connect that cannot complete ends in SOCKET_CONNECT_FAILED', async () => {
    const { port, child } = await fullListener();
    try {
      const u = new RecordingUser('client');
      const s = createTcpSocketProvider().createSocket(u, { connectTimeoutMs: 300 });
      s.connect(`127.0.0.1:${port}`);
      expect(await u.waitForShutdown(s, 15000)).toBe(ShutdownReason.ConnectFailed);
      expect(u.count('socketConnectComplete')).toBe(0);
    } finally {
      child.kill();
    }
  }, 20000);

  it('reuseAddr: binds again the port of a listener whose connection lingers in TIME_WAIT', async () => {
    const first = await h.listen({ conn: () => new RecordingUser('conn', { autoRecv: 1024 }) });
    const cu = new RecordingUser('client');
    const c = await h.connect(first, cu);
    const { socket: conn, user: connUser } = await first.accepted(0);
    // The server side closes first, so the TIME_WAIT is on the listening port's side.
    conn.shutdown();
    await connUser.waitForShutdown(conn);
    expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.ByPeer);
    first.socket.shutdown();
    await first.user.waitForShutdown(first.socket);

    const lu = new RecordingUser('again');
    const again = createTcpSocketProvider().createSocket(lu);
    again.bind('127.0.0.1', first.port, true);
    await lu.waitFor('socketBindResult', 1, 10000, again);
    expect(lu.eventsOf('socketBindResult', again)[0].args[1]).toBe(first.port);
    again.shutdown();
  });
});
