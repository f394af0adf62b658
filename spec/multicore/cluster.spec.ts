/**
 * Listeners inside `cluster` workers, on a real primary with 2 workers (cluster-fixture.ts):
 * TCP, TLS and UDP on one port shared by both workers, a local socket per worker; 100 clients
 * of each kind, every byte checked, every socket's end reason collected from each worker over IPC.
 *
 * Then the same with the `reusePort` option: where the running Node has it, each worker has its
 * own socket in the port's SO_REUSEPORT group and each UDP peer reaches one worker only; where it
 * does not, the workers' createSocket throws ERR_SOCKET_REUSEPORT_UNAVAILABLE (a branch on the
 * capability, never a skip). No timing is asserted: every wait is bounded by the fixture's watchdog.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SocketErrorCode } from '../../lib';
import { reusePortUnavailable } from '../../lib/core/validate';
import { CLIENTS, DATAGRAMS_PER_UDP_CLIENT, FixtureResult } from './cluster-fixture';

const FIXTURE = path.join(__dirname, 'cluster-fixture.ts');
const root = path.resolve(__dirname, '../..');

function runCluster(reusePort: boolean): Promise<FixtureResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sp-cluster-'));
  const env = { ...process.env };
  delete env.SOCKET_PROVIDER_LOG;
  delete env.NODE_UNIQUE_ID; // jest's own workers are no cluster workers, but be sure
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', FIXTURE, dir, ...(reusePort ? ['--reuse-port'] : [])],
      { cwd: root, env, timeout: 90_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        rmSync(dir, { recursive: true, force: true });
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(line) as FixtureResult);
        } catch {
          reject(new Error(`the cluster fixture printed no result (${String(err)}): ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

const ALL = { tcp: CLIENTS, tls: CLIENTS, local: CLIENTS, udp: CLIENTS };
const normal = (n: number): Record<string, number> => ({ SOCKET_SHUTDOWN_NORMAL: n });

/** What holds in every run where the workers served: every byte, every end reason. */
function expectServedEverything(result: FixtureResult): void {
  expect(result.problems).toEqual([]);
  expect(result.refused).toEqual([]);
  expect(result.clientsOk).toEqual(ALL);
  expect(result.clientEnds).toEqual({ tcp: normal(CLIENTS), tls: normal(CLIENTS), local: normal(CLIENTS), udp: normal(CLIENTS) });
  expect(result.workers).toHaveLength(2);
  for (const w of result.workers) {
    // Every listener ended by the drain's shutdown(); every accepted connection when its client closed.
    expect(w.listenerEnds).toEqual({
      tcp: 'SOCKET_SHUTDOWN_NORMAL',
      tls: 'SOCKET_SHUTDOWN_NORMAL',
      udp: 'SOCKET_SHUTDOWN_NORMAL',
      local: 'SOCKET_SHUTDOWN_NORMAL',
    });
    for (const kind of ['tcp', 'tls', 'local'] as const) {
      expect(w.acceptedEnds[kind] ?? {}).toEqual(w.served[kind] > 0 ? { SOCKET_SHUTDOWN_BY_PEER: w.served[kind] } : {});
    }
    // Each worker served its own socket file: half of the local clients.
    expect(w.served.local).toBe(CLIENTS / 2);
  }
  const total = (kind: 'tcp' | 'tls' | 'udp'): number => result.workers.reduce((sum, w) => sum + w.served[kind], 0);
  expect(total('tcp')).toBe(CLIENTS);
  expect(total('tls')).toBe(CLIENTS);
  expect(total('udp')).toBe(CLIENTS * DATAGRAMS_PER_UDP_CLIENT);
}

describe('listeners in cluster workers (a primary and 2 workers)', () => {
  it('TCP and TLS share the primary handle round-robin, UDP its shared handle, local sockets one file each: every byte, every end reason', async () => {
    const result = await runCluster(false);
    expectServedEverything(result);
    // The primary hands TCP and TLS connections round-robin: both workers took some.
    for (const w of result.workers) {
      expect(w.served.tcp).toBeGreaterThan(0);
      expect(w.served.tls).toBeGreaterThan(0);
    }
    // UDP through the shared handle: no affinity is promised (a peer's datagrams may reach
    // either worker), so only the totals are asserted above.
  }, 100_000);

  it('with reusePort: each worker its own socket in the group, each UDP peer on one worker — or ERR_SOCKET_REUSEPORT_UNAVAILABLE where Node lacks it', async () => {
    const result = await runCluster(true);
    const why = reusePortUnavailable();
    if (why !== null) {
      // This Node line has no reusePort: both workers' createSocket refused it, loudly.
      expect(result.refused).toEqual([SocketErrorCode.ReusePortUnavailable, SocketErrorCode.ReusePortUnavailable]);
      expect(result.workers).toEqual([]);
      expect(result.problems).toEqual([]);
      return;
    }
    expectServedEverything(result);
    const [a, b] = result.workers.map((w) => new Set(w.udpPeers));
    // Affinity: the kernel hashes a peer's address and port to one socket of the group.
    expect([...a].filter((peer) => b.has(peer))).toEqual([]);
    expect(a.size + b.size).toBe(CLIENTS);
    // The datagrams of each peer all went to the worker that saw it: totals match the peers.
    for (const w of result.workers) expect(w.served.udp).toBe(w.udpPeers.length * DATAGRAMS_PER_UDP_CLIENT);
  }, 100_000);
});
