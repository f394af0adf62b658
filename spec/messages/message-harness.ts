/**
 * Helpers for the message-socket specs:
 *
 * - `MessageRecorder`, a message user that records every callback (with copies of the
 *   messages) and files a violation when a rule breaks: a callback inside a call into the
 *   message socket, anything after `messageSocketShutdown`, a second shutdown, a message
 *   nobody asked for, more send results than sends.
 * - `wrap()`: `createMessageSocket` with the message socket's methods instrumented for those
 *   checks, and remembered for `cleanupMessages()`.
 * - Connected sockets of every stream kind (TCP, TLS, local, STARTTLS) from one `StreamServer`.
 * - `cleanupMessages()` (for `afterEach`): shuts down what is still open, waits (bounded) for
 *   every end, and returns every violation.
 */
import {
  createLocalSocketProvider,
  createTcpSocketProvider,
  createTlsSocketProvider,
  IInstanceLog,
  ISocket,
  ISocketContext,
  ISocketProvider,
  LogFlag,
  ShutdownReason,
  SocketOptions,
  USocket,
} from '../../lib';
import { createMessageSocket, IMessageSocket, MessageSocketOptions, UMessageSocket } from '../../lib/messages';
import type * as net from 'node:net';
import { rawConnect, withTimeout } from '../helpers/net-helpers';
import { clientContext, serverContext, TestPki } from '../helpers/tls-fixture';

export const WAIT = 10000;

// ---------------------------------------------------------------------------------------
// Waiting for conditions that callbacks change
// ---------------------------------------------------------------------------------------

const waiters = new Set<() => void>();

function poke(): void {
  for (const w of [...waiters]) w();
}

/** Resolves once `check()` holds; re-checked after every recorded callback. Bounded. */
export function until(check: () => boolean, what: string, ms = WAIT, details?: () => string): Promise<void> {
  if (check()) return Promise.resolve();
  let w: () => void = () => undefined;
  const p = new Promise<void>((resolve) => {
    w = () => {
      if (check()) resolve();
    };
    waiters.add(w);
  });
  return withTimeout(p, ms, `${what}${details ? `\n${details()}` : ''}`).finally(() => waiters.delete(w));
}

// ---------------------------------------------------------------------------------------
// The recording message user
// ---------------------------------------------------------------------------------------

export interface MessageEvent {
  name: 'messageReceived' | 'messageSendResult' | 'messageSocketShutdown';
  socket: IMessageSocket;
  message?: Buffer;
  reason?: ShutdownReason;
}

interface Books {
  id: number;
  label: string;
  apiDepth: number;
  sends: number;
  receivePending: boolean;
  shutdownCalled: boolean;
}

const books = new WeakMap<IMessageSocket, Books>();
let nextId = 1;
const opened = new Set<IMessageSocket>();
const recorders = new Set<MessageRecorder>();
const violations: string[] = [];

export interface RecorderOptions {
  /** Call receiveNext() once wrapped and after every message. */
  autoReceive?: boolean;
  /** With autoReceive: send every message straight back. */
  echo?: boolean;
}

export class MessageRecorder extends UMessageSocket {
  readonly events: MessageEvent[] = [];
  /** Callbacks by name, and by name and socket (`name@id`): counted, since waits check them after every callback. */
  private readonly counts = new Map<string, number>();
  /** Run after the recording, for extra behaviour. */
  onMessage: (socket: IMessageSocket, message: Uint8Array) => void = () => undefined;
  onShutdown: (socket: IMessageSocket, reason: ShutdownReason) => void = () => undefined;
  /** Run for every callback, after it was recorded and before the handlers above. */
  onEvent: (e: MessageEvent) => void = () => undefined;

  constructor(
    readonly label = 'user',
    readonly options: RecorderOptions = {},
  ) {
    super();
    recorders.add(this);
  }

  override messageReceived(socket: IMessageSocket, message: Uint8Array): void {
    const b = this.check(socket, 'messageReceived');
    if (b && !b.receivePending) this.violate(`messageReceived with no receiveNext() pending`);
    if (b) b.receivePending = false;
    this.record({ name: 'messageReceived', socket, message: Buffer.from(message) });
    if (!(message instanceof Uint8Array)) this.violate('messageReceived: the message is not a Uint8Array');
    this.onMessage(socket, message);
    if (this.options.echo) socket.sendMessage(message);
    if (this.options.autoReceive) socket.receiveNext();
  }

