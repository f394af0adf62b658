/**
 * Local sockets (Unix domain sockets; named pipes on Windows): the stream conformance suite,
 * then what is particular to paths — file modes, stale and live socket files, files that are
 * not sockets, the abstract namespace, address limits — real peers (`net`, socat) and IPC
 * between two processes.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ISocket, ShutdownReason, SocketOptions } from '../../lib';
import { runStreamConformance } from '../conformance/stream-suite';
import { makeLocalFixture } from '../helpers/local-fixture';
import { closeAllRaw, randomBytes, sha256, StreamCollector, withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { StreamHarness } from '../helpers/stream-harness';

const KiB = 1024;
const MiB = 1024 * 1024;
/** Every wait on another process is bounded by this. */
const WAIT_MS = 15000;

const fixture = makeLocalFixture();

runStreamConformance('local', fixture);

const unix = process.platform !== 'win32';
const itUnix = unix ? it : it.skip; // socket files exist only on Linux/macOS
const itLinux = process.platform === 'linux' ? it : it.skip; // the abstract namespace is Linux's
const hasSocat = unix && spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
// socat is installed by .ci/run; on a developer machine without it, these tests are skipped.
const itSocat = hasSocat || (unix && process.env.CI) ? it : it.skip;

const echoUser = (label = 'echo'): RecordingUser => new RecordingUser(label, { autoRecv: 64 * KiB, echo: true });
const sinkUser = (label = 'sink'): RecordingUser => new RecordingUser(label, { autoRecv: 64 * KiB });

// ---------------------------------------------------------------------------------------
// Child processes: output collected, every wait bounded, every one killed in afterEach
// ---------------------------------------------------------------------------------------

class ChildRun {
  out = '';
  err = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  closed = false;
  private readonly waits = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.stdout?.setEncoding('utf8');
    proc.stderr?.setEncoding('utf8');
    proc.stdout?.on('data', (d: string) => {
      this.out += d;
      this.poke();
    });
    proc.stderr?.on('data', (d: string) => {
      this.err += d;
      this.poke();
    });
    proc.stdin?.on('error', () => undefined); // the child may be gone before we write
    proc.on('error', (e) => {
      this.err += `\nspawn error: ${e.message}`;
      this.exit ??= { code: -1, signal: null };
      this.closed = true;
      this.poke();
    });
    proc.on('exit', (code, signal) => {
      this.exit = { code, signal };
      this.poke();
    });
    proc.on('close', () => {
      this.closed = true;
      this.poke();
    });
  }

  private poke(): void {
    for (const w of [...this.waits]) w();
  }

  /** Resolves once `check()` holds (re-checked on every output and exit), bounded. */
  until(check: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    if (check()) return Promise.resolve();
    let w: () => void = () => undefined;
    const p = new Promise<void>((resolve) => {
      w = () => {
        if (check()) resolve();
      };
      this.waits.add(w);
    });
    return withTimeout(
      p,
      ms,
      `${this.name}: ${what} (stdout ${JSON.stringify(this.out)}, stderr ${JSON.stringify(this.err.slice(-500))}, exit ${JSON.stringify(this.exit)})`,
    ).finally(() => this.waits.delete(w));
  }

  /** Waits for the process to end and its output to be complete. */
  async finished(ms = WAIT_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    await this.until(() => this.exit !== null && this.closed, 'the process to end', ms);
    return this.exit!;
  }

  async kill(): Promise<void> {
    if (this.exit === null) this.proc.kill('SIGKILL');
    await this.until(() => this.exit !== null, 'the process to die after SIGKILL');
  }
}

const children = new Set<ChildRun>();

function run(name: string, command: string, args: string[]): ChildRun {
  const c = new ChildRun(name, spawn(command, args, { cwd: path.join(__dirname, '..', '..'), stdio: ['pipe', 'pipe', 'pipe'] }));
  children.add(c);
  return c;
}

