/**
 * `socket-provider connect rudp` and `listen rudp`, end to end: the tool as a real process
 * against rudp sockets of the framework in this process, and against itself. Each stdin line is
 * one message; each message received goes to stdout as it is; listen serves many peers (their
 * messages prefixed with `[ADDR:PORT] ` with --verbose, stdin to every peer); exit codes.
 */
import { ISocket, ShutdownReason } from '../../lib';
import { randomBytes, sha256 } from '../helpers/net-helpers';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { freeUdpPort } from '../helpers/udp-peers';
import { messageUser, rudp, rudpListener, WAIT } from '../rudp/helpers';
import { useCli } from './cli-process';

const cli = useCli(async () => {
  expect(await cleanupAndCheck(WAIT)).toEqual([]);
});

const texts = (messages: Buffer[]): string[] => messages.map((m) => m.toString());

/** A framework rudp client of `port` that keeps every message it receives. */
async function frameworkClient(port: number): Promise<{ c: ISocket; cu: RecordingUser & { messages: Buffer[] } }> {
  const cu = messageUser('rudp-client');
  const c = rudp.createSocket(cu);
  c.connect(`127.0.0.1:${port}`);
  await cu.waitFor('socketConnectComplete', 1, WAIT, c);
  return { c, cu };
}

describe('connect rudp', () => {
  it('each stdin line is one message, however stdin was read; messages received go to stdout; the end of stdin delivers the last, unfinished line, then closes (exit 0)', async () => {
    const server = messageUser('server');
    const { l, port } = await rudpListener(() => server);
    const run = cli.run(['connect', 'rudp', `127.0.0.1:${port}`, '--verbose']);
    await run.stderrMatch(/rudp socket connected to 127\.0\.0\.1:\d+/);
    await run.write('one\ntwo\nthr'); // two lines and the start of a third in one read
    await server.waitUntil(() => server.messages.length === 2, 'two messages', WAIT);
    await run.write('ee\n');
    await server.waitUntil(() => server.messages.length === 3, 'the third line', WAIT);
    expect(texts(server.messages)).toEqual(['one\n', 'two\n', 'three\n']);

    const s = server.sockets[0];
    s.send(Buffer.from('answer 1\n'));
    s.send(Buffer.from('answer 2\n'));
    await run.until(() => run.stdout.toString() === 'answer 1\nanswer 2\n', 'the answers on stdout');

    run.end('a last line without newline');
    expect(await server.waitForShutdown(s, WAIT)).toBe(ShutdownReason.ByPeer);
    expect(texts(server.messages)).toEqual(['one\n', 'two\n', 'three\n', 'a last line without newline']);
    expect(await run.exit(WAIT)).toBe(0);
    l.shutdown();
  }, 60000);

  it('1 MiB of binary data arrives intact, in messages of at most 64 KiB cut at the newlines', async () => {
    const server = messageUser('server');
    const { l, port } = await rudpListener(() => server);
    const data = randomBytes(1 << 20);
    const run = cli.run(['connect', 'rudp', `127.0.0.1:${port}`]);
    run.end(data);
    expect(await run.exit(WAIT)).toBe(0);
    expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe(ShutdownReason.ByPeer);
    expect(sha256(...server.messages)).toBe(sha256(data));
    for (const m of server.messages.slice(0, -1)) {
      expect(m.byteLength).toBeLessThanOrEqual(64 * 1024);
      expect(m[m.byteLength - 1] === 0x0a || m.byteLength === 64 * 1024).toBe(true); // a whole line, or a piece of a longer one
    }
    expect(server.messages.some((m) => m.byteLength === 64 * 1024)).toBe(false); // random bytes: a newline every 256 bytes or so
    l.shutdown();
  }, 60000);

  it('--wait-peer: at the end of stdin it keeps receiving until the peer closes (exit 0)', async () => {
    const server = messageUser('server');
    const { l, port } = await rudpListener(() => server);
    const run = cli.run(['connect', 'rudp', `127.0.0.1:${port}`, '--wait-peer']);
    run.end('request\n');
    await server.waitUntil(() => server.messages.length === 1, 'the request', WAIT);
    const s = server.sockets[0];
    for (let i = 0; i < 5; i++) s.send(Buffer.from(`reply ${i}\n`));
    s.shutdown(); // the queued replies are delivered first
    expect(await run.exit(WAIT)).toBe(0);
    expect(run.stdout.toString()).toBe([0, 1, 2, 3, 4].map((i) => `reply ${i}\n`).join(''));
    l.shutdown();
  }, 60000);

  it('nobody on the port: connection refused, exit 4', async () => {
    const run = cli.run(['connect', 'rudp', `127.0.0.1:${await freeUdpPort()}`]);
    expect(await run.exit(WAIT)).toBe(4);
    expect(run.stderr).toContain('connection refused (SOCKET_CONNECT_REJECTED)');
  }, 30000);
});

