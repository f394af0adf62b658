/**
 * 1,000 rudp connections on one UDP port at once, each exchanging 100 messages (issue #20).
 * The users are plain USockets that count and check (a recording user per event would be most
 * of the work); every message is checked intact and in order.
 */
import { createRudpSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { pattern } from './helpers';

const CONNECTIONS = 1000;
const MESSAGES = 100;
const rudp = createRudpSocketProvider();

/** Waits (bounded) until `check()` holds, checked after every callback of the users below. */
const waiters = new Set<() => void>();
function notify(): void {
  for (const w of [...waiters]) w();
}
function waitUntil(check: () => boolean, what: string, timeoutMs: number, details?: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = (): void => {
      if (!check()) return;
      waiters.delete(w);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      waiters.delete(w);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}${details ? `: ${details()}` : ''}`));
    }, timeoutMs);
    waiters.add(w);
    w();
  });
}

/** The server side of one connection: echoes each message; reads the next once the echo is acknowledged. */
class Echo extends USocket {
  private readonly buf = new Uint8Array(2048);
  ended: ShutdownReason | null = null;
  override socketAcceptComplete(s: ISocket): void {
    s.recv(this.buf);
  }
  override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
    s.send(b, n);
  }
  override socketSendResult(s: ISocket): void {
    s.recv(this.buf);
  }
  override socketShutdown(_s: ISocket, reason: ShutdownReason): void {
    this.ended = reason;
    notify();
  }
}

class Listener extends USocket {
  readonly echoes: Echo[] = [];
  port = 0;
  ended: ShutdownReason | null = null;
  override socketBindResult(_s: ISocket, _a: string, port: number): void {
    this.port = port;
    notify();
  }
  override socketListenResult(l: ISocket): void {
    const e = new Echo();
    this.echoes.push(e);
    l.accept(e);
  }
  override socketShutdown(_s: ISocket, reason: ShutdownReason): void {
    this.ended = reason;
    notify();
  }
}

/** One client: sends MESSAGES messages at once and checks every echo. */
class Client extends USocket {
  private readonly buf = new Uint8Array(2048);
  echoed = 0;
  wrong = 0;
  ended: ShutdownReason | null = null;
  constructor(private readonly id: number) {
    super();
  }
  message(i: number): Buffer {
    return pattern(16 + ((this.id * 7 + i * 13) % 300), this.id * MESSAGES + i);
  }
  override socketConnectComplete(s: ISocket): void {
    for (let i = 0; i < MESSAGES; i++) s.send(this.message(i));
    s.recv(this.buf);
  }
  override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
    if (!Buffer.from(b.subarray(0, n)).equals(this.message(this.echoed))) this.wrong++;
    this.echoed++;
    if (this.echoed === MESSAGES) s.shutdown();
    else s.recv(this.buf);
  }
  override socketShutdown(_s: ISocket, reason: ShutdownReason): void {
    this.ended = reason;
    notify();
  }
}

it(`${CONNECTIONS} connections on one port, each exchanging ${MESSAGES} messages: all intact, in order, every connection ends cleanly`, async () => {
  const lu = new Listener();
  const l = rudp.createSocket(lu);
  l.bind('127.0.0.1', 0);
  l.listen();
  await waitUntil(() => lu.port > 0, 'the bind', 5000);
  const clients = Array.from({ length: CONNECTIONS }, (_, i) => new Client(i));
  const sockets = clients.map((u) => rudp.createSocket(u));
  try {
    for (const s of sockets) s.connect(`127.0.0.1:${lu.port}`);
    await waitUntil(
      () => clients.every((c) => c.ended !== null),
      'every client done',
      120_000,
      () => `echoed ${clients.reduce((n, c) => n + c.echoed, 0)} of ${CONNECTIONS * MESSAGES}; ended ${clients.filter((c) => c.ended).length}`,
    );
    expect(lu.echoes.length).toBe(CONNECTIONS);
    expect(clients.filter((c) => c.echoed !== MESSAGES || c.wrong !== 0)).toEqual([]);
    expect(clients.filter((c) => c.ended !== ShutdownReason.Normal).map((c) => c.ended)).toEqual([]);
    await waitUntil(() => lu.echoes.every((e) => e.ended !== null), 'every server side ended', 30_000);
    expect(lu.echoes.filter((e) => e.ended !== ShutdownReason.ByPeer).map((e) => e.ended)).toEqual([]);
    expect(l.connectionCount).toBe(0);
  } finally {
    for (const s of sockets) s.shutdown();
    l.shutdown();
    await waitUntil(() => lu.ended !== null, 'the listener ended', 10_000);
  }
}, 180_000);
