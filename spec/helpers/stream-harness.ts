/**
 * What the stream conformance suite needs from a transport (the fixture), and a small
 * harness over it: listeners that accept for recording users, clients, and cleanup.
 */
import type { Duplex } from 'node:stream';
import { ISocket, ISocketProvider, ShutdownReason, SocketOptions, SocketStateError, USocket } from '../../lib';
import { guardProvider, RecordingUser, waitUntil } from './recording-user';

/** A raw (non-framework) listener for the transport, for peer behaviour that needs raw control. */
export interface RawListener {
  /** The address a framework client connects to. */
  address: string;
  /** The n-th accepted raw connection (0-based), waiting for it (bounded). */
  connection(n?: number, ms?: number): Promise<Duplex>;
  close(): Promise<void>;
}

export interface StreamFixture {
  provider(): ISocketProvider;
  serverOptions(): SocketOptions;
  clientOptions(): SocketOptions;
  /** Arguments for `bind()`; called once per bind, so a path-based transport can return a fresh path. */
  bindArgs(): [string | null, number];
  connectAddress(boundAddr: string, boundPort: number): string;
  /** Optional: a raw client stream connected to `address` (as made by connectAddress). */
  rawConnect?(address: string): Promise<Duplex>;
  /** Optional: a raw server of the transport. */
  rawServer?(): Promise<RawListener>;
  /** What a denied connection's client may see. Default: BY_PEER or LOST. */
  deniedReasons?: ShutdownReason[];
  /** 'ip' (default): addresses and ports are checked; 'path': ports are 0. */
  addressing?: 'ip' | 'path';
  /** Default true: bytesSent/bytesReceived count application bytes exactly; false: at least. */
  exactByteCounts?: boolean;
  /** Extra cleanup after each test (raw peers the fixture made, temp files…). */
  cleanup?(): Promise<void>;
}

export interface Listener {
  socket: ISocket;
  user: RecordingUser;
  bindAddr: string;
  port: number;
  /** Where clients connect. */
  address: string;
  /** The n-th accepted connection (0-based): its user and socket, once socketAcceptComplete came. */
  accepted(n?: number, timeoutMs?: number): Promise<{ user: RecordingUser; socket: ISocket }>;
}

export interface ListenOptions {
  /** Per incoming connection: the user to accept with; null = accept(null); undefined = no accept() call. */
  conn?: () => RecordingUser | null | undefined;
  /** The listener's own user (its socketListenResult handler is replaced unless `conn` is absent). */
  user?: RecordingUser;
  options?: SocketOptions;
}

/** What a call threw: 'none', the error's name, or `SocketStateError:<code>`. */
export function thrown(fn: () => unknown): string {
  try {
    fn();
    return 'none';
  } catch (e) {
    if (e instanceof SocketStateError || (e as Error)?.name === 'SocketStateError') {
      return `SocketStateError:${String((e as SocketStateError).code)}`;
    }
    return (e as Error)?.name ?? typeof e;
  }
}

export class StreamHarness {
  readonly provider: ISocketProvider;
  private readonly rawStreams: Duplex[] = [];
  private readonly rawListeners: RawListener[] = [];

  constructor(readonly fx: StreamFixture) {
    this.provider = guardProvider(fx.provider());
  }

  /** A new (guarded) socket for `user`; client options unless given. */
  socket(user: USocket, options: SocketOptions = this.fx.clientOptions()): ISocket {
    return this.provider.createSocket(user, options);
  }

  /** Binds and listens; accepts each connection for `conn()`. */
  async listen(lo: ListenOptions = {}): Promise<Listener> {
    const user = lo.user ?? new RecordingUser('listener');
    const offered: RecordingUser[] = [];
    if (lo.conn) {
      const make = lo.conn;
      user.on('socketListenResult', (s) => {
        const u = make();
        if (u !== undefined) s.accept(u);
        if (u) offered.push(u);
      });
    }
    const socket = this.provider.createSocket(user, lo.options ?? this.fx.serverOptions());
    socket.bind(...this.fx.bindArgs());
    await user.waitFor('socketBindResult', 1, 10000, socket);
    const [bindAddr, port] = user.eventsOf('socketBindResult', socket)[0].args as [string, number];
    socket.listen();
    const address = this.fx.connectAddress(bindAddr, port);
    return {
      socket,
      user,
      bindAddr,
      port,
      address,
      async accepted(n = 0, timeoutMs = 10000) {
        await waitUntil(
          () => offered.length > n,
          `listener: connection #${n} offered`,
          timeoutMs,
          () => user.describe(),
        );
        const u = offered[n];
        const k = offered.slice(0, n + 1).filter((x) => x === u).length;
        await u.waitFor('socketAcceptComplete', k, timeoutMs);
        return { user: u, socket: u.eventsOf('socketAcceptComplete')[k - 1].socket };
      },
    };
  }

  /** Creates a client for `user` and connects it to `listener` (or an address); does not wait. */
  client(target: Listener | string, user: RecordingUser, options?: SocketOptions): ISocket {
    const s = this.socket(user, options);
    s.connect(typeof target === 'string' ? target : target.address);
    return s;
  }

  /** Creates a client, connects it and waits for socketConnectComplete. */
  async connect(target: Listener | string, user: RecordingUser, options?: SocketOptions): Promise<ISocket> {
    const s = this.client(target, user, options);
    await user.waitFor('socketConnectComplete', 1, 10000, s);
    return s;
  }

  async rawConnect(address: string): Promise<Duplex> {
    if (!this.fx.rawConnect) throw new Error('fixture has no rawConnect');
    const d = await this.fx.rawConnect(address);
    this.rawStreams.push(d);
    return d;
  }

  async rawServer(): Promise<RawListener> {
    if (!this.fx.rawServer) throw new Error('fixture has no rawServer');
    const l = await this.fx.rawServer();
    this.rawListeners.push(l);
    return l;
  }

  async cleanup(): Promise<void> {
    for (const d of this.rawStreams) d.destroy();
    for (const l of this.rawListeners) await l.close();
    if (this.fx.cleanup) await this.fx.cleanup();
  }
}
