/**
 * `socket-provider listen udp ADDRESS --peers`: a datagram listener that serves many peers on one
 * port. Each peer's datagrams reach stdout (prefixed with `[ADDR:PORT] ` with --verbose); each
 * stdin read goes to every peer accepted so far; the end of stdin ends the run (exit 0).
 */
import { closePlainSockets, plainUdp, PlainUdp } from '../helpers/udp-peers';
import { useCli } from './cli-process';

const cli = useCli(closePlainSockets);
const text = (peer: PlainUdp): string[] => peer.messages.map((m) => m.data.toString());

describe('listen udp --peers', () => {
  it('serves several peers on one port: their datagrams prefixed with their address (--verbose), stdin to every peer', async () => {
    const run = cli.run(['listen', 'udp', '127.0.0.1:0', '--peers', '--verbose']);
    const port = await run.listeningPort();
    const peers = [await plainUdp(), await plainUdp(), await plainUdp()];
    for (const [i, p] of peers.entries()) await p.send(Buffer.from(`from ${i}\n`), port);
    const expected = peers.map((p, i) => `[127.0.0.1:${p.port}] from ${i}\n`);
    await run.until(() => expected.every((line) => run.stdout.toString().includes(line)), 'every peer’s datagram on stdout');
    await run.write('to all\n');
    for (const p of peers) await p.waitFor(1);
    expect(peers.map(text)).toEqual([['to all\n'], ['to all\n'], ['to all\n']]);
    run.end();
    expect(await run.exit()).toBe(0);
  });

  it('without --verbose the datagrams are written as they are', async () => {
    const run = cli.run(['listen', 'udp', '127.0.0.1:0', '--peers']);
    const port = await run.listeningPort();
    const a = await plainUdp();
    await a.send(Buffer.from('plain\n'), port);
    await run.until(() => run.stdout.toString() === 'plain\n', 'the datagram on stdout');
    run.end();
    expect(await run.exit()).toBe(0);
  });

  it('--peers is refused for anything but listen udp (usage error, exit 2)', async () => {
    const run = cli.run(['connect', 'udp', '127.0.0.1:9', '--peers']);
    expect(await run.exit()).toBe(2);
  });
});