  override messageSendResult(socket: IMessageSocket): void {
    const b = this.check(socket, 'messageSendResult');
    this.record({ name: 'messageSendResult', socket });
    if (b && this.count('messageSendResult', socket) > b.sends) this.violate(`more send results than sends (${b.sends})`);
  }

  override messageSocketShutdown(socket: IMessageSocket, reason: ShutdownReason): void {
    const b = this.check(socket, 'messageSocketShutdown');
    if (b?.shutdownCalled && reason !== ShutdownReason.Normal) this.violate(`shutdown() was called but the end is ${reason}`);
    this.record({ name: 'messageSocketShutdown', socket, reason });
    this.onShutdown(socket, reason);
  }

  // ---- queries -----------------------------------------------------------------------

  count(name: MessageEvent['name'], socket?: IMessageSocket): number {
    return this.counts.get(socket ? `${name}@${books.get(socket)?.id}` : name) ?? 0;
  }

  /** The messages received, in order. */
  messages(socket?: IMessageSocket): Buffer[] {
    return this.events.filter((e) => e.name === 'messageReceived' && (!socket || e.socket === socket)).map((e) => e.message as Buffer);
  }

  reason(socket?: IMessageSocket): ShutdownReason | undefined {
    return this.events.find((e) => e.name === 'messageSocketShutdown' && (!socket || e.socket === socket))?.reason;
  }

  describe(): string {
    const list = this.events
      .slice(-30)
      .map((e) => (e.name === 'messageReceived' ? `msg(${e.message?.length})` : e.name === 'messageSocketShutdown' ? `shutdown(${e.reason})` : 'sent'));
    return `  ${this.label}: [${list.join(', ')}]`;
  }

  // ---- waits -------------------------------------------------------------------------

  waitForMessages(n: number, ms = WAIT): Promise<void> {
    return until(
      () => this.count('messageReceived') >= n,
      `${this.label}: ${n} messages (have ${this.count('messageReceived')})`,
      ms,
      () => this.describe(),
    );
  }

  waitForSendResults(n: number, ms = WAIT): Promise<void> {
    return until(
      () => this.count('messageSendResult') >= n,
      `${this.label}: ${n} send results`,
      ms,
      () => this.describe(),
    );
  }

  async waitForShutdown(ms = WAIT): Promise<ShutdownReason> {
    await until(
      () => this.count('messageSocketShutdown') > 0,
      `${this.label}: messageSocketShutdown`,
      ms,
      () => this.describe(),
    );
    return this.reason() as ShutdownReason;
  }

  // ---- rule checks -------------------------------------------------------------------

  private check(socket: IMessageSocket, name: string): Books | undefined {
    const b = books.get(socket);
    if (!b) {
      this.violate(`${name} for a message socket the harness did not make`);
      return undefined;
    }
    if (b.apiDepth > 0) this.violate(`${name} ran inside a call into the message socket`);
    if (this.count('messageSocketShutdown', socket) > 0) this.violate(`${name} after messageSocketShutdown`);
    return b;
  }

  private record(e: MessageEvent): void {
    this.events.push(e);
    for (const key of [e.name, `${e.name}@${books.get(e.socket)?.id}`]) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.onEvent(e);
    poke();
  }

  private violate(what: string): void {
    violations.push(`${this.label}: ${what}`);
  }
}

/**
 * `createMessageSocket` with every method of the message socket counted (for the "no
 * callback inside a call" rule) and its sends and receiveNext()s booked.
 */
export function wrap(socket: ISocket, user: MessageRecorder, options?: MessageSocketOptions): IMessageSocket {
  const ms = createMessageSocket(socket, user, options);
  const b: Books = { id: nextId++, label: user.label, apiDepth: 0, sends: 0, receivePending: false, shutdownCalled: false };
  books.set(ms, b);
  opened.add(ms);
  const target = ms as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ['sendMessage', 'receiveNext', 'shutdown', 'setUser']) {
    const fn = target[method];
    Object.defineProperty(ms, method, {
      configurable: true,
      value: (...args: unknown[]): unknown => {
        // The calls that count: those the message socket does not ignore.
        const open = !b.shutdownCalled && user.count('messageSocketShutdown', ms) === 0 && ms.framingError === null;
        b.apiDepth++;
        try {
          const result = fn.apply(ms, args);
          if (method === 'sendMessage' && open) b.sends++;
          if (method === 'receiveNext' && open) b.receivePending = true;
          if (method === 'shutdown' && open) b.shutdownCalled = true;
          return result;
        } finally {
          b.apiDepth--;
        }
      },
    });
  }
  if (user.options.autoReceive) ms.receiveNext();
  return ms;
}

