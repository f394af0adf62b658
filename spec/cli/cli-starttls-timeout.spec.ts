/**
 * The plaintext phase of `--starttls` is bounded (issue #15, defect 7; docs/cli.md, STARTTLS):
 * `--starttls-timeout MS` (default 30000, 0 = no limit) from the connection to the upgrade.
 * A peer that stays silent, or one that keeps talking but never asks for STARTTLS, no longer
 * holds the one-shot listener: the run ends with exit code 15.
 */
import * as net from 'node:net';
import { makeTestPki } from '../../scripts/certs';
import { closeAllRaw, rawConnect, rawServer, withTimeout } from '../helpers/net-helpers';
import { PemDir } from '../helpers/openssl';
import { useCli } from './cli-process';

const STARTTLS_TIMED_OUT = 15;
/** Short, so the tests are quick; the bounded waits below are far longer. */
const LIMIT_MS = 300;

const cli = useCli(() => closeAllRaw());
let pem: PemDir;
let serverPem: string;

beforeAll(async () => {
  const pki = await withTimeout(makeTestPki(), 20000, 'the test PKI');
  pem = new PemDir();
  serverPem = pem.write('server.pem', pki.server);
}, 30000);

afterAll(() => pem?.remove());

/** Collects what `sock` receives, as latin1 text. */
function textOf(sock: net.Socket): () => string {
  let text = '';
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => (text += d));
  return () => text;
}

describe('--starttls-timeout', () => {
  it('listen: a client that connects and stays silent ends the run with exit 15 once the time-out passes', async () => {
    const run = cli.run(['listen', 'tls', '127.0.0.1:0', '--starttls', '--cert', serverPem, '--starttls-timeout', String(LIMIT_MS)]);
    const port = await run.listeningPort();
    const client = await rawConnect(port);
    const received = textOf(client);
    const start = Date.now();
    expect(await run.exit()).toBe(STARTTLS_TIMED_OUT);
    expect(Date.now() - start).toBeGreaterThanOrEqual(LIMIT_MS - 50); // not before the time-out
    expect(received()).toMatch(/^220 \S+ ESMTP socket-provider\r\n/); // it was greeted
    expect(run.stderr).toMatch(new RegExp(`socket-provider: STARTTLS timed out: no TLS upgrade within ${LIMIT_MS} ms \\(--starttls-timeout\\)\\n$`));
    expect(run.stdout.length).toBe(0);
  });

  it('listen: a client that keeps sending NOOP but never STARTTLS is cut off too (the limit is for the whole exchange)', async () => {
    const run = cli.run(['listen', 'tls', '127.0.0.1:0', '--starttls', '--cert', serverPem, '--starttls-timeout', String(LIMIT_MS)]);
    const port = await run.listeningPort();
    const client = await rawConnect(port);
    client.on('error', () => undefined); // the tool closes on us
    client.setEncoding('latin1');
    let replies = 0;
    client.on('data', (d: string) => {
      // One NOOP per reply line: a ping-pong that never stops on its own.
      for (const _ of d.match(/\r\n/g) ?? []) {
        replies++;
        if (!client.destroyed && client.writable) client.write('NOOP\r\n');
      }
    });
    expect(await run.exit()).toBe(STARTTLS_TIMED_OUT);
    expect(replies).toBeGreaterThan(1);
    expect(run.stderr).toMatch(/STARTTLS timed out/);
  });

  it('connect: a server that accepts and never greets ends the run with exit 15', async () => {
    const server = await rawServer(); // accepts, says nothing
    const run = cli.run(['connect', 'tls', `127.0.0.1:${server.port}`, '--starttls', '--starttls-timeout', String(LIMIT_MS)]);
    expect(await run.exit()).toBe(STARTTLS_TIMED_OUT);
    expect(run.stderr).toMatch(new RegExp(`socket-provider: STARTTLS timed out: no TLS upgrade within ${LIMIT_MS} ms \\(--starttls-timeout\\)\\n$`));
  });

  it('0 disables it: a silent client still holds the listener after a 300 ms sibling timed out', async () => {
    const sibling = cli.run(['listen', 'tls', '127.0.0.1:0', '--starttls', '--cert', serverPem, '--starttls-timeout', String(LIMIT_MS)]);
    const unbounded = cli.run(['listen', 'tls', '127.0.0.1:0', '--starttls', '--cert', serverPem, '--starttls-timeout', '0']);
    const [siblingPort, unboundedPort] = await Promise.all([sibling.listeningPort(), unbounded.listeningPort()]);
    const start = Date.now();
    await rawConnect(unboundedPort);
    await rawConnect(siblingPort);
    expect(await sibling.exit()).toBe(STARTTLS_TIMED_OUT);
    const took = Date.now() - start;
    await new Promise((resolve) => setTimeout(resolve, took / 2)); // 1.5x the sibling's time in all
    expect(unbounded.exited).toBe(false);
    unbounded.kill();
  });

  it('the option is checked: a number of milliseconds, only with --starttls; --help lists it', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['listen', 'tls', '127.0.0.1:0', '--cert', 'x.pem', '--starttls', '--starttls-timeout', 'soon'], /--starttls-timeout "soon": expected milliseconds/],
      [['listen', 'tls', '127.0.0.1:0', '--cert', 'x.pem', '--starttls', '--starttls-timeout=-1'], /--starttls-timeout "-1": expected milliseconds/],
      [['listen', 'tls', '127.0.0.1:0', '--cert', 'x.pem', '--starttls', '--starttls-timeout', '1.5'], /--starttls-timeout "1.5": expected milliseconds/],
      [
        ['listen', 'tls', '127.0.0.1:0', '--cert', 'x.pem', '--starttls', '--starttls-timeout', '9999999999'],
        /--starttls-timeout "9999999999": expected milliseconds/,
      ],
      [['listen', 'tls', '127.0.0.1:0', '--cert', 'x.pem', '--starttls-timeout', '100'], /--starttls-timeout needs --starttls/],
      [['connect', 'tcp', '127.0.0.1:1', '--starttls-timeout', '100'], /--starttls-timeout needs --starttls/],
    ];
    const runs = cases.map(([args]) => cli.run(args));
    await Promise.all(runs.map((r) => r.exit()));
    cases.forEach(([args, reason], i) => {
      expect({ args, exitCode: runs[i].exitCode }).toEqual({ args, exitCode: 2 });
      expect(runs[i].stderr).toMatch(reason);
    });
    const help = cli.run(['--help']);
    expect(await help.exit()).toBe(0);
    expect(help.stdout.toString()).toMatch(/--starttls-timeout MS/);
    expect(help.stdout.toString()).toMatch(/15 STARTTLS time-out/);
  });
});
