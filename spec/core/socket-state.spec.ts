/**
 * The socket states and their transitions as data (lib/core/socket-state.ts), which
 * SocketBase.setState checks on every change: each listed transition is allowed, others are
 * refused, every reachable state can end, and the life of real sockets (as their log shows it)
 * uses listed transitions only.
 */
import { createTcpSocketProvider, createUdpSocketProvider, IInstanceLog, IoMux, ISocket, LogFlag, USocket } from '../../lib';
import {
  DTLS_TRANSITIONS,
  isAllowed,
  refuseTransition,
  SOCKET_STATES,
  SocketState,
  STREAM_TRANSITIONS,
  TransitionTable,
  UDP_TRANSITIONS,
} from '../../lib/core/socket-state';

const TABLES: Array<[string, TransitionTable]> = [
  ['stream', STREAM_TRANSITIONS],
  ['UDP', UDP_TRANSITIONS],
  ['DTLS', DTLS_TRANSITIONS],
];

/** Every `from -> to` a table lists. */
function listed(table: TransitionTable): Array<[SocketState, SocketState]> {
  return SOCKET_STATES.flatMap((from) => table[from].map((to): [SocketState, SocketState] => [from, to]));
}

/** The states a socket of this kind can reach from `idle`. */
function reachable(table: TransitionTable): Set<SocketState> {
  const seen = new Set<SocketState>(['idle']);
  const todo: SocketState[] = ['idle'];
  while (todo.length > 0) for (const next of table[todo.pop()!]) if (!seen.has(next) && seen.add(next)) todo.push(next);
  return seen;
}

describe('the transition tables', () => {
  it.each(TABLES)('%s: every listed transition is allowed, and only those', (_kind, table) => {
    const allowed = new Set(listed(table).map(([a, b]) => `${a} -> ${b}`));
    for (const from of SOCKET_STATES) {
      for (const to of SOCKET_STATES) expect([`${from} -> ${to}`, isAllowed(table, from, to)]).toEqual([`${from} -> ${to}`, allowed.has(`${from} -> ${to}`)]);
    }
  });

  it.each(TABLES)('%s: closed and takenOver are final; every other reachable state can end (closed)', (_kind, table) => {
    expect([table.closed, table.takenOver]).toEqual([[], []]);
    for (const state of reachable(table)) {
      if (state !== 'closed' && state !== 'takenOver') expect([state, table[state].includes('closed')]).toEqual([state, true]);
    }
  });

  it('the stream table: the life the architecture describes', () => {
    expect(listed(STREAM_TRANSITIONS).map(([a, b]) => `${a} -> ${b}`)).toEqual([
      'idle -> resolving',
      'idle -> connecting',
      'idle -> handshaking',
      'idle -> binding',
      'idle -> closed',
      'resolving -> connecting',
      'resolving -> closed',
      'connecting -> handshaking',
      'connecting -> connected',
      'connecting -> closed',
      'handshaking -> connected',
      'handshaking -> closed',
      'connected -> closing',
      'connected -> closed',
      'connected -> takenOver',
      'binding -> bound',
      'binding -> closed',
      'bound -> listening',
      'bound -> closed',
      'listening -> closed',
      'closing -> closed',
    ]);
  });

  it('the datagram tables: no closing; UDP is taken over when connected or bound, listens when bound, starts connected when accepted; DTLS starts in its handshake', () => {
    expect([...reachable(UDP_TRANSITIONS)].sort()).toEqual([
      'binding',
      'bound',
      'closed',
      'connected',
      'connecting',
      'idle',
      'listening',
      'resolving',
      'takenOver',
    ]);
    expect([...reachable(DTLS_TRANSITIONS)].sort()).toEqual(['closed', 'connected', 'handshaking', 'idle', 'listening']);
    expect(UDP_TRANSITIONS.connected).toEqual(['closed', 'takenOver']);
    expect(UDP_TRANSITIONS.bound).toEqual(['listening', 'closed', 'takenOver']);
    expect(UDP_TRANSITIONS.listening).toEqual(['closed', 'takenOver']); // the DTLS listener takes a UDP listener over
    expect(DTLS_TRANSITIONS.listening).toEqual(['closed']);
    expect(UDP_TRANSITIONS.idle).toContain('connected');
  });

  it.each<[string, TransitionTable, SocketState, SocketState]>([
    ['stream', STREAM_TRANSITIONS, 'closed', 'connected'],
    ['stream', STREAM_TRANSITIONS, 'takenOver', 'closed'],
    ['stream', STREAM_TRANSITIONS, 'idle', 'connected'],
    ['stream', STREAM_TRANSITIONS, 'listening', 'takenOver'],
    ['stream', STREAM_TRANSITIONS, 'closing', 'connected'],
    ['stream', STREAM_TRANSITIONS, 'bound', 'binding'],
    ['UDP', UDP_TRANSITIONS, 'connected', 'closing'],
    ['UDP', UDP_TRANSITIONS, 'listening', 'bound'],
    ['UDP', UDP_TRANSITIONS, 'idle', 'handshaking'],
    ['DTLS', DTLS_TRANSITIONS, 'connected', 'takenOver'],
    ['DTLS', DTLS_TRANSITIONS, 'idle', 'binding'],
  ])('%s: %s -> %s is refused', (_kind, table, from, to) => {
    expect(isAllowed(table, from, to)).toBe(false);
  });
});

