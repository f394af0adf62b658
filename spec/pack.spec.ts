import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The published artefact: `npm pack` gives a tarball that installs into an empty project and
// works from CommonJS, from ESM and from TypeScript (the .d.ts files ship).
const root = path.join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const roundTrip = (importLine: string): string => `${importLine}
const provider = createTcpSocketProvider();
const server = provider.createSocket({
  socketBindResult(s, addr, port) {
    s.listen();
    const client = provider.createSocket({
      buf: new Uint8Array(2),
      socketConnectComplete(c) { c.send(new TextEncoder().encode('ok')); c.recv(this.buf); },
      socketRecvResult(c, b, n) { console.log(new TextDecoder().decode(b.subarray(0, n))); c.shutdown(); server.shutdown(); },
      socketShutdown() {},
    });
    client.connect('127.0.0.1:' + port);
  },
  socketListenResult(s) {
    s.accept({
      buf: new Uint8Array(2),
      socketAcceptComplete(a) { a.recv(this.buf); },
      socketRecvResult(a, b, n) { a.send(b, n); a.shutdown(); },
      socketShutdown() {},
    });
  },
  socketShutdown() {},
});
server.bind('127.0.0.1', 0);
`;

describe('npm pack', () => {
  let dir: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-provider-pack-'));
    const out = execFileSync(npm, ['pack', '--pack-destination', dir, '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const tarball = path.join(dir, JSON.parse(out)[0].filename);
    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // --prefer-offline, not --offline: `npm ci` caches the lockfile's tarballs but not the registry's package
    // metadata, which installing the tarball's own dependency (werift-dtls) asks for; on a fresh
    // machine --offline fails with ENOTCACHED.
    execFileSync(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app, stdio: 'pipe' });
  }, 180000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const app = (): string => path.join(dir, 'app');

  it('ships the compiled code and its type declarations, not the sources', () => {
    const pkg = path.join(app(), 'node_modules', 'socket-provider');
    expect(fs.existsSync(path.join(pkg, 'dist', 'index.js'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'dist', 'index.d.ts'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'dist', 'api.d.ts'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'lib'))).toBe(false);
    expect(fs.existsSync(path.join(pkg, 'spec'))).toBe(false);
  });

  it('installs the socket-provider command (package.json bin)', () => {
    const bin = path.join(app(), 'node_modules', '.bin', process.platform === 'win32' ? 'socket-provider.cmd' : 'socket-provider');
    expect(execFileSync(bin, ['--help'], { encoding: 'utf8', timeout: 20000 })).toContain('Usage: socket-provider connect');
  });

  it('works with require()', () => {
    fs.writeFileSync(path.join(app(), 'cjs.js'), roundTrip("const { createTcpSocketProvider } = require('socket-provider');"));
    expect(execFileSync(process.execPath, ['cjs.js'], { cwd: app(), encoding: 'utf8', timeout: 20000 }).trim()).toBe('ok');
  });

  it('works with ESM import { … }', () => {
    fs.writeFileSync(
      path.join(app(), 'esm.mjs'),
      roundTrip(
        "import { createTcpSocketProvider, ShutdownReason, USocket } from 'socket-provider';\nif (ShutdownReason.Normal !== 'SOCKET_SHUTDOWN_NORMAL' || typeof USocket !== 'function') throw new Error('exports');",
      ),
    );
    expect(execFileSync(process.execPath, ['esm.mjs'], { cwd: app(), encoding: 'utf8', timeout: 20000 }).trim()).toBe('ok');
  });

  it('runs socket-provider/async from require() and from ESM import', () => {
    const body = `const tcp = createTcpSocketProvider();
(async () => {
  const server = await listen(tcp, '127.0.0.1', 0);
  (async () => { for await (const conn of server) { for await (const chunk of conn) await conn.write(chunk); } })();
  const client = await connect(tcp, '127.0.0.1:' + server.port);
  await client.write('ok');
  console.log(String(await client.read(2)));
  client.end();
  server.close();
})();
`;
    fs.writeFileSync(
      path.join(app(), 'async.js'),
      `const { createTcpSocketProvider } = require('socket-provider');\nconst { connect, listen } = require('socket-provider/async');\n${body}`,
    );
    expect(execFileSync(process.execPath, ['async.js'], { cwd: app(), encoding: 'utf8', timeout: 20000 }).trim()).toBe('ok');
    fs.writeFileSync(
      path.join(app(), 'async.mjs'),
      `import { createTcpSocketProvider } from 'socket-provider';\nimport { connect, listen } from 'socket-provider/async';\n${body}`,
    );
    expect(execFileSync(process.execPath, ['async.mjs'], { cwd: app(), encoding: 'utf8', timeout: 20000 }).trim()).toBe('ok');
  });

  it.each(['node10', 'node16', 'bundler'])('type-checks a consumer of socket-provider/async with moduleResolution %s', (resolution) => {
    fs.writeFileSync(
      path.join(app(), `async-consumer-${resolution}.ts`),
      `import { createTcpSocketProvider, ShutdownReason } from 'socket-provider';
import { connect, Connection, SocketClosedError, toDuplex } from 'socket-provider/async';
export async function main(): Promise<ShutdownReason> {
  const conn: Connection = await connect(createTcpSocketProvider(), '127.0.0.1:1', { noDelay: true, signal: AbortSignal.timeout(1000) });
  const data: Buffer = await conn.read(2);
  void data; void toDuplex(conn); void SocketClosedError;
  return conn.closed;
}
`,
    );
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const module = resolution === 'node16' ? 'node16' : resolution === 'bundler' ? 'esnext' : 'commonjs';
    execFileSync(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--strict',
        '--module',
        module,
        '--moduleResolution',
        resolution,
        '--target',
        'es2022',
        '--types',
        'node',
        '--typeRoots',
        path.join(root, 'node_modules', '@types'),
        `async-consumer-${resolution}.ts`,
      ],
      { cwd: app(), encoding: 'utf8' },
    );
  });

  it('type-checks a TypeScript consumer against the shipped .d.ts', () => {
    fs.writeFileSync(
      path.join(app(), 'consumer.ts'),
      `import { createTcpSocketProvider, ISocket, ShutdownReason, USocket, SocketStateError } from 'socket-provider';
class Client extends USocket {
  override socketConnectComplete(socket: ISocket): void { socket.send(new Uint8Array([1])); }
  socketShutdown(socket: ISocket, reason: ShutdownReason): void { void reason; }
}
const socket: ISocket = createTcpSocketProvider().createSocket(new Client(), { noDelay: true });
const code: string = new SocketStateError('ERR_SOCKET_WRONG_MODE', 'x').code;
void socket; void code;
`,
    );
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--strict',
        '--module',
        'commonjs',
        '--moduleResolution',
        'node',
        '--types',
        'node',
        '--typeRoots',
        path.join(root, 'node_modules', '@types'),
        'consumer.ts',
      ],
      {
        cwd: app(),
        encoding: 'utf8',
      },
    );
  });
});
