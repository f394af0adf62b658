/**
 * The `socket-provider` tool over TCP and local sockets, end to end with real processes:
 * plain Node servers and clients and socat as peers, binary data checked by SHA-256, flow
 * control in both directions, exit codes, signals, and the command line's usage errors.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import {
  closeAllRaw,
  closedPort,
  pollUntil,
  rawConnect,
  rawServer,
  rawSinkServer,
  randomBytes,
  settle,
  sha256,
  StreamCollector,
  tempPath,
  withTimeout,
} from '../helpers/net-helpers';
import { runSocat, useCli } from './cli-process';

const MiB = 1 << 20;
const itLinux = process.platform === 'linux' ? it : it.skip; // the abstract namespace is Linux's
// socat is a required peer in CI; elsewhere its tests are skipped when it is not installed.
const itSocat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0 || process.env.CI ? it : it.skip;
const paths: string[] = [];
const servers: net.Server[] = [];

/** A unique socket path, removed after the test. */
function socketPath(): string {
  const p = tempPath('sp-cli');
  paths.push(p);
  return p;
}

/** A plain Node server on a Unix socket path; `onConnection` gets each connection. */
async function localServer(path: string, onConnection: (sock: net.Socket) => void): Promise<void> {
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    sock.on('error', () => undefined); // asserted through what arrives
    onConnection(sock);
  });
  servers.push(server);
  server.listen(path);
  await withTimeout(once(server, 'listening'), 10000, 'a local server to listen');
}

const cli = useCli(async () => {
  await closeAllRaw();
  for (const s of servers.splice(0)) s.close();
  for (const p of paths.splice(0)) fs.rmSync(p, { force: true });
});

describe('command line', () => {
  it('--help prints the usage on stdout and exits 0', async () => {
    const run = cli.run(['--help']);
    expect(await run.exit()).toBe(0);
    const text = run.stdout.toString();
    expect(text).toContain('Usage: socket-provider connect tcp|tls|udp|local|rudp ADDRESS');
    for (const option of ['--dtls', '--peers', '--starttls', '--alpn', '--cert', '--ca', '--insecure', '--server-name', '--wait-peer', '--verbose'])
      expect(text).toContain(option);
  });

  it('bad command lines exit 2 with the reason and the usage on stderr, nothing on stdout', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /expected COMMAND TYPE ADDRESS, got 0/],
      [['connect', 'tcp'], /expected COMMAND TYPE ADDRESS, got 2/],
      [['dial', 'tcp', '127.0.0.1:1'], /unknown command "dial"/],
      [['connect', 'sctp', '127.0.0.1:1'], /unknown type "sctp"/],
      [['connect', 'tcp', '127.0.0.1:1', '--bogus'], /Unknown option '--bogus'/],
      [['connect', 'tls', '127.0.0.1:1', '--alpn'], /--alpn/],
      [['listen', 'tls', '127.0.0.1:0'], /listen tls needs --cert FILE/],
      [['connect', 'tcp', '127.0.0.1:1', '--alpn', 'h2'], /--alpn needs type tls, not tcp/],
      [['connect', 'tcp', '127.0.0.1:1', '--starttls'], /--starttls needs type tls, not tcp \(the connection starts as TCP/],
      [['connect', 'tls', '127.0.0.1:1', '--alpn', 'h2,,x'], /empty protocol name/],
      [['connect', 'tls', '127.0.0.1:1', '--ca', '/nonexistent/ca.pem'], /--ca \/nonexistent\/ca.pem: ENOENT/],
      [['connect', 'tls', '127.0.0.1:1', '--insecure', '--ca', 'x.pem'], /--insecure and --ca contradict/],
      [['listen', 'tls', '127.0.0.1:0', '--cert', 'package.json'], /--cert: setServerCertificate: the PEM text holds no certificate/],
      [['listen', 'tls', '127.0.0.1:0', '--cert', 'x.pem', '--server-name', 'a'], /--server-name is for connect/],
      [['connect', 'udp', '127.0.0.1:1', '--wait-peer'], /--wait-peer needs a type whose peer can close .*: udp has no end from the peer/],
    ];
    const runs = cases.map(([args]) => cli.run(args));
    await Promise.all(runs.map((r) => r.exit()));
    cases.forEach(([args, reason], i) => {
      const { exitCode, stderr, stdout } = runs[i];
      expect({ args, exitCode, stdout: stdout.length }).toEqual({ args, exitCode: 2, stdout: 0 });
      expect(stderr).toMatch(reason);
      expect(stderr).toContain('Usage: socket-provider connect tcp|tls|udp|local|rudp ADDRESS [options]');
    });
  });
});