describe('a refused transition', () => {
  it('throws an internal assertion error when strict (as in test runs)', () => {
    expect(() => refuseTransition('#1 closed -> connected is not a transition of a StreamSocket', true)).toThrow(
      expect.objectContaining({ code: 'ERR_INTERNAL_ASSERTION', message: expect.stringContaining('closed -> connected') }),
    );
  });

  it('otherwise emits one process warning, once per process, and returns', () => {
    const warnings: string[] = [];
    const spy = jest.spyOn(process, 'emitWarning').mockImplementation(((w: string | Error) => void warnings.push(String(w))) as typeof process.emitWarning);
    try {
      refuseTransition('#1 closed -> connected', false);
      refuseTransition('#2 closed -> connected', false);
    } finally {
      spy.mockRestore();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/internal error: #1 closed -> connected/);
  });
});

/** A log that keeps the `#id old -> new` lines of every socket. */
class TransitionLog implements IInstanceLog {
  readonly byId = new Map<string, string[]>();
  isEnabled(): boolean {
    return true;
  }
  log(_flag: LogFlag, message: string): void {
    const m = /^(#\d+) (\w+) -> (\w+)/.exec(message);
    if (m) this.byId.set(m[1], [...(this.byId.get(m[1]) ?? []), `${m[2]} -> ${m[3]}`]);
  }
}

class Quiet extends USocket {
  ended = 0;
  socketShutdown(): void {
    this.ended++;
  }
}

describe('real sockets move by the table', () => {
  it('TCP: a listener, a client and the accepted connection, through to their ends', async () => {
    const log = new TransitionLog();
    const iomux = new IoMux();
    const tcp = createTcpSocketProvider();
    const accepted: ISocket[] = [];
    const serverSide = new (class extends Quiet {
      override socketAcceptComplete(s: ISocket): void {
        accepted.push(s);
      }
    })();
    let connected!: () => void;
    const up = new Promise<void>((resolve) => (connected = resolve));
    let bound!: (port: number) => void;
    const port = new Promise<number>((resolve) => (bound = resolve));
    const listener = tcp.createSocket(
      new (class extends Quiet {
        override socketBindResult(_s: ISocket, _a: string, p: number): void {
          bound(p);
        }
        override socketListenResult(s: ISocket): void {
          s.accept(serverSide);
        }
      })(),
      { log, iomux },
    );
    listener.bind('127.0.0.1', 0);
    listener.listen();
    const client = tcp.createSocket(
      new (class extends Quiet {
        override socketConnectComplete(): void {
          connected();
        }
      })(),
      { log, iomux },
    );
    client.connect(`127.0.0.1:${await port}`);
    await up;
    client.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 50));
    iomux.terminate();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lives = [...log.byId.values()];
    expect(lives.length).toBeGreaterThanOrEqual(3);
    for (const life of lives)
      for (const t of life) expect([t, isAllowed(STREAM_TRANSITIONS, ...(t.split(' -> ') as [SocketState, SocketState]))]).toEqual([t, true]);
    expect(lives).toContainEqual(['idle -> binding', 'binding -> bound', 'bound -> listening', 'listening -> closed']);
    expect(lives).toContainEqual(['idle -> resolving', 'resolving -> connecting', 'connecting -> connected', 'connected -> closing', 'closing -> closed']);
  });

  it('UDP: bind, connect, the end', async () => {
    const log = new TransitionLog();
    const udp = createUdpSocketProvider();
    const users = [new Quiet(), new Quiet()];
    const [a, b] = users.map((u) => udp.createSocket(u, { log }));
    a.bind('127.0.0.1', 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    b.connect(`127.0.0.1:${a.getLocalAddress()!.port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    a.shutdown();
    b.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(users.map((u) => u.ended)).toEqual([1, 1]);
    expect([...log.byId.values()]).toEqual([
      ['idle -> binding', 'binding -> bound', 'bound -> closed'],
      ['idle -> resolving', 'resolving -> connecting', 'connecting -> connected', 'connected -> closed'],
    ]);
  });
});
