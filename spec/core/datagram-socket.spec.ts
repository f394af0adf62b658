/**
 * The datagram core over a path it does not own (lib/core/datagram-socket.ts, datagram-path.ts):
 * what a datagram listener will do for each peer — deliver datagrams through the socket's sink,
 * complete sends — with no network. The socket keeps the contract's rules by itself.
 */
import { createUdpSocketProvider, ShutdownReason } from '../../lib';
import { DatagramSocket } from '../../lib/core/datagram-socket';
import { fakeTransport } from '../helpers/fake-datagram';
import { pollUntil } from '../helpers/net-helpers';
import { cleanupAndCheck, guard, RecordingUser } from '../helpers/recording-user';
import { closePlainSockets, plainUdp } from '../helpers/udp-peers';

afterEach(async () => {
  expect(await cleanupAndCheck()).toEqual([]);
});

async function connected(options = {}) {
  const transport = fakeTransport();
  const user = new RecordingUser('fake-udp');
  const s = guard(new DatagramSocket(transport, user, options));
  s.connect('127.0.0.1:40001');
  s.send(Buffer.from('early')); // held until the connect completes
  expect(s.stats().queuedSendBytes).toBe(5);
  await user.waitFor('socketConnectComplete', 1, 5000, s);
  return { s, user, handle: transport.handles[0] };
}

describe('DatagramSocket over a DatagramPath', () => {
  it('datagrams delivered through the sink complete recvs; others than the peer are counted as strangers', async () => {
    const { s, user, handle } = await connected();
    const buf = new Uint8Array(4);
    s.recv(buf);
    handle.deliver(Buffer.from('stranger'), { address: '127.0.0.1', port: 9 });
    handle.deliver(Buffer.from('from the peer'));
    await user.waitFor('socketRecvFromResult', 1, 5000, s);
    expect(user.eventsOf('socketRecvFromResult', s)[0].args.slice(-3)).toEqual([4, '127.0.0.1', 40001]);
    expect(Buffer.from(buf).toString()).toBe('from');
    expect(s.stats().strangerDatagrams).toBe(1);
    s.shutdown();
    handle.complete();
    expect(await user.waitForShutdown(s)).toBe(ShutdownReason.Normal);
  });

  it('sends: the held one goes out first, one socketSendResult per completion, bytes counted when the path took them', async () => {
    const { s, user, handle } = await connected();
    s.send(Buffer.from('later'));
    expect(handle.inFlight.map((x) => [x.data.toString(), x.port])).toEqual([
      ['early', undefined],
      ['later', undefined],
    ]);
    expect(s.stats().queuedSendBytes).toBe(10);
    handle.complete(1);
    handle.complete(1, new Error('ECONNREFUSED')); // a refused datagram still gets its result
    await pollUntil(() => user.count('socketSendResult', s) === 2, 'two send results');
    expect([s.bytesSent, s.stats().queuedSendBytes]).toEqual([5, 0]);
    s.shutdown();
    expect(await user.waitForShutdown(s)).toBe(ShutdownReason.Normal);
    expect(handle.closed).toBe(true);
  });
});

describe('DatagramSocket over dgram', () => {
  it('sendTo right after bind() of a host name (still resolving) is held and sent once the socket is open (it threw a TypeError)', async () => {
    const peer = await plainUdp();
    const user = new RecordingUser('bind-by-name');
    const s = guard(createUdpSocketProvider().createSocket(user));
    s.bind('localhost', 0);
    s.sendTo(Buffer.from('first'), undefined, '127.0.0.1', peer.port);
    s.sendTo(Buffer.from('second'), undefined, '127.0.0.1', peer.port);
    await peer.waitFor(2);
    expect(peer.messages.map((m) => m.data.toString())).toEqual(['first', 'second']);
    await pollUntil(() => user.count('socketSendResult', s) === 2, 'two send results');
    s.shutdown();
    expect(await user.waitForShutdown(s)).toBe(ShutdownReason.Normal);
    closePlainSockets();
  });
});
