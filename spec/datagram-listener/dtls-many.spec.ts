/**
 * Issue #19: 200 DTLS clients on ONE listener port at once — 180 framework clients (connected
 * UDP sockets, upgraded) and 20 `openssl s_client -dtls1_2 -use_srtp` processes, all started
 * together, no staggering. Every client exchanges 100 datagrams with its accepted socket (an
 * echo), each checked byte for byte on both sides, and every peer's SRTP keying material on our
 * side equals what the client derived (framework: getSrtpKeyingMaterial on both ends; openssl:
 * its "Keying material:" line).
 *
 * The framework clients run in a child process of their own (fixtures/dtls-clients.ts), as real
 * clients would: this process is the listener only, and the clients' 180 handshakes run on the
 * other core. Datagrams go ping-pong (the next one once the echo of the last came back), so one
 * lost datagram stalls its client: DTLS does not retransmit application data, and none may be
 * lost on loopback. openssl reads its stdin with raw read(), so one line written after the echo
 * of the previous one is one datagram. One bounded wait covers the whole exchange and says, when
 * it fails, how far every client got.
 */
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as path from 'node:path';
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketContext, ShutdownReason } from '../../lib';
import { withTimeout } from '../helpers/net-helpers';
import { hasOpenssl, killAllOpenssl, OpensslProcess, PemDir, runOpenssl } from '../helpers/openssl';
import { cleanupAndCheck, guardProvider, RecordingUser, waitUntil } from '../helpers/recording-user';
import { loadPki } from '../helpers/tls-fixture';
import { ClientReport, framePayload } from './fixtures/dtls-clients';
import { dtlsListener, echoPeers } from './fixtures/dtls-listener';

const FRAMEWORK = Number(process.env.DTLS_MANY_FRAMEWORK ?? 180);
const OPENSSL = hasOpenssl() ? Number(process.env.DTLS_MANY_OPENSSL ?? 20) : 0;
const ROUNDS = 100;
const WAIT = Number(process.env.DTLS_MANY_WAIT ?? 60000);
const SRTP_ARGS = ['-use_srtp', 'SRTP_AES128_CM_SHA1_80', '-keymatexport', 'EXTRACTOR-dtls_srtp', '-keymatexportlen', '60'];
/** s_client prints the keying material at the end of its session block, then `---`; data follows. */
const KEYING_BLOCK_RE = /Keying material: ([0-9A-Fa-f]+)\r?\n---\r?\n/;

const pki = loadPki();
const udp = guardProvider(createUdpSocketProvider());
const tls = guardProvider(createTlsSocketProvider());
let pem: PemDir;
let clients: FrameworkClients | null = null;

beforeAll(() => {
  pem = new PemDir();
});

afterAll(() => pem?.remove());

afterEach(async () => {
  clients?.kill();
  clients = null;
  await killAllOpenssl();
  expect(await cleanupAndCheck(30000)).toEqual([]);
});

interface Message {
  type: string;
  clients?: ClientReport[];
  [key: string]: unknown;
}

/** The child process of framework clients (fixtures/dtls-clients.ts): JSON lines out, commands in. */
class FrameworkClients {
  private readonly child: ChildProcessWithoutNullStreams;
  readonly messages: Message[] = [];
  private out = '';
  private err = '';
  private readonly waits = new Set<() => void>();
  exited = false;