describe('tcp', () => {
  it('connect: stdin reaches a Node server byte for byte; at the end of stdin the connection closes and the tool exits 0, silently', async () => {
    const server = await rawSinkServer();
    const data = randomBytes(MiB);
    const run = cli.run(['connect', 'tcp', `127.0.0.1:${server.port}`]);
    run.end(data);
    expect(await run.exit()).toBe(0);
    await server.connection(0);
    const got = server.collectors[0];
    await got.waitForEnd();
    expect(got.size).toBe(data.length);
    expect(sha256(got.data())).toBe(sha256(data));
    expect(run.stderr).toBe('');
  });

  it('connect --wait-peer: 1 MiB up and 2 MiB down at once, both intact; the tool exits 0 when the server closes', async () => {
    const up = randomBytes(MiB);
    const down = randomBytes(2 * MiB);
    let received: StreamCollector | null = null;
    const server = await rawServer(
      (sock) => {
        const got = new StreamCollector(sock);
        received = got;
        sock.write(down);
        got.waitForBytes(up.length, 15000).then(
          () => sock.end(),
          () => sock.destroy(),
        );
      },
      '127.0.0.1',
      { allowHalfOpen: true },
    );
    const run = cli.run(['connect', 'tcp', `127.0.0.1:${server.port}`, '--wait-peer', '--verbose']);
    run.end(up);
    expect(await run.exit()).toBe(0);
    expect(run.stdout.length).toBe(down.length);
    expect(sha256(run.stdout)).toBe(sha256(down));
    expect(sha256((received as unknown as StreamCollector).data())).toBe(sha256(up));
    expect(run.stderr).toContain('end of stdin: waiting for the peer to close (--wait-peer)');
    expect(run.stderr).toContain('socket-provider: the peer closed the connection (SOCKET_SHUTDOWN_BY_PEER)');
    expect(run.stderr).toMatch(/socket-provider tcp: #\d+ /); // --verbose turns the package's log on
  });

  it('listen: prints "listening on", serves one Node client both ways (SHA-256) and refuses a second', async () => {
    const run = cli.run(['listen', 'tcp', '127.0.0.1:0', '--verbose']);
    const port = await run.listeningPort();
    expect(run.stderr).toContain(`socket-provider: listening on 127.0.0.1:${port}\n`);
    const up = randomBytes(MiB);
    const down = randomBytes(MiB);
    const client = await rawConnect(port);
    const got = new StreamCollector(client);
    await run.stderrMatch(/accepted a connection from 127\.0\.0\.1:\d+ \(tcp\)/);
    await expect(rawConnect(port)).rejects.toThrow(/ECONNREFUSED/);
    client.write(up);
    await run.write(down);
    await got.waitForBytes(down.length);
    await run.stdoutAtLeast(up.length);
    client.end();
    expect(await run.exit()).toBe(0);
    expect(sha256(run.stdout)).toBe(sha256(up));
    expect(sha256(got.data())).toBe(sha256(down));
  });

  it('a closed stdout (EPIPE) closes the connection and exits 1 with the reason', async () => {
    const server = await rawServer((sock) => {
      sock.write(randomBytes(4 * MiB));
      sock.end();
    });
    const run = cli.run(['connect', 'tcp', `127.0.0.1:${server.port}`]);
    run.child.stdout.destroy();
    expect(await run.exit()).toBe(1);
    expect(run.stderr).toMatch(/^socket-provider: stdout: .*EPIPE/m);
  });
});

describe('exit codes', () => {
  it('connect to a port nobody listens on: 4, connection refused', async () => {
    const port = await closedPort();
    const run = cli.run(['connect', 'tcp', `127.0.0.1:${port}`]);
    expect(await run.exit()).toBe(4);
    expect(run.stderr).toBe('socket-provider: connection refused (SOCKET_CONNECT_REJECTED)\n');
  });

  it('listen on a port that is taken: 8, address in use', async () => {
    const taken = await rawServer();
    const run = cli.run(['listen', 'tcp', `127.0.0.1:${taken.port}`]);
    expect(await run.exit()).toBe(8);
    expect(run.stderr).toBe('socket-provider: address already in use (SOCKET_ADDR_IN_USE)\n');
  });

  it('malformed addresses: 3, invalid address', async () => {
    const cases = [
      ['connect', 'tcp', '999.1.1.1:80'],
      ['connect', 'tcp', '127.0.0.1'],
      ['listen', 'tcp', 'nonsense'],
      ['listen', 'udp', '127.0.0.1:70000'],
    ];
    const runs = cases.map((args) => cli.run(args));
    await Promise.all(runs.map((r) => r.exit()));
    cases.forEach((args, i) => {
      expect({ args, exitCode: runs[i].exitCode }).toEqual({ args, exitCode: 3 });
      expect(runs[i].stderr).toMatch(/^socket-provider: invalid address.*\(SOCKET_ADDRESS_INVALID\)\n$/);
    });
  });

  it('connect to a socket path that does not exist: 5; listen on a path that is a regular file: 9, and the file is kept', async () => {
    const missing = cli.run(['connect', 'local', socketPath()]);
    const file = socketPath();
    fs.writeFileSync(file, 'not a socket');
    const onFile = cli.run(['listen', 'local', file]);
    expect(await missing.exit()).toBe(5);
    expect(missing.stderr).toBe('socket-provider: cannot reach the peer (SOCKET_CONNECT_FAILED)\n');
    expect(await onFile.exit()).toBe(9);
    expect(onFile.stderr).toBe('socket-provider: cannot bind the address (SOCKET_BIND_FAILED)\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('not a socket');
  });

  it('SIGTERM while listening: the socket file is removed and the exit code is 143', async () => {
    const p = socketPath();
    const run = cli.run(['listen', 'local', p]);
    await run.stderrMatch(/listening on /);
    expect(fs.existsSync(p)).toBe(true);
    run.kill('SIGTERM');
    expect(await run.exit()).toBe(143);
    expect(run.stderr).toContain('socket-provider: stopped by a signal\n');
    expect(fs.existsSync(p)).toBe(false);
  });
});

describe('flow control (over local sockets, whose kernel buffers are small)', () => {
  const BLOCKS = 32;
  const block = randomBytes(MiB);
  const all = (): string => sha256(...Array<Buffer>(BLOCKS).fill(block));

  it('while nobody reads its stdout, the tool stops receiving and the sending server is held back', async () => {
    const p = socketPath();
    let queued = 0;
    await localServer(p, (sock) => {
      void (async () => {
        for (let i = 0; i < BLOCKS && !sock.destroyed; i++) {
          queued++;
          if (!sock.write(block)) await once(sock, 'drain');
        }
        sock.end();
      })().catch(() => undefined);
    });
    const run = cli.run(['connect', 'local', p]);
    run.child.stdout.pause();
    await pollUntil(() => queued > 0, 'the server to start sending');
    await settle(300);
    const held = queued;
    await settle(300);
    expect(queued).toBe(held); // no progress while stdout is not read…
    expect(queued).toBeLessThan(8); // …and far from all 32 MiB taken
    run.child.stdout.resume();
    expect(await run.exit(30000)).toBe(0);
    expect(run.stdout.length).toBe(BLOCKS * MiB);
    expect(sha256(run.stdout)).toBe(all());
  });

  it('while the server does not read, the tool stops reading stdin; everything arrives once it does', async () => {
    const p = socketPath();
    let serverSock: net.Socket | null = null;
    let got: StreamCollector | null = null;
    await localServer(p, (sock) => {
      sock.pause(); // explicitly paused: the collector's 'data' listener does not resume it
      got = new StreamCollector(sock);
      serverSock = sock;
    });
    const run = cli.run(['connect', 'local', p, '--verbose']);
    await run.stderrMatch(/connected to a local socket/);
    let written = 0;
    const feeding = (async () => {
      for (let i = 0; i < BLOCKS; i++) {
        await run.write(block);
        written++;
      }
      run.end();
    })();
    feeding.catch(() => undefined);
    await settle(300);
    const held = written;
    await settle(300);
    expect(written).toBe(held);
    expect(written).toBeLessThan(8);
    (serverSock as unknown as net.Socket).resume();
    await feeding;
    expect(await run.exit(30000)).toBe(0);
    const collector = got as unknown as StreamCollector;
    await collector.waitForEnd();
    expect(collector.size).toBe(BLOCKS * MiB);
    expect(sha256(collector.data())).toBe(all());
  });
});

describe('local', () => {
  itSocat('listen against socat UNIX-CONNECT: both ways; the socket file is gone once the connection was accepted', async () => {
    const p = socketPath();
    const run = cli.run(['listen', 'local', p]);
    await run.stderrMatch(/listening on /);
    expect(run.stderr).toBe(`socket-provider: listening on ${p}\n`);
    const socat = runSocat(['-', `UNIX-CONNECT:${p}`]);
    await socat.write('from socat\n');
    await run.until(() => run.stdout.toString() === 'from socat\n', 'the line from socat');
    expect(fs.existsSync(p)).toBe(false);
    await run.write('from the tool\n');
    await socat.until(() => socat.stdout.toString() === 'from the tool\n', 'the line from the tool');
    socat.end(); // socat half-closes: the tool sees the peer's end
    expect(await run.exit()).toBe(0);
    expect(await socat.exit()).toBe(0);
  });

  itSocat('connect against socat UNIX-LISTEN: both ways; the end of stdin closes the connection', async () => {
    const p = socketPath();
    const socat = runSocat(['-d', '-d', `UNIX-LISTEN:${p}`, '-']);
    await socat.until(() => /listening on/.test(socat.stderr), 'socat to listen');
    const run = cli.run(['connect', 'local', p]);
    await socat.write('from socat\n');
    await run.write('from the tool\n');
    await socat.until(() => socat.stdout.toString() === 'from the tool\n', 'the line from the tool');
    await run.until(() => run.stdout.toString() === 'from socat\n', 'the line from socat');
    run.end();
    expect(await run.exit()).toBe(0);
    expect(await socat.exit()).toBe(0);
  });

  itLinux('@NAME is a Linux abstract socket: listen and connect, both ways', async () => {
    const name = `@${tempPath('sp-cli-abstract').split('/').pop()}`;
    const server = cli.run(['listen', 'local', name]);
    await server.stderrMatch(/listening on /);
    expect(server.stderr).toBe(`socket-provider: listening on ${name}\n`);
    const client = cli.run(['connect', 'local', name, '--wait-peer']);
    client.end('up\n');
    await server.until(() => server.stdout.toString() === 'up\n', 'the line from the client');
    server.end('down\n');
    expect(await server.exit()).toBe(0);
    expect(await client.exit()).toBe(0);
    expect(client.stdout.toString()).toBe('down\n');
  });
});
