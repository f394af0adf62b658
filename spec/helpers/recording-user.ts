/**
 * A recording USocket that checks CONTRACT.md §3's always-rules on every callback.
 *
 * - `guardProvider(p)` / `guard(socket)` wrap providers and sockets in proxies that count
 *   every API call (`inApiDepth`) and track sends, recvs, shutdown() and setUser() per socket.
 * - `RecordingUser` records every callback (with copies of received bytes) and files a
 *   violation when a rule breaks: a callback inside an API call, a callback to a user that
 *   is not the socket's current one, anything after `socketShutdown`, a second shutdown, a
 *   recv result/cancel with no recv pending (or for another buffer), a recv still pending at
 *   shutdown, more send results than sends, a non-NORMAL end after `shutdown()`…
 * - `cleanupAndCheck()` (for `afterEach`) shuts down every socket still open, waits (bounded)
 *   for each to report `socketShutdown`, and returns every violation of every user.
 */
import { ISocket, ISocketProvider, ShutdownReason, SocketOptions, UpgradeOptions, USocket } from '../../lib';

export type CallbackName =
  | 'socketConnectComplete'
  | 'socketBindResult'
  | 'socketListenResult'
  | 'socketAcceptComplete'
  | 'socketShutdown'
  | 'socketSendResult'
  | 'socketRecvResult'
  | 'socketRecvFromResult'
  | 'socketRecvCanceled'
  | 'socketUpgradeToTlsComplete'
  | 'socketAcceptSelectedAlpnProtocol';

export interface RecordedEvent {
  /** Order across every user and socket of the test. */
  seq: number;
  name: CallbackName;
  /** The (guarded) socket the callback was about. */
  socket: ISocket;
  /** The callback's arguments after the socket. */
  args: unknown[];
  /** For recv results: a copy of the bytes delivered. */
  data?: Buffer;
}

export type Handler = (socket: ISocket, ...args: any[]) => unknown;

interface PendingRecv {
  buffer: Uint8Array;
  len: number;
  partial: boolean;
}

interface SocketState {
  id: number;
  target: ISocket;
  proxy: ISocket;
  user: unknown;
  shutdownCalled: boolean;
  shutdownCount: number;
  shutdownReason: ShutdownReason | null;
  takenOver: boolean;
  pendingRecv: PendingRecv | null;
  sendsIssued: number;
  sendResults: number;
  connectCompletes: number;
  shortRead: boolean;
}

// ---------------------------------------------------------------------------------------
// Global registry
// ---------------------------------------------------------------------------------------

/** Depth of ISocket / provider calls currently on the stack (made through the guards). */
let inApiDepth = 0;
let nextSeq = 1;
let nextSocketId = 1;
const stateByTarget = new WeakMap<object, SocketState>();
const targetByProxy = new WeakMap<object, ISocket>();
const liveStates = new Set<SocketState>();
const allUsers = new Set<RecordingUser>();
const globalViolations: string[] = [];

interface Waiter {
  check: () => boolean;
  resolve: () => void;
  timer: NodeJS.Timeout;
}
const waiters = new Set<Waiter>();

export function apiDepth(): number {
  return inApiDepth;
}

const SHUTDOWN_REASONS = new Set<string>(Object.values(ShutdownReason));

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function runWaiters(): void {
  for (const w of [...waiters]) {
    let done = false;
    try {
      done = w.check();
    } catch {
      done = false;
    }
    if (done) {
      waiters.delete(w);
      clearTimeout(w.timer);
      w.resolve();
    }
  }
}

/**
 * Resolves once `check()` is true (checked now and after every recorded callback);
 * rejects after `timeoutMs` with `what` and `details()` in the message.
 */