/** What a plain `net` connect to `address` gets: 'connected' or the error code. */
function probeConnect(address: string): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve) => {
      const s = net.connect({ path: address });
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'UNKNOWN'));
    }),
    WAIT_MS,
    `a probe connect to ${JSON.stringify(address)}`,
  );
}

/**
 * Leaves a stale socket file at `p`: a child process listens on it and is SIGKILLed, so
 * nothing unlinks it. Checks that it is a socket file and that a connect is refused.
 */
async function makeStaleSocketFile(p: string): Promise<void> {
  const child = run('stale-maker', process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('ready'))", p]);
  await child.until(() => child.out.includes('ready'), 'the child to listen');
  await child.kill();
  expect(child.exit?.signal).toBe('SIGKILL');
  expect(fs.lstatSync(p).isSocket()).toBe(true);
  expect(await probeConnect(p)).toBe('ECONNREFUSED');
}

const fileMode = (p: string): number => fs.statSync(p).mode & 0o777;

describe('local sockets', () => {
  let h: StreamHarness;

  beforeEach(() => {
    h = new StreamHarness(fixture);
  });

  afterEach(async () => {
    const kills = [...children].map((c) => c.kill().catch((e: Error) => e.message));
    children.clear();
    const killErrors = (await Promise.all(kills)).filter((r): r is string => typeof r === 'string');
    const violations = await cleanupAndCheck();
    await h.cleanup();
    await closeAllRaw();
    expect(killErrors).toEqual([]);
    expect(violations).toEqual([]);
  });

  /** Binds a local listener at `address` (must succeed) and listens; accepts with `conn()`. */
  async function listenAt(address: string, conn: () => RecordingUser, options: SocketOptions = {}): Promise<{ socket: ISocket; user: RecordingUser }> {
    const user = new RecordingUser('listener', { accept: conn });
    const socket = h.socket(user, options);
    socket.bind(address, 0);
    await user.waitFor('socketBindResult', 1, 10000, socket);
    socket.listen();
    return { socket, user };
  }

  /** A bind at `address` that must fail: returns the reason, checks no socketBindResult came. */
  async function failedBind(address: string | null | undefined, label = 'bind'): Promise<ShutdownReason> {
    const u = new RecordingUser(label);
    const s = h.socket(u, fixture.serverOptions());
    s.bind(address, 0);
    const reason = await u.waitForShutdown(s);
    expect(u.names(s)).toEqual(['socketShutdown']);
    return reason;
  }

  /** A connect to `address` that must fail: returns the reason. */
  async function failedConnect(address: string, label = 'client'): Promise<ShutdownReason> {
    const u = new RecordingUser(label);
    const s = h.client(address, u);
    const reason = await u.waitForShutdown(s);
    expect(u.count('socketConnectComplete', s)).toBe(0);
    return reason;
  }

  describe('data and facts', () => {
    it('echoes 200 KB, checked by SHA-256', async () => {
      const srv = await h.listen({ conn: () => echoUser() });
      const cu = sinkUser('client');
      const c = await h.connect(srv, cu);
      const payload = randomBytes(200 * 1000);
      c.send(payload.subarray(0, 77));
      c.send(payload.subarray(77));
      await cu.waitForBytes(payload.length, c);
      expect(cu.receivedLength(c)).toBe(payload.length);
      expect(sha256(cu.received(c))).toBe(sha256(payload));
      c.shutdown();
      expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
    });

    it('reports the path with port 0: bind result, getLocalAddress, listen result (""/0), accepted mode "client"', async () => {
      const p = fixture.path();
      const echo = echoUser();
      const { socket: l, user: lu } = await listenAt(p, () => echo);
      expect(lu.eventsOf('socketBindResult', l)[0].args).toEqual([p, 0]);
      expect(l.getLocalAddress()).toEqual({ address: p, port: 0 });
      expect(l.localAddress).toBe(p);
      expect(l.localPort).toBe(0);
      expect(l.mode).toBe('server');
      expect(l.type).toBe('local');
      const cu = sinkUser('client');
      const c = await h.connect(p, cu);
      await echo.waitFor('socketAcceptComplete');
      const conn = echo.eventsOf('socketAcceptComplete')[0].socket;
      expect(lu.eventsOf('socketListenResult', l).map((e) => e.args)).toEqual([['', 0]]);
      expect(conn.mode).toBe('client');
      expect(conn.type).toBe('local');
      expect(c.mode).toBe('client');
      expect(c.remotePort).toBe(0);
      expect(conn.remotePort).toBe(0);
      expect(conn.localPort).toBe(0);
      c.send(Buffer.from('facts'));
      await cu.waitForBytes(5, c);
      expect(cu.received(c).toString()).toBe('facts');
    });
  });

  describe('the socket file', () => {
    itUnix('after bind the file is a socket with mode 0666', async () => {
      const p = fixture.path();
      await listenAt(p, () => echoUser());
      expect(fs.lstatSync(p).isSocket()).toBe(true);
      expect(fileMode(p).toString(8)).toBe('666');
    });

    itUnix('with option fileMode: 0o600 the file has mode 0600, and its owner can connect', async () => {
      const p = fixture.path();
      await listenAt(p, () => echoUser(), { fileMode: 0o600 });
      expect(fs.lstatSync(p).isSocket()).toBe(true);
      expect(fileMode(p).toString(8)).toBe('600');
      const cu = sinkUser('client');
      const c = await h.connect(p, cu);
      c.send(Buffer.from('owner'));
      await cu.waitForBytes(5, c);
      expect(cu.received(c).toString()).toBe('owner');
    });

    itUnix('a stale socket file (its process was killed) is replaced: bind succeeds and serves', async () => {
      const p = fixture.path('sp-stale');
      await makeStaleSocketFile(p);
      const { socket: l, user: lu } = await listenAt(p, () => echoUser());
      expect(lu.eventsOf('socketBindResult', l)[0].args).toEqual([p, 0]);
      expect(fs.lstatSync(p).isSocket()).toBe(true);
      expect(fileMode(p).toString(8)).toBe('666');
      expect(await probeConnect(p)).toBe('connected'); // the new file is live: the stale one was replaced
      const cu = sinkUser('client');
      const c = await h.connect(p, cu);
      c.send(Buffer.from('fresh'));
      await cu.waitForBytes(5, c);
      expect(cu.received(c).toString()).toBe('fresh');
    });

    itUnix('a live socket (a plain net server listens) is SOCKET_ADDR_IN_USE; the live server keeps working', async () => {
      const live = await fixture.rawPathServer((sock) => sock.pipe(sock));
      const ino = fs.lstatSync(live.address).ino;
      expect(await failedBind(live.address)).toBe(ShutdownReason.AddrInUse);
      const st = fs.lstatSync(live.address);
      expect(st.isSocket()).toBe(true);
      expect(st.ino).toBe(ino);
      expect(live.server.listening).toBe(true);
      const raw = await fixture.rawPathConnect(live.address);
      const peer = new StreamCollector(raw);
      raw.write('still alive');
      await peer.waitForBytes(11);
      expect(peer.data().toString()).toBe('still alive');
    });

    itUnix('a regular file at the path is SOCKET_BIND_FAILED and left untouched', async () => {
      const p = fixture.path('sp-regular');
      const content = `precious data ${cryptoRandomBytes(8).toString('hex')}\n`;
      fs.writeFileSync(p, content, { mode: 0o640 });
      fs.chmodSync(p, 0o640);
      const before = fs.lstatSync(p);
      expect(await failedBind(p)).toBe(ShutdownReason.BindFailed);
      const after = fs.lstatSync(p);
      expect(after.isFile()).toBe(true);
      expect(after.ino).toBe(before.ino);
      expect(after.mode & 0o777).toBe(0o640);
      expect(fs.readFileSync(p, 'utf8')).toBe(content);
    });

    itUnix('a directory at the path is SOCKET_BIND_FAILED and left in place', async () => {
      const p = fixture.path('sp-dir');
      fs.mkdirSync(p);
      fs.writeFileSync(path.join(p, 'inside.txt'), 'keep me');
      expect(await failedBind(p)).toBe(ShutdownReason.BindFailed);
      expect(fs.lstatSync(p).isDirectory()).toBe(true);
      expect(fs.readFileSync(path.join(p, 'inside.txt'), 'utf8')).toBe('keep me');
    });

    itUnix('a path in a directory that does not exist is SOCKET_BIND_FAILED', async () => {
      const dir = fixture.path('sp-nodir');
      const p = path.join(dir, 'x.sock');
      expect(fs.existsSync(dir)).toBe(false);
      expect(await failedBind(p)).toBe(ShutdownReason.BindFailed);
      expect(fs.existsSync(dir)).toBe(false);
    });

    itUnix('shutdown() of the listener removes the file', async () => {
      const p = fixture.path();
      const { socket: l, user: lu } = await listenAt(p, () => echoUser());
      expect(fs.lstatSync(p).isSocket()).toBe(true);
      l.shutdown();
      expect(await lu.waitForShutdown(l)).toBe(ShutdownReason.Normal);
      expect(fs.existsSync(p)).toBe(false);
      expect(await failedConnect(p)).toBe(ShutdownReason.ConnectFailed);
    });

    itUnix('a failed bind removes no file it did not create', async () => {
      // A failed bind on a live path (ADDR_IN_USE), then that socket's shutdown must leave the file.
      const live = await fixture.rawPathServer((sock) => sock.pipe(sock));
      const u = new RecordingUser('loser');
      const s = h.socket(u, fixture.serverOptions());
      s.bind(live.address, 0);
      expect(await u.waitForShutdown(s)).toBe(ShutdownReason.AddrInUse);
      s.shutdown();
      expect(fs.lstatSync(live.address).isSocket()).toBe(true);
      expect(await probeConnect(live.address)).toBe('connected');
    });
  });

  describe('addresses', () => {
    itLinux('the abstract namespace (\\0name): echo works, nothing appears on disk, the name is freed by shutdown', async () => {
      const name = `\0sp-abstract-${process.pid}-${cryptoRandomBytes(6).toString('hex')}`;
      const echo = echoUser();
      const { socket: l, user: lu } = await listenAt(name, () => echo);
      expect(lu.eventsOf('socketBindResult', l)[0].args).toEqual([name, 0]);
      expect(l.getLocalAddress()).toEqual({ address: name, port: 0 });
      expect(fs.existsSync(name.slice(1))).toBe(false);
      const cu = sinkUser('client');
      const c = await h.connect(name, cu);
      const data = randomBytes(100 * KiB);
      c.send(data);
      await cu.waitForBytes(data.length, c);
      expect(sha256(cu.received(c))).toBe(sha256(data));
      // A plain net client reaches the same name.
      const raw = await fixture.rawPathConnect(name);
      const peer = new StreamCollector(raw);
      raw.write('abstract');
      await peer.waitForBytes(8);
      expect(peer.data().toString()).toBe('abstract');
      l.shutdown();
      expect(await lu.waitForShutdown(l)).toBe(ShutdownReason.Normal);
      expect(await probeConnect(name)).toBe('ECONNREFUSED');
    });

    it('a too-long path is SOCKET_ADDRESS_INVALID for bind and for connect', async () => {
      const long = unix ? path.join(os.tmpdir(), `sp-long-${'x'.repeat(150)}.sock`) : `\\\\.\\pipe\\${'x'.repeat(300)}`;
      fixture.removeLater(long);
      expect(await failedBind(long)).toBe(ShutdownReason.AddressInvalid);
      if (unix) expect(fs.existsSync(long)).toBe(false);
      expect(await failedConnect(long)).toBe(ShutdownReason.AddressInvalid);
    });

    it('bind with a null, undefined or empty address is SOCKET_ADDRESS_INVALID', async () => {
      expect(await failedBind(null, 'null')).toBe(ShutdownReason.AddressInvalid);
      expect(await failedBind(undefined, 'undefined')).toBe(ShutdownReason.AddressInvalid);
      expect(await failedBind('', 'empty')).toBe(ShutdownReason.AddressInvalid);
    });

    it('a NUL inside the path is SOCKET_ADDRESS_INVALID for bind and for connect', async () => {
      const p = `${fixture.path()}\0tail`;
      expect(await failedBind(p)).toBe(ShutdownReason.AddressInvalid);
      expect(await failedConnect(p)).toBe(ShutdownReason.AddressInvalid);
    });

    it('connect to a path that does not exist is SOCKET_CONNECT_FAILED', async () => {
      const p = fixture.path('sp-missing');
      expect(fs.existsSync(p)).toBe(false);
      expect(await failedConnect(p)).toBe(ShutdownReason.ConnectFailed);
    });

    itUnix('connect to a socket file nobody listens on is SOCKET_CONNECT_REJECTED; the file stays', async () => {
      const p = fixture.path('sp-stale');
      await makeStaleSocketFile(p);
      expect(await failedConnect(p)).toBe(ShutdownReason.ConnectRejected);
      expect(fs.lstatSync(p).isSocket()).toBe(true);
    });
  });

  describe('real peers', () => {
    it('plain net client ↔ framework local echo server (1 MiB), then the client ends: BY_PEER', async () => {
      const echo = echoUser();
      const srv = await h.listen({ conn: () => echo });
      const raw = await fixture.rawPathConnect(srv.address);
      const peer = new StreamCollector(raw);
      const data = randomBytes(MiB);
      raw.write(data);
      await peer.waitForBytes(data.length, WAIT_MS);
      expect(sha256(peer.data())).toBe(sha256(data));
      raw.end();
      const { socket: conn } = await srv.accepted(0);
      expect(await echo.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
      await peer.waitForEnd();
      expect(peer.size).toBe(data.length);
      expect(srv.user.eventsOf('socketListenResult')[0].args).toEqual(['', 0]);
    });

    it('framework local client ↔ plain net echo server (1 MiB), then shutdown: NORMAL', async () => {
      const srv = await fixture.rawPathServer((sock) => sock.pipe(sock));
      const cu = sinkUser('client');
      const c = await h.connect(srv.address, cu);
      const data = randomBytes(MiB);
      for (let off = 0; off < data.length; off += 100 * KiB) c.send(data.subarray(off, off + 100 * KiB));
      await cu.waitForBytes(data.length, c, WAIT_MS);
      expect(sha256(cu.received(c))).toBe(sha256(data));
      c.shutdown();
      expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
      expect(srv.connections).toHaveLength(1);
    });

    it('a plain net server closing the connection is BY_PEER for the framework client', async () => {
      const srv = await fixture.rawPathServer((sock) => sock.end('bye'));
      const cu = sinkUser('client');
      const c = await h.connect(srv.address, cu);
      expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.ByPeer);
      expect(cu.received(c).toString()).toBe('bye');
    });

    itSocat('socat - UNIX-CONNECT: as a client of a framework echo server', async () => {
      const echo = echoUser();
      const srv = await h.listen({ conn: () => echo });
      const socat = run('socat-client', 'socat', ['-', `UNIX-CONNECT:${srv.address}`]);
      const line = `hello from socat ${cryptoRandomBytes(6).toString('hex')}`;
      socat.proc.stdin!.write(`${line}\n`);
      await socat.until(() => socat.out.includes('\n'), 'the echoed line on socat’s stdout');
      expect(socat.out).toBe(`${line}\n`);
      const { socket: conn } = await srv.accepted(0);
      expect(echo.received(conn).toString()).toBe(`${line}\n`);
      socat.proc.stdin!.end();
      expect(await echo.waitForShutdown(conn, WAIT_MS)).toBe(ShutdownReason.ByPeer);
      expect(await socat.finished()).toEqual({ code: 0, signal: null });
    });

    itSocat('socat UNIX-LISTEN: EXEC:cat as a server for a framework client (100 KiB echoed)', async () => {
      const p = fixture.path('sp-socat');
      const socat = run('socat-server', 'socat', ['-d', '-d', `UNIX-LISTEN:${p}`, 'EXEC:cat']);
      await socat.until(() => socat.err.includes('listening on'), 'socat to listen');
      expect(fs.lstatSync(p).isSocket()).toBe(true);
      const cu = sinkUser('client');
      const c = await h.connect(p, cu);
      const data = randomBytes(100 * KiB);
      c.send(data);
      await cu.waitForBytes(data.length, c, WAIT_MS);
      expect(sha256(cu.received(c))).toBe(sha256(data));
      c.shutdown();
      expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
    });
  });

  describe('IPC between two processes', () => {
    const childScript = path.join(__dirname, '..', 'fixtures', 'ipc-child.ts');

    /** A framework server: reads one line per connection, answers `<token>:<line reversed>`. */
    async function lineServer(token: string): Promise<{ address: string; lines: string[]; conns: RecordingUser }> {
      const lines: string[] = [];
      const conns = new RecordingUser('ipc-conn', { autoRecv: 64 * KiB });
      conns.on('socketRecvResult', (s) => {
        const text = conns.received(s).toString('utf8');
        const nl = text.indexOf('\n');
        if (nl < 0 || text.length !== nl + 1) return; // one line, answered once it is complete
        const line = text.slice(0, nl);
        lines.push(line);
        s.send(Buffer.from(`${token}:${[...line].reverse().join('')}\n`, 'utf8'));
      });
      const srv = await h.listen({ conn: () => conns });
      return { address: srv.address, lines, conns };
    }

    const childRun = (address: string, message: string, n = 0): ChildRun =>
      run(`ipc-child-${n}`, process.execPath, ['-r', 'ts-node/register/transpile-only', childScript, address, message]);

    it('a child process (the package as a client) and this process exchange a message both ways', async () => {
      const token = cryptoRandomBytes(6).toString('hex');
      const { address, lines, conns } = await lineServer(token);
      const message = `hello from the child ${cryptoRandomBytes(4).toString('hex')}`;
      const child = childRun(address, message);
      const exit = await child.finished();
      expect({ exit, stdout: child.out }).toEqual({
        exit: { code: 0, signal: null },
        stdout: `reply: ${token}:${[...message].reverse().join('')}\n`,
      });
      expect(lines).toEqual([message]);
      const conn = conns.eventsOf('socketAcceptComplete')[0].socket;
      expect(await conns.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
    }, 45000);

    it('three children at once, each gets its own answer (UTF-8 intact)', async () => {
      const token = cryptoRandomBytes(6).toString('hex');
      const { address, lines, conns } = await lineServer(token);
      const messages = ['first child', 'zweites Kind: grüße ☃', `third ${cryptoRandomBytes(16).toString('hex')}`];
      const runs = messages.map((m, i) => childRun(address, m, i));
      // Three ts-node processes compiling the library at once on two cores: on a loaded machine
      // that took over WAIT_MS (seen in the Node matrix runs, on Node 20 and 22 alike).
      const exits = await Promise.all(runs.map((r) => r.finished(40_000)));
      expect(exits).toEqual(messages.map(() => ({ code: 0, signal: null })));
      expect(runs.map((r) => r.out)).toEqual(messages.map((m) => `reply: ${token}:${[...m].reverse().join('')}\n`));
      expect([...lines].sort()).toEqual([...messages].sort());
      await conns.waitFor('socketShutdown', 3);
      expect(conns.eventsOf('socketShutdown').map((e) => e.args[0])).toEqual(messages.map(() => ShutdownReason.ByPeer));
    }, 45000);

    it('the child reports a failure when nobody listens (exit 1, no reply)', async () => {
      const p = fixture.path('sp-ipc-missing');
      const child = childRun(p, 'anyone?');
      const exit = await child.finished();
      expect(exit).toEqual({ code: 1, signal: null });
      expect(child.out).toBe(`error: shutdown ${ShutdownReason.ConnectFailed} before a reply\n`);
    }, 30000);
  });
});