/** A log that keeps the lines of the flags it enables. */
export function memoryLog(...flags: LogFlag[]): IInstanceLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, isEnabled: (flag) => flags.includes(flag), log: (flag, message) => lines.push(`${flag} ${message}`) };
}

// ---------------------------------------------------------------------------------------
// Connected sockets of every stream kind
// ---------------------------------------------------------------------------------------

export type StreamKind = 'tcp' | 'tls' | 'local' | 'starttls';

/** A socket user that hands over the socket once it is connected (or upgraded), to be wrapped. */
class Holder extends USocket {
  private readonly up$: Promise<ISocket>;
  private resolve: (s: ISocket) => void = () => undefined;
  private reject: (e: Error) => void = () => undefined;
  /** STARTTLS: upgrade once connected instead of handing over the plain socket. */
  upgrade: ((s: ISocket) => void) | null = null;

  constructor(readonly what: string) {
    super();
    this.up$ = new Promise<ISocket>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.up$.catch(() => undefined); // awaited (bounded) by the test that needs it
  }
  /** The socket, once connected (bounded; the timer runs only while someone waits). */
  get ready(): Promise<ISocket> {
    return withTimeout(this.up$, WAIT, `${this.what} to be connected`);
  }
  private up(s: ISocket): void {
    sockets.add(s);
    if (this.upgrade) this.upgrade(s);
    else this.resolve(s);
  }
  override socketConnectComplete(s: ISocket): void {
    this.up(s);
  }
  override socketAcceptComplete(s: ISocket): void {
    this.up(s);
  }
  override socketUpgradeToTlsComplete(s: ISocket): void {
    sockets.add(s);
    this.resolve(s);
  }
  socketShutdown(s: ISocket, reason: ShutdownReason): void {
    this.reject(new Error(`${this.what} ended before it was wrapped: ${reason}`));
  }
}

/** A client socket of `provider` connected to `address` (resolves once connected). */
export function connected(provider: ISocketProvider, address: string, options: SocketOptions = {}): Promise<ISocket> {
  const h = new Holder(`a ${provider.type} client of ${address}`);
  const s = provider.createSocket(h, options);
  sockets.add(s);
  s.connect(address);
  return h.ready;
}

/** The listener's user: accepts everyone, remembering each connection's holder. */
class Acceptor extends USocket {
  readonly holders: Holder[] = [];
  bound: ((addr: string, port: number) => void) | null = null;
  failed: ((reason: ShutdownReason) => void) | null = null;

  constructor(private readonly makeHolder: () => Holder) {
    super();
  }
  override socketBindResult(s: ISocket, addr: string, port: number): void {
    s.listen();
    this.bound?.(addr, port);
  }
  override socketListenResult(s: ISocket): void {
    const h = this.makeHolder();
    this.holders.push(h);
    poke();
    s.accept(h);
  }
  socketShutdown(s: ISocket, reason: ShutdownReason): void {
    this.failed?.(reason);
  }
}

const listeners = new Set<ISocket>();
/** Client sockets made here: shut down in cleanup in case a test failed before wrapping them. */
const sockets = new Set<ISocket>();

/** A listening socket of one kind; `connect()` and `accepted(n)` give connected sockets. */
export class StreamServer {
  private acceptor!: Acceptor;
  private listening: ISocket | null = null;
  address = '';
  private serverCtx: ISocketContext | null = null;
  private clientCtx: ISocketContext | null = null;
  private readonly tcp = createTcpSocketProvider();
  private readonly tls = createTlsSocketProvider();

  constructor(
    readonly kind: StreamKind,
    private readonly pki: TestPki | null,
    /** Local sockets: the path to bind. */
    private readonly path: () => string,
    /** Options for every socket of this server, listener and clients (such as an `iomux`). */
    private readonly options: SocketOptions = {},
  ) {}

  private get provider(): ISocketProvider {
    if (this.kind === 'tls') return this.tls;
    return this.kind === 'local' ? createLocalSocketProvider() : this.tcp;
  }

  private contexts(): { server: ISocketContext; client: ISocketContext } {
    if (!this.pki) throw new Error(`${this.kind} needs the test PKI`);
    this.serverCtx ??= serverContext(this.pki);
    this.clientCtx ??= clientContext(this.pki);
    return { server: this.serverCtx, client: this.clientCtx };
  }