export function waitUntil(check: () => boolean, what: string, timeoutMs = 10000, details?: () => string): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const w: Waiter = {
      check,
      resolve,
      timer: setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}${details ? `\n${details()}` : ''}`));
      }, timeoutMs),
    };
    waiters.add(w);
  });
}

function stateOf(socket: ISocket): SocketState {
  const target = targetByProxy.get(socket) ?? socket;
  let st = stateByTarget.get(target);
  if (!st) {
    const proxy = makeProxy(target);
    st = {
      id: nextSocketId++,
      target,
      proxy,
      user: null,
      shutdownCalled: false,
      shutdownCount: 0,
      shutdownReason: null,
      takenOver: false,
      pendingRecv: null,
      sendsIssued: 0,
      sendResults: 0,
      connectCompletes: 0,
      shortRead: false,
    };
    stateByTarget.set(target, st);
    targetByProxy.set(proxy, target);
    liveStates.add(st);
  }
  return st;
}

/** The raw socket behind a guarded one (or the socket itself). */
export function unwrap<T>(socket: T): T {
  if (socket !== null && typeof socket === 'object') {
    const t = targetByProxy.get(socket as unknown as object);
    if (t) return t as unknown as T;
  }
  return socket;
}

/** The guarded proxy for `socket` (the same proxy every time). */
export function guard(socket: ISocket): ISocket {
  return stateOf(socket).proxy;
}

/** A short id for messages: `#3`. */
export function socketId(socket: ISocket): string {
  return `#${stateOf(socket).id}`;
}

/** Whether the socket has reported `socketShutdown` (to any recording user). */
export function hasShutDown(socket: ISocket): boolean {
  return stateOf(socket).shutdownCount > 0;
}

function accountCall(st: SocketState, method: string, args: unknown[]): void {
  const open = !st.shutdownCalled && st.shutdownCount === 0 && !st.takenOver;
  switch (method) {
    case 'send':
      if (open) st.sendsIssued++;
      break;
    case 'sendTo':
      if (open && st.target.type === 'udp') st.sendsIssued++;
      break;
    case 'recv':
      if (open) {
        if (st.pendingRecv) {
          globalViolations.push(`socket #${st.id}: recv() accepted while an earlier recv was still pending`);
        }
        const buffer = args[0] as Uint8Array;
        const len = typeof args[1] === 'number' ? args[1] : buffer.byteLength;
        st.pendingRecv = { buffer, len, partial: args[2] === true };
      }
      break;
    case 'shutdown':
      st.shutdownCalled = true;
      break;
    case 'setUser':
      st.user = args[0];
      break;
    default:
      break;
  }
}

const API_METHODS = ['connect', 'bind', 'listen', 'accept', 'shutdown', 'send', 'sendTo', 'recv', 'recvCancel', 'setUser', 'getLocalAddress', 'setQoS'];

/**
 * Wraps the socket's own API methods in place, so a call counts (and is accounted) whether it
 * is made through the guard or on the raw socket a callback was given — apps do the latter.
 */
function instrument(target: ISocket): void {
  const t = target as unknown as Record<string, unknown>;
  for (const method of API_METHODS) {
    const fn = t[method];
    if (typeof fn !== 'function') continue;
    Object.defineProperty(target, method, {
      configurable: true,
      writable: true,
      value: function guarded(...args: unknown[]): unknown {
        inApiDepth++;
        try {
          const result = (fn as (...a: unknown[]) => unknown).apply(
            target,
            args.map((a) => unwrap(a)),
          );
          accountCall(stateOf(target), method, args);
          return result;
        } finally {
          inApiDepth--;
        }
      },
    });
  }
}

function makeProxy(target: ISocket): ISocket {
  instrument(target);
  return new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop, t);
      return typeof value === 'function' && prop !== 'constructor' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
}

