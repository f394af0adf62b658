/**
 * "At most one recv is pending per socket" (CONTRACT §3): a recv whose result is posted but
 * not delivered yet still counts, so a second recv made before the user saw the first one's
 * result throws ERR_SOCKET_RECV_PENDING, on stream and datagram sockets alike. (Found by the
 * reliability fuzzer's review: the first recv completed inside recv() from the read-ahead.)
 */
import * as dgram from 'node:dgram';
import type { Socket } from 'node:net';
import { createTcpSocketProvider, createUdpSocketProvider, ISocket, SocketErrorCode, USocket } from '../lib';
import { closeAllRaw, pollUntil, rawConnect } from './helpers/net-helpers';

class Quiet extends USocket {
  connected = false;
  bound = false;
  results = 0;
  accepted: ISocket | null = null;
  override socketConnectComplete(): void {
    this.connected = true;
  }
  override socketBindResult(s: ISocket): void {
    this.bound = true;
    if (s.type !== 'udp') s.listen();
  }
  override socketListenResult(s: ISocket): void {
    s.accept(this);
  }
  override socketAcceptComplete(s: ISocket): void {
    this.accepted = s;
  }
  override socketRecvResult(): void {
    this.results++;
  }
  override socketRecvFromResult(): void {
    this.results++;
  }
  socketShutdown(): void {}
}

const sockets: ISocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.shutdown();
  await closeAllRaw();
});

/** A framework TCP socket accepted from a plain Node peer, with its user. */
async function accepted(): Promise<{ user: Quiet; peer: Socket; s: ISocket }> {
  const user = new Quiet();
  const listener = createTcpSocketProvider().createSocket(user);
  sockets.push(listener);
  listener.bind('127.0.0.1', 0);
  await pollUntil(() => user.bound, 'the bind');
  const peer = await rawConnect(listener.getLocalAddress()!.port);
  await pollUntil(() => user.accepted !== null, 'the accept');
  sockets.push(user.accepted!);
  return { user, peer, s: user.accepted! };
}

it('stream: a recv answered from the read-ahead is pending until its result is delivered', async () => {
  const { user, peer, s } = await accepted();
  peer.write('abcdef');
  await pollUntil(() => s.stats().readAheadBytes === 6, 'the read-ahead');
  s.recv(new Uint8Array(3)); // completes at once from the read-ahead: its result is posted
  expect(() => s.recv(new Uint8Array(3))).toThrow(expect.objectContaining({ code: SocketErrorCode.RecvPending }));
  await pollUntil(() => user.results === 1, 'the first result');
  s.recv(new Uint8Array(3)); // now it may
  await pollUntil(() => user.results === 2, 'the second result');
});

it('UDP: a recv answered from the queue is pending until its result is delivered', async () => {
  const user = new Quiet();
  const s = createUdpSocketProvider().createSocket(user);
  sockets.push(s);
  s.bind('127.0.0.1', 0);
  await pollUntil(() => user.bound, 'the bind');
  const peer = dgram.createSocket('udp4');
  try {
    for (const d of ['one', 'two']) {
      await new Promise<void>((resolve, reject) => peer.send(d, s.getLocalAddress()!.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    }
    await pollUntil(() => s.stats().readAheadBytes === 6, 'two queued datagrams');
    s.recv(new Uint8Array(8));
    expect(() => s.recv(new Uint8Array(8))).toThrow(expect.objectContaining({ code: SocketErrorCode.RecvPending }));
    await pollUntil(() => user.results === 1, 'the first result');
    s.recv(new Uint8Array(8));
    await pollUntil(() => user.results === 2, 'the second result');
  } finally {
    peer.close();
  }
});

it('stream: also when the end of stream is posted behind the result', async () => {
  const { user, peer, s } = await accepted();
  peer.end('abc');
  await pollUntil(() => s.stats().readAheadBytes === 3 && s.stats().bytesReceived === 3, 'the bytes');
  await new Promise((resolve) => setTimeout(resolve, 0)); // let the FIN's 'end' event run too
  s.recv(new Uint8Array(3)); // completes from the read-ahead; the peer's end follows it
  expect(() => s.recv(new Uint8Array(3))).toThrow(expect.objectContaining({ code: SocketErrorCode.RecvPending }));
  await pollUntil(() => user.results === 1, 'the result');
});