  constructor(port: number, caFile: string) {
    const script = path.join(__dirname, 'fixtures', 'dtls-clients.ts');
    this.child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', script, String(port), String(FRAMEWORK), String(ROUNDS), caFile, String(3 * WAIT)],
      {
        cwd: path.resolve(__dirname, '../..'),
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
      },
    );
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.out += chunk;
      let nl: number;
      while ((nl = this.out.indexOf('\n')) >= 0) {
        this.messages.push(JSON.parse(this.out.slice(0, nl)) as Message);
        this.out = this.out.slice(nl + 1);
      }
      this.poke();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => (this.err += chunk));
    this.child.stdin.on('error', () => undefined);
    this.child.on('exit', () => {
      this.exited = true;
      this.poke();
    });
  }

  private poke(): void {
    for (const w of [...this.waits]) w();
  }

  /** The first message of `type` (bounded); rejects if the child exits first. */
  message(type: string, ms: number, details: () => string): Promise<Message> {
    const find = (): Message | undefined => this.messages.find((m) => m.type === type);
    let w: () => void = () => undefined;
    const p = new Promise<Message>((resolve, reject) => {
      w = () => {
        const m = find();
        if (m) resolve(m);
        else if (this.exited) reject(new Error(`the framework clients exited before "${type}"`));
      };
      this.waits.add(w);
      w();
    });
    return withTimeout(p, ms, `the framework clients' "${type}"`)
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${details()}\nchild stderr: ${this.err.slice(-2000)}`);
      })
      .finally(() => this.waits.delete(w));
  }

  command(line: string): void {
    if (!this.child.stdin.destroyed) this.child.stdin.write(`${line}\n`);
  }

  /** The latest progress line, asked for and awaited (bounded), as text. */
  async progress(): Promise<string> {
    const before = this.messages.filter((m) => m.type === 'progress').length;
    this.command('progress');
    let w: () => void = () => undefined;
    const p = new Promise<void>((resolve) => {
      w = () => {
        if (this.exited || this.messages.filter((m) => m.type === 'progress').length > before) resolve();
      };
      this.waits.add(w);
      w();
    });
    await withTimeout(p, 5000, 'a progress line').catch(() => undefined);
    this.waits.delete(w);
    const last = this.messages.filter((m) => m.type === 'progress').pop();
    const failed = this.messages.filter((m) => m.type === 'failed');
    return `framework clients: ${last ? JSON.stringify(last) : '(no progress line)'}${failed.length ? ` failed: ${JSON.stringify(failed.slice(0, 5))}` : ''}`;
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** Line `i` of openssl client `c` (one datagram): text that never starts with an s_client command letter. */
function opensslLine(c: number, i: number): string {
  const body = Array.from({ length: 8 + ((c * 17 + i * 29) % 150) }, (_, k) => String.fromCharCode(33 + ((c * 5 + i * 11 + k * 3) % 94))).join('');
  return `${String(c).padStart(2, '0')}:${String(i).padStart(3, '0')}:${body}\n`;
}

function serverContext(): ISocketContext {
  const server = tls.createSocketContext();
  server.setServerCertificate(pki.server);
  server.enableDtls(true);
  return server;
}

/** One openssl client: handshake, then ROUNDS lines ping-pong (`echoed[c]` counts); resolves with its keying material (hex). */
async function opensslClient(proc: OpensslProcess, c: number, echoed: number[]): Promise<string> {
  await proc.waitForOutput(KEYING_BLOCK_RE, WAIT);
  const m = proc.stdout.match(KEYING_BLOCK_RE) as RegExpMatchArray;
  expect(proc.stdout).toMatch(/SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80/);
  expect(proc.stdout).toContain('Verify return code: 0 (ok)');
  const base = (m.index as number) + m[0].length;
  let expected = '';
  for (let i = 0; i < ROUNDS; i++) {
    const line = opensslLine(c, i);
    expected += line;
    proc.write(line);
    await proc.until(() => proc.stdout.length - base >= expected.length, `the echo of line ${i} of openssl client ${c}`, WAIT);
    echoed[c] = i + 1;
  }
  // Byte for byte: everything s_client printed after its session block is exactly the echoes, in order.
  expect(proc.stdout.slice(base)).toBe(expected);
  return m[1].toLowerCase();
}

it(
  `${FRAMEWORK} framework + ${OPENSSL} openssl DTLS clients at once on one listener port: ${ROUNDS} datagrams each byte-checked, SRTP keys per peer equal`,
  async () => {
    const total = FRAMEWORK + OPENSSL;

    // The listener: every accepted DTLS socket echoes what it receives (and keeps a copy).
    const serverGot = new Map<ISocket, Buffer[]>();
    const peers = echoPeers(serverGot);
    const lu = new RecordingUser('dtls-listener', { accept: () => peers });
    const { l, port } = await dtlsListener({ udp, tls }, lu, { context: serverContext(), maxHandshakes: 256, handshakeTimeoutMs: WAIT }, WAIT);

    // All clients start now: the framework clients' process and the openssl processes.
    const ca = pem.write('ca.pem', `${pki.ca}\n`);
    const fw = new FrameworkClients(port, ca);
    clients = fw;
    const procs = Array.from({ length: OPENSSL }, () =>
      runOpenssl(['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-CAfile', ca, '-verify_return_error', '-servername', 'localhost', ...SRTP_ARGS]),
    );
    const echoed = procs.map(() => 0);
    const listenerFacts = (): string => `openssl echoes: ${echoed.join(' ')}; listener: ${JSON.stringify(l.stats().listener)}`;
    const opensslRuns = Promise.all(procs.map((p, c) => opensslClient(p, c, echoed)));
    opensslRuns.catch(() => undefined); // reported below
    let fwProgress = '';
    const done = await fw
      .message('done', 2 * WAIT, () => `${fwProgress}; ${listenerFacts()}`)
      .catch(async (e: Error) => {
        fwProgress = await fw.progress();
        throw new Error(`${e.message}\n${fwProgress}`);
      });
    const opensslKeys = await withTimeout(opensslRuns, WAIT, 'the openssl clients').catch((e: Error) => {
      throw new Error(`${e.message}\n${listenerFacts()}`);
    });

    // Every peer handshook with this one listener and was accepted.
    expect(lu.count('socketListenResult')).toBe(total);
    expect(peers.count('socketAcceptComplete')).toBe(total);
    expect(l.connectionCount).toBe(total);
    expect(l.stats().listener?.accepted).toBe(total);
    const accepted = [...serverGot.keys()];
    expect(accepted).toHaveLength(total);

    // Framework clients: 100 echoes each, equal byte for byte (checked in the child), and the
    // accepted socket received exactly those 100 datagrams; SRTP keys equal on both ends.
    const reports = done.clients as ClientReport[];
    expect(reports).toHaveLength(FRAMEWORK);
    const byPort = new Map(accepted.map((s) => [s.remotePort, s]));
    for (const r of reports) {
      expect({ c: r.c, echoes: r.echoes, mismatches: r.mismatches }).toEqual({ c: r.c, echoes: ROUNDS, mismatches: 0 });
      const s = byPort.get(r.port) as ISocket;
      expect(s).toBeDefined();
      const got = serverGot.get(s) as Buffer[];
      expect(got).toHaveLength(ROUNDS);
      got.forEach((b, i) => expect(b.equals(framePayload(r.c, i))).toBe(true));
      const mine = s.getSrtpKeyingMaterial();
      expect(mine?.profile).toBe('SRTP_AES128_CM_SHA1_80');
      expect(`${mine?.profile}:${Buffer.from(mine!.material).toString('hex')}`).toBe(r.key);
    }

    // openssl clients: their accepted socket (known by the client number its lines start with) received exactly the lines; keys equal.
    for (let c = 0; c < OPENSSL; c++) {
      const prefix = `${String(c).padStart(2, '0')}:`;
      const s = accepted.find((a) => (serverGot.get(a)?.[0]?.toString('latin1') ?? '').startsWith(prefix)) as ISocket;
      expect(s).toBeDefined();
      const got = (serverGot.get(s) as Buffer[]).map((b) => b.toString('latin1'));
      expect(got).toEqual(Array.from({ length: ROUNDS }, (_, i) => opensslLine(c, i)));
      const mine = s.getSrtpKeyingMaterial();
      expect(mine?.material.byteLength).toBe(60);
      expect(Buffer.from(mine!.material).toString('hex')).toBe(opensslKeys[c]);
    }

    // Each peer has keying material of its own.
    expect(new Set(accepted.map((s) => Buffer.from(s.getSrtpKeyingMaterial()!.material).toString('hex'))).size).toBe(total);

    // The end: every client closes (close_notify), every accepted socket ends BY_PEER.
    for (const p of procs) p.endInput(); // s_client sends close_notify at the end of its input
    fw.command('close');
    await fw.message('closed', WAIT, () => listenerFacts());
    await withTimeout(Promise.all(procs.map((p) => p.waitForExit(WAIT))), WAIT, 'the openssl clients to exit');
    await waitUntil(
      () => peers.count('socketShutdown') === total,
      `${total} accepted sockets to end`,
      WAIT,
      () => listenerFacts(),
    );
    expect(new Set(accepted.map((s) => peers.shutdownReason(s)))).toEqual(new Set([ShutdownReason.ByPeer]));
    l.shutdown();
  },
  5 * WAIT,
);
