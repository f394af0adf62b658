/**
 * A local listener removes only the socket file it created (issue #15, defect 3; docs/local.md,
 * "Removal on shutdown"). A relative path is resolved against the working directory at the
 * moment of `bind()`; shutdown removes the file at that place only if it is still the same
 * socket (same device and inode). A regular file of the same name in the directory the process
 * moved to, or a file that replaced the socket after the bind, is never deleted — neither by
 * our own check nor by libuv, which unlinks a listening pipe's path when it closes.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLocalSocketProvider, ISocket, ISocketProvider, ShutdownReason } from '../../lib';
import { withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';

const WAIT = 10_000;
const itUnix = process.platform !== 'win32' ? it : it.skip; // named pipes have no file

describe('local listener: shutdown removes only its own socket file', () => {
  let local: ISocketProvider;
  const dirs: string[] = [];
  const servers: net.Server[] = [];
  const cwd = process.cwd();

  /** A fresh directory under os.tmpdir(), removed after the test. */
  function tempDir(tag: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sp-own-${tag}-`));
    dirs.push(dir);
    return dir;
  }

  beforeEach(() => {
    local = guardProvider(createLocalSocketProvider());
  });

  afterEach(async () => {
    process.chdir(cwd);
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    const violations = await cleanupAndCheck();
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    expect(violations).toEqual([]);
  });

  /** Binds a listener at `address` (as given: relative or absolute); `between` runs right after the bind() call. */
  async function bound(address: string, between?: () => void): Promise<{ listener: ISocket; lu: RecordingUser }> {
    const lu = new RecordingUser('listener', { accept: () => new RecordingUser('conn') });
    const listener = local.createSocket(lu);
    listener.bind(address, 0);
    between?.();
    await lu.waitUntil(() => lu.count('socketBindResult', listener) + lu.count('socketShutdown', listener) > 0, 'the bind result', WAIT);
    expect(lu.names(listener)).toEqual(['socketBindResult']);
    expect(lu.eventsOf('socketBindResult', listener)[0].args).toEqual([address, 0]); // reported as written
    listener.listen();
    return { listener, lu };
  }

  async function shutDown(listener: ISocket, lu: RecordingUser): Promise<void> {
    listener.shutdown();
    expect(await lu.waitForShutdown(listener, WAIT)).toBe(ShutdownReason.Normal);
  }

  function connectTo(p: string): Promise<string> {
    return withTimeout(
      new Promise<string>((resolve) => {
        const s = net.connect({ path: p });
        s.once('connect', () => {
          s.destroy();
          resolve('connected');
        });
        s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'UNKNOWN'));
      }),
      WAIT,
      `a connect to ${p}`,
    );
  }

  itUnix('relative path, then chdir to a directory with a regular file of that name: shutdown keeps that file and removes the socket', async () => {
    const home = tempDir('home');
    const other = tempDir('other');
    const name = 'srv.sock';
    fs.writeFileSync(path.join(other, name), 'precious');
    try {
      process.chdir(home);
      const { listener, lu } = await bound(name);
      expect(fs.lstatSync(path.join(home, name)).isSocket()).toBe(true);
      process.chdir(other);
      await shutDown(listener, lu);
      expect(fs.readFileSync(path.join(other, name), 'utf8')).toBe('precious');
      expect(fs.existsSync(path.join(home, name))).toBe(false);
    } finally {
      process.chdir(cwd);
    }
  });

  itUnix('a regular file that replaced the socket file after the bind is left by shutdown', async () => {
    const dir = tempDir('replaced');
    const p = path.join(dir, 'srv.sock');
    const { listener, lu } = await bound(p);
    expect(fs.lstatSync(p).isSocket()).toBe(true);
    fs.unlinkSync(p);
    fs.writeFileSync(p, 'not yours');
    await shutDown(listener, lu);
    expect(fs.readFileSync(p, 'utf8')).toBe('not yours');
  });

  itUnix('a live socket of another server that replaced ours after the bind is left by shutdown, and keeps serving', async () => {
    const dir = tempDir('resocket');
    const p = path.join(dir, 'srv.sock');
    const { listener, lu } = await bound(p);
    fs.unlinkSync(p);
    const other = net.createServer((s) => s.destroy());
    servers.push(other);
    await withTimeout(new Promise<void>((resolve) => other.listen(p, resolve)), WAIT, 'the other server to listen');
    const ino = fs.lstatSync(p).ino;
    await shutDown(listener, lu);
    expect(fs.lstatSync(p).isSocket()).toBe(true);
    expect(fs.lstatSync(p).ino).toBe(ino);
    expect(await connectTo(p)).toBe('connected');
  });

  itUnix('a relative path is resolved when bind() is called: a chdir right after the call does not move the socket', async () => {
    const home = tempDir('home');
    const other = tempDir('other');
    const name = 'early.sock';
    try {
      process.chdir(home);
      const { listener, lu } = await bound(name, () => process.chdir(other));
      expect(fs.lstatSync(path.join(home, name)).isSocket()).toBe(true);
      expect(fs.existsSync(path.join(other, name))).toBe(false);
      expect(await connectTo(path.join(home, name))).toBe('connected');
      await shutDown(listener, lu);
      expect(fs.existsSync(path.join(home, name))).toBe(false);
    } finally {
      process.chdir(cwd);
    }
  });

  itUnix('a stale socket file at the relative path is found in the directory of the bind() call, not the later one', async () => {
    const home = tempDir('home');
    const other = tempDir('other');
    const name = 'stale.sock';
    fs.writeFileSync(path.join(other, name), 'keep');
    try {
      process.chdir(home);
      const { listener, lu } = await bound(name, () => process.chdir(other));
      expect(fs.readFileSync(path.join(other, name), 'utf8')).toBe('keep');
      expect(fs.lstatSync(path.join(home, name)).isSocket()).toBe(true);
      await shutDown(listener, lu);
    } finally {
      process.chdir(cwd);
    }
  });

  itUnix('a relative path in a directory too deep for sun_path still binds, and shutdown removes it', async () => {
    let deep = tempDir('deep');
    while (Buffer.byteLength(path.join(deep, 'deep.sock')) <= 120) deep = path.join(deep, 'a-rather-long-directory-name');
    fs.mkdirSync(deep, { recursive: true });
    try {
      process.chdir(deep);
      const { listener, lu } = await bound('deep.sock');
      expect(fs.readdirSync(deep)).toEqual(['deep.sock']);
      expect(fs.lstatSync(path.join(deep, 'deep.sock')).isSocket()).toBe(true);
      expect(await connectTo('deep.sock')).toBe('connected');
      process.chdir(cwd);
      await shutDown(listener, lu);
      expect(fs.readdirSync(deep)).toEqual([]);
    } finally {
      process.chdir(cwd);
    }
  });

  itUnix('two binds of one path at once: one binds, the other is SOCKET_ADDR_IN_USE, and the winner keeps its file', async () => {
    const dir = tempDir('race');
    const p = path.join(dir, 'srv.sock');
    const users = [new RecordingUser('a'), new RecordingUser('b')];
    const sockets = users.map((u) => local.createSocket(u));
    for (const s of sockets) s.bind(p, 0);
    const ended = (i: number): boolean => users[i].count('socketBindResult', sockets[i]) + users[i].count('socketShutdown', sockets[i]) > 0;
    await users[0].waitUntil(() => ended(0) && ended(1), 'both bind results', WAIT);
    const winners = [0, 1].filter((i) => users[i].count('socketBindResult', sockets[i]) === 1);
    expect(winners).toHaveLength(1);
    const loser = 1 - winners[0];
    expect(users[loser].shutdownReason(sockets[loser])).toBe(ShutdownReason.AddrInUse);
    expect(fs.readdirSync(dir)).toEqual(['srv.sock']);
    sockets[winners[0]].listen();
    expect(await connectTo(p)).toBe('connected');
    await shutDown(sockets[winners[0]], users[winners[0]]);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  itUnix('shutdown still removes its own socket file, and leaves no helper file in the directory', async () => {
    const dir = tempDir('own');
    const p = path.join(dir, 'srv.sock');
    const { listener, lu } = await bound(p);
    expect(fs.readdirSync(dir)).toEqual(['srv.sock']);
    await shutDown(listener, lu);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
