/**
 * Socket file permissions (docs/security.md, "Socket file permissions"): the `fileMode` option
 * decides which local users may connect to a local listener. The mode is checked with stat after
 * bind; that another user is refused is checked with a real second user: a child process started
 * as `nobody` (spawn's uid/gid options), which needs the tests to run as root (CI does: .ci/run
 * installs packages with apt-get). Elsewhere those tests are skipped, as socket-file tests are off
 * Linux/macOS. Root itself is never refused (it bypasses file permissions), so the owner's own
 * connection proves nothing here; a user who is not root does.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { createLocalSocketProvider, ISocket, ISocketProvider, SocketOptions } from '../../lib';
import { tempPath, withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';

const WAIT = 10_000;
const unix = process.platform !== 'win32';
const itUnix = unix ? it : it.skip;
/** Another user's process can be started only by root. */
const asRoot = unix && process.getuid?.() === 0;
const itAsRoot = asRoot ? it : it.skip;

/** The uid and gid of `nobody`, and of its group, from /etc/passwd. */
function nobody(): { uid: number; gid: number } {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('nobody:'));
  if (!line) throw new Error('no user "nobody" in /etc/passwd');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Whether a user who is neither owner nor in the group may run `file` (o+x on it and on every folder above it). */
function runnableByOthers(file: string): boolean {
  for (let p = file; ; p = nodePath.dirname(p)) {
    if ((fs.statSync(p).mode & 0o001) === 0) return false;
    if (p === nodePath.dirname(p)) return true;
  }
}

let otherUsersNode: { bin: string; tempDir: string | null } | null = null;

/**
 * A Node binary that `nobody` can run: this process's own, or, where that lies under a folder
 * closed to other users (the CI matrix runs Node 22, 24 and 26 from a cache under root's home,
 * mode 0700: scripts/ci/node-line.sh), a copy of it in a fresh temp folder. Same Node either way.
 */
function nodeForOtherUsers(): string {
  if (!otherUsersNode) {
    const own = fs.realpathSync(process.execPath);
    if (runnableByOthers(own)) {
      otherUsersNode = { bin: own, tempDir: null };
    } else {
      const tempDir = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'sp-node-'));
      fs.chmodSync(tempDir, 0o755);
      const bin = nodePath.join(tempDir, 'node');
      fs.copyFileSync(own, bin);
      fs.chmodSync(bin, 0o755);
      otherUsersNode = { bin, tempDir };
    }
  }
  return otherUsersNode.bin;
}

afterAll(() => {
  if (otherUsersNode?.tempDir) fs.rmSync(otherUsersNode.tempDir, { recursive: true, force: true });
});

/**
 * What a plain Node client running as `uid`/`gid` gets when it connects to `path` and sends
 * "hello": `echo:hello` when it was served, else `error:<code>`.
 */
function connectAs(path: string, uid: number, gid: number): Promise<string> {
  const script = `
    const s = require('net').connect(process.argv[1]);
    s.on('connect', () => s.write('hello'));
    s.on('data', (d) => { process.stdout.write('echo:' + d); s.destroy(); });
    s.on('error', (e) => process.stdout.write('error:' + e.code));`;
  const child = spawn(nodeForOtherUsers(), ['-e', script, path], { uid, gid, cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`the child exited with ${code}: ${err}`))));
  });
  return withTimeout(done, WAIT, `a client running as uid ${uid}`).finally(() => child.kill('SIGKILL'));
}

describe('local socket file permissions (fileMode)', () => {
  let local: ISocketProvider;

  beforeEach(() => {
    local = guardProvider(createLocalSocketProvider());
  });

  afterEach(async () => {
    expect(await cleanupAndCheck()).toEqual([]);
  });

  /** A framework echo listener at a fresh path under os.tmpdir(), listening. */
  async function listenAt(options: SocketOptions): Promise<{ path: string; listener: ISocket; lu: RecordingUser }> {
    const path = tempPath('sec-perm');
    const lu = new RecordingUser('listener', { accept: () => new RecordingUser('conn', { autoRecv: 64, echo: true }) });
    const listener = local.createSocket(lu, options);
    listener.bind(path, 0);
    await lu.waitFor('socketBindResult', 1, WAIT, listener);
    listener.listen();
    return { path, listener, lu };
  }

  const modeOf = (path: string): string => (fs.statSync(path).mode & 0o777).toString(8);

  itUnix('fileMode 0o600, 0o660 and the default: stat shows 600, 660 and 666 right after bind', async () => {
    for (const [options, mode] of [
      [{ fileMode: 0o600 }, '600'],
      [{ fileMode: 0o660 }, '660'],
      [{}, '666'],
    ] as Array<[SocketOptions, string]>) {
      const { path } = await listenAt(options);
      expect(fs.lstatSync(path).isSocket()).toBe(true);
      expect(modeOf(path)).toBe(mode);
      expect(fs.statSync(path).uid).toBe(process.getuid?.());
    }
  });

  itAsRoot('fileMode 0o600: another user (nobody) is refused with EACCES; the listener is never offered the connection', async () => {
    const { uid, gid } = nobody();
    const { path, listener, lu } = await listenAt({ fileMode: 0o600 });
    expect(modeOf(path)).toBe('600');
    expect(await connectAs(path, uid, gid)).toBe('error:EACCES');
    expect(lu.count('socketListenResult', listener)).toBe(0);
  });

  itAsRoot('the default mode 0666 (control): the same user is served', async () => {
    const { uid, gid } = nobody();
    const { path, listener, lu } = await listenAt({});
    expect(await connectAs(path, uid, gid)).toBe('echo:hello');
    expect(lu.count('socketListenResult', listener)).toBe(1);
  });

  itAsRoot('fileMode 0o660: a user in the file’s group is served, one outside it is refused', async () => {
    const { uid, gid } = nobody();
    const { path, listener, lu } = await listenAt({ fileMode: 0o660 });
    const fileGid = fs.statSync(path).gid;
    expect(fileGid).not.toBe(gid);
    expect(await connectAs(path, uid, gid)).toBe('error:EACCES');
    expect(await connectAs(path, uid, fileGid)).toBe('echo:hello');
    expect(lu.count('socketListenResult', listener)).toBe(1);
  });
});