  /** A holder that, for STARTTLS, upgrades its plain socket as the given side first. */
  private holder(what: string, serverSide: boolean): Holder {
    const h = new Holder(what);
    if (this.kind === 'starttls') {
      h.upgrade = (s) => {
        const { server, client } = this.contexts();
        this.tls.upgradeToTls(s, h, { ...this.options, serverSide, context: serverSide ? server : client });
      };
    }
    return h;
  }

  async start(): Promise<this> {
    this.acceptor = new Acceptor(() => this.holder(`${this.kind} accepted connection`, true));
    const options = this.kind === 'tls' ? { ...this.options, context: this.contexts().server } : this.options;
    const listener = this.provider.createSocket(this.acceptor, options);
    this.listening = listener;
    listeners.add(listener);
    const bound = new Promise<void>((resolve, reject) => {
      this.acceptor.bound = (addr, port) => {
        this.address = this.kind === 'local' ? addr : `${addr}:${port}`;
        resolve();
      };
      this.acceptor.failed = (reason) => reject(new Error(`the ${this.kind} listener ended: ${reason}`));
    });
    if (this.kind === 'local') listener.bind(this.path(), 0);
    else listener.bind('127.0.0.1', 0);
    await withTimeout(bound, WAIT, `a ${this.kind} listener to bind`);
    return this;
  }

  /** A new client connection, once connected (and for TLS/STARTTLS, secured). */
  connect(): Promise<ISocket> {
    const h = this.holder(`${this.kind} client`, false);
    const options = this.kind === 'tls' ? { ...this.options, context: this.contexts().client } : this.options;
    const s = this.provider.createSocket(h, options);
    sockets.add(s);
    s.connect(this.address);
    return h.ready;
  }

  /** The n-th accepted connection (0-based), once connected (and secured). */
  async accepted(n = 0): Promise<ISocket> {
    await until(() => this.acceptor.holders.length > n, `${this.kind} connection #${n} to be offered`);
    return this.acceptor.holders[n].ready;
  }

  /** A connected client socket and its accepted end. */
  async pair(): Promise<{ client: ISocket; server: ISocket }> {
    const n = this.acceptor.holders.length;
    const client = await this.connect();
    return { client, server: await this.accepted(n) };
  }

  /** The listening socket (once start() was called). */
  get listener(): ISocket {
    if (!this.listening) throw new Error(`the ${this.kind} server was not started`);
    return this.listening;
  }

  /** The listening socket's port (TCP, TLS, STARTTLS). */
  get port(): number {
    return Number(this.address.slice(this.address.lastIndexOf(':') + 1));
  }
}

/** A TCP message socket for `user` (an accepted connection, wrapped with `options`) whose peer is a raw Node client. */
export async function withRawPeer(
  user: MessageRecorder,
  options: MessageSocketOptions = {},
  socketOptions: SocketOptions = {},
): Promise<{ raw: net.Socket; ms: IMessageSocket; srv: StreamServer }> {
  const srv = await new StreamServer('tcp', null, () => '', socketOptions).start();
  const raw = await rawConnect(srv.port);
  const ms = wrap(await srv.accepted(0), user, options);
  return { raw, ms, srv };
}

// ---------------------------------------------------------------------------------------
// Cleanup
// ---------------------------------------------------------------------------------------

/** Shuts down every message socket and listener still open, waits for every end, returns the violations. */
export async function cleanupMessages(): Promise<string[]> {
  const found: string[] = [];
  for (const ms of opened) {
    try {
      ms.shutdown();
    } catch (e) {
      found.push(`shutdown() threw: ${String(e)}`);
    }
  }
  const ended = (ms: IMessageSocket): boolean => [...recorders].some((u) => u.count('messageSocketShutdown', ms) > 0);
  try {
    await until(() => [...opened].every(ended), 'every message socket to end');
  } catch (e) {
    found.push(String(e));
  }
  for (const l of [...listeners, ...sockets]) {
    try {
      l.shutdown();
    } catch {
      // taken over by upgradeToTls: its successor was wrapped and shut down above
    }
  }
  listeners.clear();
  sockets.clear();
  // Stray late callbacks get a turn before the books close.
  await new Promise<void>((r) => setImmediate(r));
  found.push(...violations);
  violations.length = 0;
  opened.clear();
  recorders.clear();
  waiters.clear();
  return found;
}
