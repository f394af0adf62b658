/**
 * The ways in: `connect()`, `listen()` (with the listener it resolves with) and `bind()`.
 */
import { ISocket, ISocketProvider, ShutdownReason, SocketStats, USocket } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import type { AbortOptions, BindOptions, Connection, ConnectOptions, DatagramSocket, Listener, ListenOptions } from './api';
import { AsyncSocket } from './connection';
import { contextOf } from './context';
import { checkSignal, onAbort, SocketClosedError, waiter, Waiter } from './errors';
import { Fifo } from '../util/fifo';

/** The default {@link ListenOptions.acceptQueue}. */
export const DEFAULT_ACCEPT_QUEUE = 128;

function checkProvider(what: string, provider: ISocketProvider): void {
  if (typeof provider?.createSocket !== 'function') throw new TypeError(`${what}: expected an ISocketProvider`);
}

/**
 * Connects to `address` (`"host:port"`, `"[v6]:port"`, or a path for local sockets) and
 * resolves with the connection once it is up (TLS: handshake and ALPN done). Works for every
 * provider; over UDP the connection is a connected UDP socket ({@link Connection.datagram}).
 * Rejects with a {@link SocketClosedError} whose `reason` says why it failed
 * (`SOCKET_CONNECT_REJECTED`, `SOCKET_TLS_HANDSHAKE_FAILED`, …); aborting `options.signal`
 * shuts the socket down and rejects with an `AbortError`.
 *
 * @example
 * ```ts
 * const conn = await connect(createTcpSocketProvider(), '127.0.0.1:4242');
 * await conn.write('hello');
 * console.log(String(await conn.read(5)));
 * conn.end();
 * ```
 */
export async function connect(provider: ISocketProvider, address: string, options: ConnectOptions = {}): Promise<Connection> {
  checkProvider('connect', provider);
  const { signal, serverName, acceptAlpn, tls, ...rest } = options;
  checkSignal('connect', signal);
  const socketOptions = { ...rest, context: contextOf(provider, { context: rest.context, tls: tls && { role: 'client', ...tls } }) };
  const conn = new AsyncSocket(provider.type === 'udp' ? 'datagram' : 'stream', acceptAlpn ?? null);
  return conn.open('connect', signal, () => {
    const s = provider.createSocket(conn.bridge, socketOptions);
    try {
      s.connect(address, serverName);
    } catch (err) {
      s.shutdown();
      throw err;
    }
    return s;
  });
}

/**
 * A UDP socket bound to `address:port` (null: all interfaces; port 0: the OS picks) that
 * receives from anyone and sends to anyone: `recvFrom()` / `for await`, `sendTo()`.
 */
export async function bind(provider: ISocketProvider, address: string | null, port = 0, options: BindOptions = {}): Promise<DatagramSocket> {
  checkProvider('bind', provider);
  if (provider.type !== 'udp') throw new SocketStateError(SocketErrorCode.NotSupported, 'bind: a stream socket binds to listen; use listen()');
  const { signal, reuseAddr, ...socketOptions } = options;
  checkSignal('bind', signal);
  const sock = new AsyncSocket('bound');
  return sock.open('bind', signal, () => {
    const s = provider.createSocket(sock.bridge, socketOptions);
    s.bind(address, port, reuseAddr);
    return s;
  });
}

/**
 * Listens on `address:port` (TCP, TLS; for a local socket `address` is the path and `port` is
 * ignored) and resolves with the listener once it is bound. Accept with `for await (const conn
 * of listener)` or `await listener.accept()`. Aborting `options.signal` closes the listener.
 * UDP has no listener here: use {@link bind} (datagrams from anyone) or {@link connect}.
 *
 * @example
 * ```ts
 * const server = await listen(createTcpSocketProvider(), '127.0.0.1', 0);
 * for await (const conn of server) echo(conn); // an async function per connection
 * ```
 */