/** A provider whose calls count as API calls and whose sockets are guarded. */
export function guardProvider(provider: ISocketProvider): ISocketProvider {
  return {
    get type() {
      return provider.type;
    },
    createSocketContext(log) {
      inApiDepth++;
      try {
        return provider.createSocketContext(log);
      } finally {
        inApiDepth--;
      }
    },
    createSocket(user: USocket, options?: SocketOptions): ISocket {
      inApiDepth++;
      try {
        const raw = provider.createSocket(user, options);
        const st = stateOf(raw);
        st.user = user;
        if (user instanceof RecordingUser) user.adopt(st.proxy);
        return st.proxy;
      } finally {
        inApiDepth--;
      }
    },
    upgradeToTls(socket: ISocket, user: USocket, options?: UpgradeOptions): ISocket {
      inApiDepth++;
      try {
        const raw = provider.upgradeToTls(unwrap(socket), user, options);
        const old = stateOf(socket);
        old.takenOver = true;
        old.pendingRecv = null;
        const st = stateOf(raw);
        st.user = user;
        if (user instanceof RecordingUser) user.adopt(st.proxy);
        return st.proxy;
      } finally {
        inApiDepth--;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------
// The recording user
// ---------------------------------------------------------------------------------------

export interface RecordingUserOptions {
  /**
   * Listening sockets: called in `socketListenResult`; its result is passed to `accept()`.
   * Returning `undefined` means: do not call `accept()` at all (deny by silence).
   */
  accept?: () => USocket | null | undefined;
  /** After connect/accept complete: keep a partial recv of this many bytes pending, collecting data. */
  autoRecv?: number;
  /** With `autoRecv`: send every received chunk straight back. */
  echo?: boolean;
}

export class RecordingUser extends USocket {
  readonly events: RecordedEvent[] = [];
  readonly violations: string[] = [];
  /** Sockets this user was given or created with, first seen first. */
  readonly sockets: ISocket[] = [];
  /** Extra behaviour per callback, run after the recording (and the built-in behaviours). */
  readonly handlers: Partial<Record<CallbackName, Handler>> = {};
  private readonly bytesBySocket = new Map<ISocket, number>();
  private readonly chunksBySocket = new Map<ISocket, Buffer[]>();

  constructor(
    readonly label = 'user',
    readonly options: RecordingUserOptions = {},
  ) {
    super();
    allUsers.add(this);
  }

  /** The first socket of this user (created with it, or first seen in a callback). */
  get socket(): ISocket {
    const s = this.sockets[0];
    if (!s) throw new Error(`${this.label}: has no socket yet`);
    return s;
  }

  /** Sets a handler; returns `this` for chaining. */
  on(name: CallbackName, fn: Handler): this {
    this.handlers[name] = fn;
    return this;
  }

  /** Internal: associates a socket with this user. */
  adopt(socket: ISocket): void {
    const g = guard(socket);
    if (!this.sockets.includes(g)) this.sockets.push(g);
  }

  // ----- queries --------------------------------------------------------------------

  count(name: CallbackName, socket?: ISocket): number {
    const g = socket ? guard(socket) : undefined;
    let n = 0;
    for (const e of this.events) if (e.name === name && (!g || e.socket === g)) n++;
    return n;
  }

  eventsOf(name: CallbackName, socket?: ISocket): RecordedEvent[] {
    const g = socket ? guard(socket) : undefined;
    return this.events.filter((e) => e.name === name && (!g || e.socket === g));
  }

  /** Callback names in order (optionally for one socket). */
  names(socket?: ISocket): CallbackName[] {
    const g = socket ? guard(socket) : undefined;
    return this.events.filter((e) => !g || e.socket === g).map((e) => e.name);
  }

  /** The reason of the (first) socketShutdown, for `socket` or any socket of this user. */
  shutdownReason(socket?: ISocket): ShutdownReason | undefined {
    return this.eventsOf('socketShutdown', socket)[0]?.args[0] as ShutdownReason | undefined;
  }

  /** How many bytes recv results delivered (for one socket, or all). */
  receivedLength(socket?: ISocket): number {
    if (socket) return this.bytesBySocket.get(guard(socket)) ?? 0;
    let n = 0;
    for (const v of this.bytesBySocket.values()) n += v;
    return n;
  }

  /** The bytes recv results delivered, in order (for one socket, or all in delivery order). */
  received(socket?: ISocket): Buffer {
    if (socket) return Buffer.concat(this.chunksBySocket.get(guard(socket)) ?? []);
    return Buffer.concat(this.events.filter((e) => e.data).map((e) => e.data as Buffer));
  }

  /** A readable list of what happened, for failure messages. */
  describe(max = 40): string {
    const tail = this.events.slice(-max).map((e) => {
      const extra =
        e.name === 'socketShutdown'
          ? `(${String(e.args[0])})`
          : e.name === 'socketRecvResult' || e.name === 'socketRecvFromResult'
            ? `(${String(e.args[1])})`
            : '';
      return `${e.name}${extra}@${socketId(e.socket)}`;
    });
    const skipped = this.events.length > max ? `… ${this.events.length - max} earlier, ` : '';
    const v = this.violations.length ? `\n  violations: ${this.violations.join(' | ')}` : '';
    return `  ${this.label} events: [${skipped}${tail.join(', ')}]${v}`;
  }

  // ----- waits ----------------------------------------------------------------------

  /** Resolves when `name` was called `count` times (for `socket`, if given). */
  waitFor(name: CallbackName, count = 1, timeoutMs = 10000, socket?: ISocket): Promise<void> {
    const what = `${this.label}: ${count}× ${name}${socket ? ` on ${socketId(socket)}` : ''}`;
    return waitUntil(
      () => this.count(name, socket) >= count,
      what,
      timeoutMs,
      () => this.describe(),
    );
  }

  /** Resolves with the reason once `socket` (default: this user's first socket) reported socketShutdown. */
  async waitForShutdown(socket?: ISocket, timeoutMs = 10000): Promise<ShutdownReason> {
    const s = socket ?? this.socket;
    await this.waitFor('socketShutdown', 1, timeoutMs, s);
    return this.shutdownReason(s) as ShutdownReason;
  }

  /** Resolves when recv results delivered at least `n` bytes (for `socket`, if given). */
  waitForBytes(n: number, socket?: ISocket, timeoutMs = 10000): Promise<void> {
    return waitUntil(
      () => this.receivedLength(socket) >= n,
      `${this.label}: ${n} bytes received${socket ? ` on ${socketId(socket)}` : ''} (have ${this.receivedLength(socket)})`,
      timeoutMs,
      () => this.describe(),
    );
  }

  /** Resolves when `check()` holds (checked after every callback of any user). */
  waitUntil(check: () => boolean, what: string, timeoutMs = 10000): Promise<void> {
    return waitUntil(check, `${this.label}: ${what}`, timeoutMs, () => this.describe());
  }

  // ----- the callbacks --------------------------------------------------------------

  override socketConnectComplete(socket: ISocket): void {
    this.handle('socketConnectComplete', socket, []);
  }
  override socketBindResult(socket: ISocket, localAddr: string, localPort: number): void {
    this.handle('socketBindResult', socket, [localAddr, localPort]);
  }
  override socketListenResult(socket: ISocket, remoteAddr: string, remotePort: number): void {
    this.handle('socketListenResult', socket, [remoteAddr, remotePort]);
  }
  override socketAcceptComplete(socket: ISocket): void {
    this.handle('socketAcceptComplete', socket, []);
  }
  override socketShutdown(socket: ISocket, reason: ShutdownReason): void {
    this.handle('socketShutdown', socket, [reason]);
  }
  override socketSendResult(socket: ISocket): void {
    this.handle('socketSendResult', socket, []);
  }
  override socketRecvResult(socket: ISocket, buffer: Uint8Array, len: number): void {
    this.handle('socketRecvResult', socket, [buffer, len]);
  }
  override socketRecvFromResult(socket: ISocket, buffer: Uint8Array, len: number, srcAddr: string, srcPort: number): void {
    this.handle('socketRecvFromResult', socket, [buffer, len, srcAddr, srcPort]);
  }
  override socketRecvCanceled(socket: ISocket, buffer: Uint8Array): void {
    this.handle('socketRecvCanceled', socket, [buffer]);
  }
  override socketUpgradeToTlsComplete(socket: ISocket): void {
    this.handle('socketUpgradeToTlsComplete', socket, []);
  }
  override socketAcceptSelectedAlpnProtocol(socket: ISocket, protocol: string): boolean {
    const r = this.handle('socketAcceptSelectedAlpnProtocol', socket, [protocol]);
    return typeof r === 'boolean' ? r : true;
  }

  private violate(st: SocketState, name: CallbackName, message: string): void {
    this.violations.push(`${this.label} ${name}@#${st.id}: ${message}`);
  }

  private handle(name: CallbackName, rawSocket: ISocket, args: unknown[]): unknown {
    if (inApiDepth > 0) {
      this.violations.push(`${this.label} ${name}: delivered synchronously inside an API call (depth ${inApiDepth})`);
    }
    const st = stateOf(rawSocket);
    const socket = st.proxy;
    if (st.user === null) st.user = this;
    else if (st.user !== this) this.violate(st, name, 'delivered to a user that is not the socket’s current user');
    if (st.takenOver) this.violate(st, name, 'callback from a socket taken over by upgradeToTls');
    if (st.shutdownCount > 0) this.violate(st, name, `callback after socketShutdown(${String(st.shutdownReason)})`);
    this.adopt(socket);

    let data: Buffer | undefined;
    switch (name) {
      case 'socketConnectComplete':
        st.connectCompletes++;
        if (st.connectCompletes > 1) this.violate(st, name, 'second socketConnectComplete');
        if (st.shutdownCalled) this.violate(st, name, 'socketConnectComplete after shutdown() was called');
        break;
      case 'socketBindResult': {
        const port = args[1];
        if (typeof args[0] !== 'string') this.violate(st, name, `address is not a string: ${String(args[0])}`);
        if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
          this.violate(st, name, `bad port ${String(port)}`);
        }
        break;
      }
      case 'socketSendResult':
        st.sendResults++;
        if (st.sendResults > st.sendsIssued) {
          this.violate(st, name, `send result #${st.sendResults} but only ${st.sendsIssued} sends were made`);
        }
        break;
      case 'socketRecvResult':
      case 'socketRecvFromResult': {
        const buffer = args[0] as Uint8Array;
        const len = args[1] as number;
        const p = st.pendingRecv;
        st.pendingRecv = null;
        if (name === 'socketRecvResult' && st.shortRead) {
          this.violate(st, name, 'bytes delivered after a short exact recv (which only happens at end of stream)');
        }
        if (!p) {
          this.violate(st, name, 'no recv was pending');
        } else {
          if (buffer !== p.buffer) this.violate(st, name, 'buffer is not the one passed to recv()');
          if (!Number.isInteger(len) || len < 0 || len > p.len) {
            this.violate(st, name, `len ${len} outside 0..${p.len}`);
          } else if (name === 'socketRecvResult') {
            if (len === 0) this.violate(st, name, 'len 0');
            else if (!p.partial && len < p.len) st.shortRead = true;
          }
        }
        if (buffer instanceof Uint8Array && Number.isInteger(len) && len >= 0 && len <= buffer.byteLength) {
          data = Buffer.from(buffer.subarray(0, len));
          if (name === 'socketRecvResult') {
            this.bytesBySocket.set(socket, (this.bytesBySocket.get(socket) ?? 0) + len);
            const chunks = this.chunksBySocket.get(socket) ?? [];
            chunks.push(data);
            this.chunksBySocket.set(socket, chunks);
          }
        }
        break;
      }
      case 'socketRecvCanceled': {
        const p = st.pendingRecv;
        st.pendingRecv = null;
        if (!p) this.violate(st, name, 'no recv was pending');
        else if (args[0] !== p.buffer) this.violate(st, name, 'buffer is not the one passed to recv()');
        break;
      }
      case 'socketShutdown': {
        const reason = args[0] as ShutdownReason;
        st.shutdownCount++;
        if (st.shutdownCount === 1) st.shutdownReason = reason;
        if (!SHUTDOWN_REASONS.has(reason)) this.violate(st, name, `unknown reason ${String(reason)}`);
        if (st.shutdownCount > 1) this.violate(st, name, 'second socketShutdown');
        if (st.pendingRecv) this.violate(st, name, 'a recv was still pending (neither completed nor cancelled)');
        if (st.shutdownCalled && reason !== ShutdownReason.Normal) {
          this.violate(st, name, `reason ${reason} after shutdown() was called (must be NORMAL)`);
        }
        if (st.shortRead && !st.shutdownCalled && reason !== ShutdownReason.ByPeer) {
          this.violate(st, name, `reason ${reason} after a short exact recv (expected BY_PEER)`);
        }
        st.pendingRecv = null;
        break;
      }
      default:
        break;
    }

    this.events.push({ seq: nextSeq++, name, socket, args, data });

    let result: unknown;
    try {
      this.behave(name, socket, args);
      const h = this.handlers[name];
      if (h) result = h(socket, ...args);
    } catch (e) {
      this.violations.push(`${this.label} ${name}: test handler threw ${describeError(e)}`);
    }
    runWaiters();
    return result;
  }

  private behave(name: CallbackName, socket: ISocket, args: unknown[]): void {
    const o = this.options;
    if (name === 'socketListenResult' && o.accept) {
      const u = o.accept();
      if (u !== undefined) socket.accept(u);
      return;
    }
    if (!o.autoRecv) return;
    if (name === 'socketConnectComplete' || name === 'socketAcceptComplete') {
      socket.recv(new Uint8Array(o.autoRecv), o.autoRecv, true);
    } else if (name === 'socketRecvResult') {
      const buffer = args[0] as Uint8Array;
      const len = args[1] as number;
      const st = stateOf(socket);
      if (st.shutdownCalled || st.shutdownCount > 0) return;
      if (o.echo) socket.send(buffer, len);
      socket.recv(buffer, o.autoRecv, true);
    }
  }
}

// ---------------------------------------------------------------------------------------
// afterEach
// ---------------------------------------------------------------------------------------

/** Every violation recorded so far by any user (and by the guards). */
export function allViolations(): string[] {
  const out = [...globalViolations];
  for (const u of allUsers) out.push(...u.violations);
  return out;
}

/**
 * Shuts down every guarded socket that has not reported `socketShutdown` yet, waits (bounded)
 * until each has, then returns every violation and forgets all users and sockets.
 */
export async function cleanupAndCheck(timeoutMs = 10000): Promise<string[]> {
  const watched = [...liveStates].filter((st) => !st.takenOver && st.user instanceof RecordingUser);
  for (const st of watched) {
    if (st.shutdownCount === 0) {
      try {
        st.proxy.shutdown();
      } catch (e) {
        globalViolations.push(`socket #${st.id}: shutdown() threw ${describeError(e)}`);
      }
    }
  }
  try {
    await waitUntil(() => watched.every((st) => st.shutdownCount > 0), 'every socket of the test to report socketShutdown', timeoutMs);
  } catch {
    for (const st of watched) {
      if (st.shutdownCount === 0) {
        const label = st.user instanceof RecordingUser ? st.user.label : '?';
        globalViolations.push(`socket #${st.id} (${label}, mode ${st.target.mode}) never reported socketShutdown`);
      }
    }
  }
  // Give stray late callbacks a chance to show up before the books are closed.
  await new Promise<void>((r) => setImmediate(r));
  await new Promise<void>((r) => setImmediate(r));
  const violations = allViolations();
  resetRegistry();
  return violations;
}

/** Forgets every user, socket, waiter and violation (cleanupAndCheck does this). */
export function resetRegistry(): void {
  for (const w of waiters) clearTimeout(w.timer);
  waiters.clear();
  liveStates.clear();
  allUsers.clear();
  globalViolations.length = 0;
}
