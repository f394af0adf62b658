/**
 * The `socket-provider` tool over TLS and STARTTLS, end to end: against `openssl s_server`
 * and `openssl s_client` (also `-starttls smtp`), against a plain Node server that refuses
 * STARTTLS, and against itself. Certificates are made at run time (scripts/certs.ts).
 */
import { closeAllRaw, rawServer, randomBytes, sha256 } from '../helpers/net-helpers';
import { freePort, hasOpenssl, killAllOpenssl, OpensslProcess, runOpenssl } from '../helpers/openssl';
import { CliProcess, useCli } from './cli-process';
import { usePkiFiles } from './pki-files';

const describeOpenssl = hasOpenssl() ? describe : describe.skip;

const cli = useCli(async () => {
  await killAllOpenssl();
  await closeAllRaw();
});
const { files } = usePkiFiles();

/** `openssl s_client` (`extra` options first) to the tool on `port`, verifying it as localhost; resolves once verified. */
async function verifiedClient(port: number, ...extra: string[]): Promise<OpensslProcess> {
  const client = runOpenssl([
    's_client',
    ...extra,
    '-connect',
    `127.0.0.1:${port}`,
    '-CAfile',
    files.ca,
    '-verify_return_error',
    '-servername',
    'localhost',
    '-verify_hostname',
    'localhost',
  ]);
  await client.waitForOutput(/Verify return code: \d+/);
  expect(client.stdout).toContain('Verify return code: 0 (ok)');
  return client;
}

/** A line each way between s_client and the tool; then s_client ends and the tool exits 0. */
async function linesBothWays(run: CliProcess, client: OpensslProcess): Promise<void> {
  client.write('from s_client\n');
  await run.until(() => run.stdout.toString() === 'from s_client\n', 'the line from s_client');
  await run.write('from the tool\n');
  await client.waitForOutput(/from the tool\n/);
  client.endInput();
  expect(await run.exit()).toBe(0);
}

describeOpenssl('tls against openssl', () => {
  it('connect to s_server with --ca, --server-name and --alpn: verified, ALPN agreed, lines both ways', async () => {
    const port = await freePort();
    const server = runOpenssl([
      's_server',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      files.serverPair.cert,
      '-key',
      files.serverPair.key,
      '-alpn',
      'h2,http/1.1',
      '-naccept',
      '1',
    ]);
    await server.waitForOutput(/ACCEPT/);
    const run = cli.run(['connect', 'tls', `127.0.0.1:${port}`, '--ca', files.ca, '--server-name', 'localhost', '--alpn', 'http/1.1', '--verbose']);
    await run.stderrMatch(/connected to 127\.0\.0\.1:\d+ \(tls, ALPN http\/1\.1, certificate CN=localhost\)/);
    await run.write('from the tool\n');
    await server.waitForOutput(/from the tool\n/);
    expect(server.stdout).toContain('ALPN protocols selected: http/1.1');
    server.write('from openssl\n');
    await run.until(() => run.stdout.toString() === 'from openssl\n', 'the line from s_server');
    run.end();
    expect(await run.exit()).toBe(0);
    expect(await server.waitForExit()).toBe(0);
  });

  it('verification failures exit 6 (untrusted chain, wrong name); --insecure connects with a warning', async () => {
    const port = await freePort();
    const server = runOpenssl(['s_server', '-accept', `127.0.0.1:${port}`, '-cert', files.serverPair.cert, '-key', files.serverPair.key, '-naccept', '3']);
    await server.waitForOutput(/ACCEPT/);
    // Our CA is not in Node's root store.
    const untrusted = cli.run(['connect', 'tls', `127.0.0.1:${port}`, '--verbose']);
    expect(await untrusted.exit()).toBe(6);
    expect(untrusted.stderr).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE/); // the reason, in the log
    expect(untrusted.stderr).toMatch(/socket-provider: TLS handshake failed.*\(SOCKET_TLS_HANDSHAKE_FAILED\)\n$/);

    const wrongName = cli.run(['connect', 'tls', `127.0.0.1:${port}`, '--ca', files.ca, '--server-name', 'other.test']);
    expect(await wrongName.exit()).toBe(6);
    expect(wrongName.stderr).toMatch(/^socket-provider: TLS handshake failed.*\(SOCKET_TLS_HANDSHAKE_FAILED\)\n$/);

    const insecure = cli.run(['connect', 'tls', `127.0.0.1:${port}`, '--insecure', '--server-name', 'other.test']);
    insecure.end('insecure but through\n');
    expect(await insecure.exit()).toBe(0);
    expect(insecure.stderr).toBe("socket-provider: warning: --insecure: the server's certificate and name are NOT verified\n");
    await server.waitForOutput(/insecure but through\n/);
  });

  it('listen with --cert and --alpn, against s_client: verified, ALPN h2, lines both ways, exit 0 when s_client ends', async () => {
    const run = cli.run(['listen', 'tls', '127.0.0.1:0', '--cert', files.server, '--alpn', 'h2,http/1.1']);
    const port = await run.listeningPort();
    const client = await verifiedClient(port, '-alpn', 'http/1.1,h2');
    expect(client.stdout).toContain('ALPN protocol: h2');
    await linesBothWays(run, client);
  });

  it('listen with --ca requires a client certificate: s_client without one fails (exit 6), with one it is served', async () => {
    const strict = cli.run(['listen', 'tls', '127.0.0.1:0', '--cert', files.server, '--ca', files.ca]);
    const served = cli.run(['listen', 'tls', '127.0.0.1:0', '--cert', files.server, '--ca', files.ca, '--verbose']);
    const [strictPort, servedPort] = await Promise.all([strict.listeningPort(), served.listeningPort()]);
    const common = ['-CAfile', files.ca, '-servername', 'localhost'];
    const anonymous = runOpenssl(['s_client', '-connect', `127.0.0.1:${strictPort}`, ...common]);
    expect(await strict.exit()).toBe(6);
    expect(strict.stderr).toContain('(SOCKET_TLS_HANDSHAKE_FAILED)');
    anonymous.kill();

    const withCert = runOpenssl(['s_client', '-connect', `127.0.0.1:${servedPort}`, ...common, '-cert', files.clientPair.cert, '-key', files.clientPair.key]);
    await served.stderrMatch(/accepted a connection from 127\.0\.0\.1:\d+ \(tls, ALPN none, certificate CN=client\)/);
    await linesBothWays(served, withCert);
  });

  it('listen --starttls against s_client -starttls smtp: SMTP exchange, verified upgrade, lines both ways', async () => {
    const run = cli.run(['listen', 'tls', '127.0.0.1:0', '--starttls', '--cert', files.server, '--verbose']);
    const port = await run.listeningPort();
    const client = await verifiedClient(port, '-starttls', 'smtp');
    await run.stderrMatch(/STARTTLS done with 127\.0\.0\.1:\d+ \(tls/);
    expect(run.stderr).toMatch(
      /-> 220 \S+ ESMTP socket-provider\n[\s\S]*<- EHLO [\s\S]*-> 250 STARTTLS\n[\s\S]*<- STARTTLS\n[\s\S]*-> 220 2\.0\.0 Ready to start TLS\n/,
    );
    await linesBothWays(run, client);
  });
});