export async function listen(provider: ISocketProvider, address: string | null, port = 0, options: ListenOptions = {}): Promise<Listener> {
  checkProvider('listen', provider);
  if (provider.type === 'udp') throw new SocketStateError(SocketErrorCode.NotSupported, 'listen: UDP has no listener; use bind() or connect()');
  const { signal, acceptQueue = DEFAULT_ACCEPT_QUEUE, acceptAlpn, tls, ...rest } = options;
  const socketOptions = { ...rest, context: contextOf(provider, { context: rest.context, tls }) };
  checkSignal('listen', signal);
  if (!Number.isInteger(acceptQueue) || acceptQueue < 1) throw new RangeError(`listen: acceptQueue must be a whole number >= 1, got ${acceptQueue}`);
  const listener = new AsyncListener(acceptQueue, acceptAlpn ?? null);
  const { w, promise } = waiter<Listener>('listen', signal, () => listener.close());
  if (w.settled) return promise;
  listener.opening = w;
  listener.sock = provider.createSocket(listener.user, socketOptions);
  listener.sock.bind(address, port);
  // After the bind, aborting closes the listener (as Node's server.listen({ signal })).
  const dispose = onAbort(signal, () => listener.close());
  void listener.closed.then(dispose);
  return promise;
}

/** The listening socket's user. */
class ListenerBridge extends USocket {
  constructor(private readonly owner: AsyncListener) {
    super();
  }
  override socketBindResult(s: ISocket): void {
    this.owner.bound(s);
  }
  override socketListenResult(s: ISocket): void {
    this.owner.offer(s);
  }
  override socketShutdown(s: ISocket, reason: ShutdownReason): void {
    this.owner.ended(reason);
  }
}

/** The implementation of {@link Listener}. */
class AsyncListener implements Listener {
  sock: ISocket | null = null;
  opening: Waiter<Listener> | null = null;
  readonly closed: Promise<ShutdownReason>;
  private resolveClosed!: (reason: ShutdownReason) => void;
  private readonly ready = new Fifo<AsyncSocket>();
  private readonly waiting = new Fifo<Waiter<Connection | null>>();
  /** Accepted, handshake not done yet. */
  private accepting = 0;
  private endReason: ShutdownReason | null = null;
  private closeCalled = false;
  readonly user: USocket;

  constructor(
    private readonly acceptQueue: number,
    private readonly acceptAlpn: ((protocol: string) => boolean) | null,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.user = new ListenerBridge(this);
  }

  bound(s: ISocket): void {
    s.listen();
    this.opening?.resolve(this);
    this.opening = null;
  }

  get socket(): ISocket {
    return this.sock!;
  }
  get address(): string {
    return this.sock?.getLocalAddress()?.address ?? '';
  }
  get port(): number {
    return this.sock?.getLocalAddress()?.port ?? 0;
  }
  stats(): SocketStats {
    return this.socket.stats();
  }

  offer(s: ISocket): void {
    if (this.closeCalled || (this.ready.length + this.accepting >= this.acceptQueue && this.waiting.length === 0)) {
      s.accept(null);
      return;
    }
    const conn = new AsyncSocket('stream', this.acceptAlpn);
    this.accepting++;
    conn.onOpen = (c) => {
      this.accepting--;
      c.onOpen = null;
      this.deliver(c);
    };
    // A failed accept or handshake ends before it opened: it only leaves the count.
    void conn.closed.then(() => {
      if (conn.onOpen) {
        conn.onOpen = null;
        this.accepting--;
      }
    });
    s.accept(conn.bridge);
  }

  private deliver(c: AsyncSocket): void {
    if (this.closeCalled) return c.end();
    for (let w = this.waiting.shift(); w; w = this.waiting.shift()) {
      if (!w.settled) return w.resolve(c);
    }
    this.ready.push(c);
  }

  accept(options: AbortOptions = {}): Promise<Connection | null> {
    try {
      const signal = checkSignal('accept', options.signal);
      const c = this.ready.shift();
      if (c) return Promise.resolve(c);
      if (this.endReason !== null || this.closeCalled) return Promise.resolve(null);
      const { w, promise } = waiter<Connection | null>('accept', signal, () => undefined);
      if (!w.settled) this.waiting.push(w);
      return promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  close(): void {
    if (this.closeCalled) return;
    this.closeCalled = true;
    this.sock?.shutdown();
    for (const c of this.ready.drain()) c.end();
    for (const w of this.waiting.drain()) w.resolve(null);
  }

  ended(reason: ShutdownReason): void {
    this.endReason = reason;
    this.closeCalled = true;
    if (this.opening) {
      this.opening.reject(new SocketClosedError(reason, this.sock?.stats().lastErrorCode ?? null, 'listen'));
      this.opening = null;
    }
    for (const c of this.ready.drain()) c.end();
    for (const w of this.waiting.drain()) w.resolve(null);
    this.resolveClosed(reason);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Connection> {
    for (;;) {
      const c = await this.accept();
      if (c === null) return;
      yield c;
    }
  }
}