describe('listen rudp: many peers on one port', () => {
  it('framework and CLI clients at once: their messages on stdout after their address (--verbose), stdin lines to every peer, the end of stdin closes all', async () => {
    const run = cli.run(['listen', 'rudp', '127.0.0.1:0', '--verbose']);
    const port = await run.listeningPort();
    const framework = await Promise.all([frameworkClient(port), frameworkClient(port)]);
    const clients = [0, 1].map(() => cli.run(['connect', 'rudp', `127.0.0.1:${port}`, '--verbose']));
    await Promise.all(clients.map((c) => c.stderrMatch(/rudp socket connected to/)));

    framework.forEach(({ c }, i) => c.send(Buffer.from(`from framework ${i}\n`)));
    await Promise.all(clients.map((c, i) => c.write(`from cli ${i}\n`)));
    const expected = framework.map(({ c }, i) => `[127.0.0.1:${c.localPort}] from framework ${i}\n`);
    await run.until(
      () => expected.every((l) => run.stdout.toString().includes(l)) && /(\[127\.0\.0\.1:\d+\] from cli \d\n[^]*){2}/.test(run.stdout.toString()),
      'every peer’s message on stdout, prefixed',
    );
    const cliPorts = [0, 1].map((i) => Number(new RegExp(`\\[127\\.0\\.0\\.1:(\\d+)\\] from cli ${i}\\n`).exec(run.stdout.toString())?.[1]));
    expect(new Set([...framework.map(({ c }) => c.localPort), ...cliPorts]).size).toBe(4);
    expect(
      run.stdout
        .toString()
        .split('\n')
        .filter((l) => l !== ''),
    ).toHaveLength(4);

    await run.write('to all\nin two lines\n');
    for (const { cu } of framework) await cu.waitUntil(() => cu.messages.length === 2, 'the broadcast', WAIT);
    for (const { cu } of framework) expect(texts(cu.messages)).toEqual(['to all\n', 'in two lines\n']);
    await Promise.all(clients.map((c) => c.until(() => c.stdout.toString() === 'to all\nin two lines\n', 'the broadcast at the CLI client')));

    run.end();
    expect(await run.exit(WAIT)).toBe(0);
    for (const { c, cu } of framework) expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.ByPeer);
    for (const c of clients) expect(await c.exit(WAIT)).toBe(0);
  }, 60000);

  it('without --verbose messages are written as they are; a peer that leaves does not end the others', async () => {
    const run = cli.run(['listen', 'rudp', '127.0.0.1:0']);
    const port = await run.listeningPort();
    const a = await frameworkClient(port);
    const b = await frameworkClient(port);
    a.c.send(Buffer.from('first\n'));
    await run.until(() => run.stdout.toString() === 'first\n', 'the first message, unprefixed');
    a.c.shutdown();
    expect(await a.cu.waitForShutdown(a.c, WAIT)).toBe(ShutdownReason.Normal);
    b.c.send(Buffer.from('second\n'));
    await run.until(() => run.stdout.toString() === 'first\nsecond\n', 'the second peer’s message');
    await run.write('still here\n');
    await b.cu.waitUntil(() => b.cu.messages.length === 1, 'the line at the remaining peer', WAIT);
    expect(texts(b.cu.messages)).toEqual(['still here\n']);
    run.end();
    expect(await run.exit(WAIT)).toBe(0);
    expect(await b.cu.waitForShutdown(b.c, WAIT)).toBe(ShutdownReason.ByPeer);
  }, 60000);

  it('options that do not apply to rudp are usage errors (exit 2)', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['listen', 'rudp', '127.0.0.1:0', '--wait-peer'], /--wait-peer is for connect here/],
      [['connect', 'rudp', '127.0.0.1:1', '--cert', 'x.pem'], /--cert needs type tls, not rudp/],
      [['connect', 'rudp', '127.0.0.1:1', '--peers'], /--peers is for listen udp/],
    ];
    for (const [args, reason] of cases) {
      const run = cli.run(args);
      expect(await run.exit()).toBe(2);
      expect(run.stderr).toMatch(reason);
    }
  }, 30000);
});