describe('tls against itself and plain peers', () => {
  it('connect --starttls to listen --starttls: 512 KiB each way intact (SHA-256)', async () => {
    const server = cli.run(['listen', 'tls', '127.0.0.1:0', '--starttls', '--cert', files.server]);
    const port = await server.listeningPort();
    const up = randomBytes(512 * 1024);
    const down = randomBytes(512 * 1024);
    // The client waits for the server's end; the server closes once it sent its part.
    const client = cli.run(['connect', 'tls', `localhost:${port}`, '--starttls', '--ca', files.ca, '--wait-peer', '--verbose']);
    client.end(up);
    await server.stdoutAtLeast(up.length);
    server.end(down);
    expect(await server.exit()).toBe(0);
    expect(await client.exit()).toBe(0);
    expect(sha256(server.stdout)).toBe(sha256(up));
    expect(sha256(client.stdout)).toBe(sha256(down));
    expect(client.stderr).toMatch(/STARTTLS done with 127\.0\.0\.1:\d+ \(tls, ALPN none, certificate CN=localhost\)/);
  });

  it('connect --starttls to a server that refuses STARTTLS: exit 14 with its reply', async () => {
    const server = await rawServer((sock) => {
      sock.write('220 mail.test ESMTP\r\n');
      let pending = '';
      sock.on('data', (d: Buffer) => {
        pending += d.toString('latin1');
        let eol: number;
        while ((eol = pending.indexOf('\r\n')) >= 0) {
          const line = pending.slice(0, eol);
          pending = pending.slice(eol + 2);
          if (line.startsWith('EHLO ')) sock.write('250-mail.test\r\n250 SIZE 1000\r\n');
          else if (line === 'STARTTLS') sock.write('454 4.7.0 TLS not available\r\n');
        }
      });
    });
    const run = cli.run(['connect', 'tls', `127.0.0.1:${server.port}`, '--starttls', '--ca', files.ca]);
    expect(await run.exit()).toBe(14);
    expect(run.stderr).toBe('socket-provider: STARTTLS failed: STARTTLS refused: "454 4.7.0 TLS not available"\n');
    expect(run.stdout.length).toBe(0);
  });

  it('no ALPN protocol in common: both ends exit 7', async () => {
    const server = cli.run(['listen', 'tls', '127.0.0.1:0', '--cert', files.server, '--alpn', 'x-server']);
    const port = await server.listeningPort();
    const client = cli.run(['connect', 'tls', `127.0.0.1:${port}`, '--ca', files.ca, '--alpn', 'x-client']);
    expect(await client.exit()).toBe(7);
    expect(await server.exit()).toBe(7);
    expect(client.stderr).toBe('socket-provider: no ALPN protocol in common (SOCKET_ALPN_SELECTION_FAILED)\n');
  });
});
