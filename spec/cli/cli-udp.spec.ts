/**
 * The `socket-provider` tool over UDP, end to end: against plain Node dgram sockets and socat.
 * connect talks to its peer; listen answers the last peer it heard from; each stdin read is
 * a datagram, cut to the largest UDP payload.
 */
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { pollUntil, randomBytes, sha256, withTimeout } from '../helpers/net-helpers';
import { closePlainSockets, plainUdp, PlainUdp } from '../helpers/udp-peers';
import { runSocat, useCli } from './cli-process';

const itSocat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0 || process.env.CI ? it : it.skip;
const cli = useCli(closePlainSockets);

const text = (peer: PlainUdp): string[] => peer.messages.map((m) => m.data.toString());

describe('udp', () => {
  it('connect: stdin goes out as a datagram to the peer; its answer comes out on stdout', async () => {
    const peer = await plainUdp();
    const run = cli.run(['connect', 'udp', `127.0.0.1:${peer.port}`, '--verbose']);
    await run.stderrMatch(/udp socket connected to 127\.0\.0\.1:\d+/);
    await run.write('hello\n');
    await peer.waitFor(1);
    expect(text(peer)).toEqual(['hello\n']);
    await peer.send(Buffer.from('world\n'), peer.messages[0].port);
    await run.until(() => run.stdout.toString() === 'world\n', 'the answer on stdout');
    run.end();
    expect(await run.exit()).toBe(0);
  });

  itSocat('listen against socat: stdin waits for a first peer, then goes to the last peer heard from', async () => {
    const run = cli.run(['listen', 'udp', '127.0.0.1:0']);
    const port = await run.listeningPort();
    await run.write('early\n'); // nobody to send it to yet: it stays in stdin
    const socat = runSocat(['-', `UDP:127.0.0.1:${port}`]);
    await socat.write('ping\n');
    await run.until(() => run.stdout.toString() === 'ping\n', 'the datagram from socat');
    await socat.until(() => socat.stdout.toString() === 'early\n', 'the early line at socat');

    const other = await plainUdp();
    await other.send(Buffer.from('second\n'), port);
    await run.until(() => run.stdout.toString() === 'ping\nsecond\n', 'the datagram from the second peer');
    await run.write('to the second\n');
    await other.waitFor(1);
    expect(text(other)).toEqual(['to the second\n']);
    expect(socat.stdout.toString()).toBe('early\n');
    run.end();
    expect(await run.exit()).toBe(0);
  });

  it('a stdin read longer than a datagram can carry is sent as several, in order, nothing lost', async () => {
    const sink = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    const received: Buffer[] = [];
    let bytes = 0;
    sink.on('message', (m) => {
      received.push(m);
      bytes += m.length;
    });
    try {
      await withTimeout(new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', () => resolve())), 10000, 'the sink to bind');
      const data = randomBytes(256 * 1024);
      const run = cli.run(['connect', 'udp', `127.0.0.1:${sink.address().port}`]);
      run.end(data);
      expect(await run.exit()).toBe(0);
      await pollUntil(() => bytes >= data.length, `${data.length} bytes at the sink`);
      expect(Math.max(...received.map((m) => m.length))).toBeLessThanOrEqual(65507);
      expect(sha256(...received)).toBe(sha256(data));
    } finally {
      sink.close();
    }
  });
});
