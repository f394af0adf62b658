/**
 * Model-based fuzzing of the stream sockets (TCP, TLS, local): a scenario is a topology, a
 * random list of API calls on the framework sockets, a scripted plain-Node peer, and how each
 * side finishes. The run executes it against real sockets on loopback and checks, on every run:
 *
 * - every call threw exactly what the model (fuzz-model.ts) predicts, and the mode stayed right;
 * - the recording user's rules (spec/helpers/recording-user.ts): no callback inside an API call,
 *   exactly one socketShutdown and nothing after it, every recv completed or cancelled before
 *   it, no more send results than sends;
 * - send results: one per send (all of them after a clean shutdown() to a reading peer), each
 *   after that send's bytes were counted in bytesSent (in call order);
 * - bytes: what a socket delivered is a prefix of what its peer sent; after BY_PEER (the peer
 *   closed cleanly) it is all of it; what the peer received is a prefix of what was sent, and all
 *   of it after a clean shutdown(); a STARTTLS upgrade that completed leaves no plaintext behind;
 * - the end reason is one that the situation allows.
 */
import fc from 'fast-check';
import { ISocket, ISocketProvider, ShutdownReason, SocketOptions } from '../../../lib';
import { nextTurn } from '../../helpers/net-helpers';
import { cleanupAndCheck, guard, guardProvider, hasShutDown, RecordingUser, waitUntil } from '../../helpers/recording-user';
import { thrown } from '../../helpers/stream-harness';
import { ALREADY_ACCEPTED, FuzzCall, NONE, performBadCall, predictStream, SocketFacts, takesEffect } from './fuzz-model';
import { FuzzTally } from './fuzz-runner';
import { Prng } from './prng';
import { PeerRun, PeerScript, rawClient, rawServer, StreamKind } from './stream-peers';

export type Topology = 'client-raw' | 'raw-server' | 'pair';
type Role = 'C' | 'A' | 'L';
type AcceptMode = 'accept' | 'twice' | 'null' | 'silent';
type Finale = 'drain' | 'shutdown';

/** A call, a pause of the program (turns of the event loop, or until the socket hears something), or a call on the socket an upgrade took over. */
export interface StreamAction {
  /** Which socket of the topology (taken modulo the sockets there are). */
  role: number;
  call: FuzzCall | { op: 'wait'; turns: number } | { op: 'waitEvent' } | { op: 'old' } | { op: 'starttls' };
}

export interface StreamScenario {
  topology: Topology;
  accept: AcceptMode;
  readAheadBytes: number;
  actions: StreamAction[];
  peer: PeerScript;
  finale: { C: Finale; A: Finale };
  dataSeed: number;
}

/** What a run needs from its transport: providers, options, addresses. */
export interface StreamEnv {
  kind: StreamKind;
  pki: import('../../helpers/tls-fixture').TestPki | null;
  provider(): ISocketProvider;
  tlsProvider(): ISocketProvider;
  serverOptions(): SocketOptions;
  clientOptions(): SocketOptions;
  bindArgs(): [string | null, number];
  connectAddress(addr: string, port: number): string;
  /** Options for an upgrade of a socket in `role` (C: TLS client side, A: server side). */
  upgradeOptions(role: 'C' | 'A'): import('../../../lib').UpgradeOptions;
}

// ---------------------------------------------------------------------------------------
// The scenario generator
// ---------------------------------------------------------------------------------------

const callArb: fc.Arbitrary<StreamAction['call']> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('send' as const),
      len: fc.integer({ min: 1, max: 6000 }),
      extra: fc.integer({ min: 0, max: 3 }),
      explicitLen: fc.boolean(),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('recv' as const),
      len: fc.integer({ min: 1, max: 5000 }),
      extra: fc.integer({ min: 0, max: 3 }),
      partial: fc.boolean(),
      omitLen: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ op: 'recvCancel' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'setUser' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'shutdown' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'connect' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('bind' as const), badPort: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'listen' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'accept' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('sendTo' as const), len: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('upgrade' as const), viaTls: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('badSend' as const),
      kind: fc.constantFrom('string' as const, 'zeroLen' as const, 'tooLong' as const, 'fraction' as const, 'arrayBuffer' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('badRecv' as const),
      kind: fc.constantFrom('tooLong' as const, 'zeroLen' as const, 'empty' as const, 'array' as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'badSetUser' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'old' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'starttls' as const }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('wait' as const), turns: fc.integer({ min: 1, max: 20 }) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'waitEvent' as const }) },
);

const peerArb: fc.Arbitrary<PeerScript> = fc.record({
  steps: fc.array(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('write' as const),
          len: fc.integer({ min: 1, max: 4000 }),
          pieces: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 64 })),
        }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('pause' as const), turns: fc.integer({ min: 1, max: 30 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), turns: fc.integer({ min: 1, max: 20 }) }) },
    ),
    { maxLength: 6 },
  ),
  end: fc.constantFrom('end' as const, 'reset' as const, 'destroy' as const, 'stay' as const),
});

/** Scenarios for a stream transport; `topologies` limits the shapes. */
export function streamScenarioArb(topologies: Topology[] = ['client-raw', 'raw-server', 'pair']): fc.Arbitrary<StreamScenario> {
  return fc.record({
    topology: fc.constantFrom(...topologies),
    accept: fc.oneof(
      { weight: 6, arbitrary: fc.constant('accept' as const) },
      { weight: 2, arbitrary: fc.constant('twice' as const) },
      fc.constant('null' as const),
      fc.constant('silent' as const),
    ),
    readAheadBytes: fc.oneof(fc.constant(256 * 1024), fc.integer({ min: 1, max: 8192 })),
    actions: fc.array(fc.record({ role: fc.nat(5), call: callArb }), { minLength: 1, maxLength: 12 }),
    peer: peerArb,
    finale: fc.record({ C: fc.constantFrom('drain' as const, 'shutdown' as const), A: fc.constantFrom('drain' as const, 'shutdown' as const) }),
    dataSeed: fc.integer({ min: 1, max: 0x7fffffff }),
  });
}

// ---------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------

const RUN_WAIT_MS = 6000;
const EVENT_WAIT_MS = 40;

/** One framework socket as the run sees it. */
interface Sock {
  role: Role;
  label: string;
  sock: ISocket;
  mode: 'client' | 'server';
  listening: boolean;
  shutdownCalled: boolean;
  takenOver: boolean;
  recvPending: boolean;
  /** Bytes of every send that took effect, in call order. */
  sends: Buffer[];
  /** bytesSent seen at each socketSendResult, in order. */
  sendResultBytes: number[];
  predecessor: Sock | null;
  successor: Sock | null;
}

const PLAUSIBLE = new Set<string>([ShutdownReason.Normal, ShutdownReason.ByPeer, ShutdownReason.Lost]);

class StreamRun {
  readonly problems: string[] = [];
  private readonly users: RecordingUser[] = [];
  private readonly socks: Sock[] = [];
  private readonly bySocket = new Map<ISocket, Sock>();
  private readonly provider: ISocketProvider;
  private readonly tls: ISocketProvider;
  private readonly data: Prng;
  private listener: Sock | null = null;
  private userA: RecordingUser | null = null;
  private peer: PeerRun | null = null;
  private peerTask: Promise<void> | null = null;
  private closeRaw: (() => Promise<void>) | null = null;
  private readonly log: string[] = [];
  private calls = 0;
  private predictedThrows = 0;

  constructor(
    private readonly env: StreamEnv,
    private readonly sc: StreamScenario,
  ) {
    this.provider = guardProvider(env.provider());
    this.tls = guardProvider(env.tlsProvider());
    this.data = new Prng(sc.dataSeed);
  }

  // ---- users and sockets -----------------------------------------------------------------

  private newUser(label: string): RecordingUser {
    const u = new RecordingUser(label);
    const mine = (s: ISocket): Sock | undefined => this.bySocket.get(guard(s));
    u.on('socketRecvResult', (s) => {
      const m = mine(s);
      if (m) m.recvPending = false;
    });
    u.on('socketRecvCanceled', (s) => {
      const m = mine(s);
      if (m) m.recvPending = false;
    });
    u.on('socketShutdown', (s) => {
      const m = mine(s);
      if (m) m.recvPending = false;
    });
    u.on('socketSendResult', (s) => {
      const m = mine(s);
      if (m) m.sendResultBytes.push(s.bytesSent);
    });
    this.users.push(u);
    return u;
  }

  private track(role: Role, sock: ISocket, mode: 'client' | 'server', predecessor: Sock | null = null): Sock {
    const g = guard(sock);
    const existing = this.bySocket.get(g);
    if (existing) return existing;
    const m: Sock = {
      role,
      label: `${role}${predecessor ? "'" : ''}`,
      sock: g,
      mode,
      listening: false,
      shutdownCalled: false,
      takenOver: false,
      recvPending: false,
      sends: [],
      sendResultBytes: [],
      predecessor,
      successor: null,
    };
    if (predecessor) predecessor.successor = m;
    this.socks.push(m);
    this.bySocket.set(g, m);
    return m;
  }

  /** The newest socket of a role (after upgrades), if it exists yet. */
  private current(role: Role): Sock | null {
    let m = this.socks.find((s) => s.role === role && !s.predecessor) ?? null;
    while (m?.successor) m = m.successor;
    return m;
  }

  private events(m: Sock): ReturnType<RecordingUser['eventsOf']> {
    const out = this.users.flatMap((u) => u.events.filter((e) => e.socket === m.sock));
    return out.sort((a, b) => a.seq - b.seq);
  }

  private count(m: Sock, name: string): number {
    return this.events(m).filter((e) => e.name === name).length;
  }

  private reason(m: Sock): ShutdownReason | null {
    const e = this.events(m).find((x) => x.name === 'socketShutdown');
    return e ? (e.args[0] as ShutdownReason) : null;
  }

  private delivered(m: Sock): Buffer {
    return Buffer.concat(this.events(m).flatMap((e) => (e.name === 'socketRecvResult' && e.data ? [e.data] : [])));
  }

  private facts(m: Sock): SocketFacts {
    const ready = m.role === 'A' && !m.predecessor ? true : this.count(m, m.predecessor ? 'socketUpgradeToTlsComplete' : 'socketConnectComplete') > 0;
    return {
      transport: m.sock.type as SocketFacts['transport'],
      mode: m.mode,
      listening: m.listening,
      takenOver: m.takenOver,
      shutdownCalled: m.shutdownCalled,
      ended: hasShutDown(m.sock),
      ready,
      recvPending: m.recvPending,
    };
  }

  // ---- setup ---------------------------------------------------------------------------

  async setup(): Promise<void> {
    const { topology } = this.sc;
    const conn = { readAheadBytes: this.sc.readAheadBytes };
    if (topology === 'client-raw') {
      const srv = await rawServer(this.env.kind, this.env.pki);
      this.closeRaw = srv.close;
      this.connectClient(srv.address, conn);
      const side = await srv.first();
      if (side) this.startPeer(side);
      return;
    }
    const address = await this.listen(conn);
    if (topology === 'pair') {
      this.connectClient(address, conn);
      return;
    }
    const side = await rawClient(this.env.kind, this.env.pki, address);
    if (side) this.startPeer(side);
  }

  private startPeer(side: import('./stream-peers').RawSide): void {
    this.peer = new PeerRun(side, this.env.kind !== 'local');
    const bytes = this.sc.peer.steps.reduce((n, s) => n + (s.kind === 'write' ? s.len : 0), 0);
    this.peerTask = this.peer.play(this.sc.peer, new Prng(this.sc.dataSeed ^ 0x5eed).bytes(bytes));
  }

  private connectClient(address: string, extra: SocketOptions): void {
    const sock = this.provider.createSocket(this.newUser('C'), { ...this.env.clientOptions(), ...extra });
    sock.connect(address);
    this.track('C', sock, 'client');
  }

  private async listen(extra: SocketOptions): Promise<string> {
    const userL = this.newUser('L');
    const userA = this.newUser('A');
    this.userA = userA;
    let offered = 0;
    userL.on('socketListenResult', (s) => {
      offered++;
      if (offered > 1) {
        s.accept(null);
        this.problems.push('listener: a second connection was offered; only one was made');
        return;
      }
      const mode = this.sc.accept;
      if (mode === 'accept' || mode === 'twice') s.accept(userA);
      if (mode === 'null') s.accept(null);
      if (mode === 'twice' || mode === 'null') {
        const second = thrown(() => s.accept(mode === 'twice' ? this.newUser('A2') : null));
        if (second !== ALREADY_ACCEPTED) this.problems.push(`a second accept() in socketListenResult threw ${second}, expected ${ALREADY_ACCEPTED}`);
      }
    });
    const sock = this.provider.createSocket(userL, { ...this.env.serverOptions(), ...extra });
    const l = this.track('L', sock, 'server');
    this.listener = l;
    sock.bind(...this.env.bindArgs());
    await userL.waitFor('socketBindResult', 1, RUN_WAIT_MS, sock);
    sock.listen();
    l.listening = true;
    const [addr, port] = userL.eventsOf('socketBindResult', sock)[0].args as [string, number];
    return this.env.connectAddress(addr, port);
  }

  /** The accepted socket, once its user heard of it; null if it never comes. */
  private async accepted(): Promise<Sock | null> {
    const existing = this.current('A');
    if (existing || !this.userA) return existing;
    if (this.sc.accept === 'null' || this.sc.accept === 'silent') return null;
    const u = this.userA;
    await waitUntil(() => u.events.length > 0, 'A', 1000).catch(() => undefined);
    if (u.events.length === 0) return null;
    return this.track('A', u.events[0].socket, 'client');
  }

  // ---- the actions -----------------------------------------------------------------------

  private roles(): Role[] {
    if (this.sc.topology === 'client-raw') return ['C'];
    if (this.sc.topology === 'raw-server') return ['A', 'L'];
    return ['C', 'A', 'L'];
  }

  async act(): Promise<void> {
    const roles = this.roles();
    for (const action of this.sc.actions) {
      await nextTurn();
      const role = roles[action.role % roles.length];
      const m = role === 'A' ? await this.accepted() : this.current(role);
      if (!m) continue;
      const call = action.call;
      if (call.op === 'wait') {
        for (let i = 0; i < call.turns; i++) await nextTurn();
      } else if (call.op === 'waitEvent') {
        const before = this.events(m).length;
        await waitUntil(() => this.events(m).length > before, 'an event', EVENT_WAIT_MS).catch(() => undefined);
      } else if (call.op === 'starttls') {
        await this.starttls(m);
      } else if (call.op === 'old') {
        if (m.predecessor) this.call(m.predecessor, { op: 'send', len: 1, extra: 0, explicitLen: false });
      } else {
        this.call(m, call);
      }
    }
  }

  /** Both ends of a pair upgrade (recvs cancelled first), as a STARTTLS protocol would; elsewhere one upgrade. */
  private async starttls(m: Sock): Promise<void> {
    const ends = this.sc.topology === 'pair' ? [this.current('C'), await this.accepted()] : [m];
    for (const e of ends) if (e?.recvPending) this.call(e, { op: 'recvCancel' });
    await nextTurn();
    for (const e of ends) if (e) this.call(e, { op: 'upgrade', viaTls: true });
  }

  /** Makes one call, compares what it threw with the model, and books its effect. */
  call(m: Sock, call: FuzzCall): void {
    const facts = this.facts(m);
    const expected = predictStream(facts, call);
    const effective = takesEffect(facts);
    let effect: (() => void) | null = null;
    const actual = thrown(() => {
      effect = this.perform(m, call, effective);
    });
    this.calls++;
    this.log.push(`${m.label}.${call.op}${'len' in call ? `(${call.len})` : ''} -> ${actual}`);
    if (actual !== expected) {
      this.problems.push(`${m.label}.${describeCall(call)} threw ${actual}; the model expected ${expected} (facts ${JSON.stringify(facts)})`);
    } else if (actual !== NONE) {
      this.predictedThrows++;
    }
    if (actual === NONE && effect) (effect as () => void)();
    if (m.sock.mode !== m.mode) this.problems.push(`${m.label}: mode is ${m.sock.mode} after ${call.op}, expected ${m.mode}`);
  }

  /** Performs the call; returns what to book if it did not throw. */
  private perform(m: Sock, call: FuzzCall, effective: boolean): (() => void) | null {
    const s = m.sock;
    switch (call.op) {
      case 'connect':
        s.connect('127.0.0.1:1');
        return null;
      case 'bind':
        s.bind('127.0.0.1', call.badPort ? 70000 : 0);
        return null;
      case 'listen':
        s.listen();
        return null;
      case 'accept':
        s.accept(null);
        return null;
      case 'send': {
        const buf = this.data.bytes(call.len + call.extra);
        const copy = Buffer.from(buf.subarray(0, call.len));
        if (call.explicitLen || call.extra > 0) s.send(buf, call.len);
        else s.send(buf);
        buf.fill(0xee); // the caller may reuse its buffer as soon as send() returns
        return () => {
          if (effective) m.sends.push(copy);
        };
      }
      case 'sendTo':
        s.sendTo(Buffer.alloc(call.len, 1), undefined, '127.0.0.1', 9);
        return null;
      case 'recv': {
        const buf = new Uint8Array(call.len + call.extra);
        if (call.omitLen) s.recv(buf, undefined, call.partial);
        else s.recv(buf, call.len, call.partial);
        return () => {
          if (effective) m.recvPending = true;
        };
      }
      case 'recvCancel':
        s.recvCancel();
        return null;
      case 'setUser':
        s.setUser(this.newUser(`${m.label}-u${this.users.length}`));
        return null;
      case 'shutdown':
        s.shutdown();
        return () => {
          if (effective) m.shutdownCalled = true;
          m.recvPending = false;
        };
      case 'upgrade': {
        const user = this.newUser(`${m.label}-tls`);
        const provider = call.viaTls ? this.tls : this.provider;
        const next = provider.upgradeToTls(s, user, this.env.upgradeOptions(m.role === 'A' ? 'A' : 'C'));
        return () => {
          m.takenOver = true;
          m.recvPending = false;
          this.track(m.role, next, 'client', m);
        };
      }
      case 'badSend':
      case 'badRecv':
      case 'badSetUser':
        performBadCall(s, call);
        return null;
    }
  }

  // ---- the end ---------------------------------------------------------------------------

  async finish(): Promise<void> {
    const finales: Array<[Sock, Finale]> = [];
    const c = this.current('C');
    const a = this.current('A') ?? (this.sc.topology !== 'client-raw' ? await this.accepted() : null);
    const peerStays = this.sc.topology !== 'pair' && this.sc.peer.end === 'stay';
    let cFinale = this.sc.finale.C;
    const aFinale = this.sc.finale.A;
    if (this.sc.topology === 'pair' && cFinale === 'drain' && aFinale === 'drain') cFinale = 'shutdown';
    if (c) finales.push([c, peerStays || (!this.peer && this.sc.topology === 'client-raw') ? 'shutdown' : cFinale]);
    if (a) finales.push([a, peerStays || (!this.peer && this.sc.topology === 'raw-server') ? 'shutdown' : aFinale]);
    // A turn first, as between all calls: a call made in the same tick as one that completed
    // meets a socket whose callbacks are posted but not delivered (see docs/reliability.md).
    await nextTurn();
    for (const [m, f] of finales) if (f === 'shutdown') this.call(m, { op: 'shutdown' });
    await Promise.all(finales.filter(([, f]) => f === 'drain').map(([m]) => this.drain(m)));
    const live = (): Sock[] => this.socks.filter((m) => !m.takenOver && m !== this.listener && !hasShutDown(m.sock));
    await waitUntil(() => live().length === 0, 'every connection to end', RUN_WAIT_MS).catch(() => {
      for (const m of live()) this.problems.push(`${m.label} never reported socketShutdown (shutdownCalled=${m.shutdownCalled})`);
    });
    if (this.peerTask) await this.peerTask;
    if (this.listener) {
      await nextTurn();
      this.call(this.listener, { op: 'shutdown' });
      await waitUntil(() => hasShutDown(this.listener!.sock), 'the listener to end', RUN_WAIT_MS).catch(() =>
        this.problems.push('the listener never reported socketShutdown'),
      );
    }
    await nextTurn();
  }

  /** Reads until the socket ends, as an app that wants everything would. */
  private async drain(m: Sock): Promise<void> {
    const deadline = Date.now() + RUN_WAIT_MS;
    while (!hasShutDown(m.sock) && !m.takenOver) {
      if (Date.now() > deadline) return; // finish() reports the socket that never ended
      if (!m.recvPending && !m.shutdownCalled) this.call(m, { op: 'recv', len: 4096, extra: 0, partial: true, omitLen: false });
      await waitUntil(() => hasShutDown(m.sock) || !m.recvPending || m.takenOver, `${m.label} to deliver`, Math.max(1, deadline - Date.now())).catch(
        () => undefined,
      );
      await nextTurn();
    }
  }

  async teardown(): Promise<void> {
    this.peer?.side.stream.destroy();
    if (this.closeRaw) await this.closeRaw();
  }

  // ---- the checks ----------------------------------------------------------------------

  check(tally: FuzzTally): void {
    for (const m of this.socks) this.checkSocket(m);
    if (this.sc.topology === 'pair') {
      const c0 = this.socks.find((m) => m.role === 'C' && !m.predecessor);
      const a0 = this.socks.find((m) => m.role === 'A' && !m.predecessor);
      if (c0 && a0) {
        this.checkPairLevel(c0, a0);
        this.checkPairLevel(a0, c0);
      }
    } else {
      const s0 = this.socks.find((m) => m.role !== 'L' && !m.predecessor);
      if (s0) this.checkRawPeer(s0);
    }
    tally.runs++;
    tally.calls += this.calls;
    tally.thrownAsPredicted += this.predictedThrows;
    for (const m of this.socks) {
      const r = this.reason(m);
      if (r) tally.reasons[r] = (tally.reasons[r] ?? 0) + 1;
      if (r === ShutdownReason.ByPeer && m.role !== 'L') tally.byPeerChecked++;
      if (this.count(m, 'socketUpgradeToTlsComplete') > 0) tally.upgradesCompleted++;
      tally.bytesChecked += this.delivered(m).length + Buffer.concat(m.sends).length;
    }
  }

  private checkSocket(m: Sock): void {
    if (m.takenOver) return;
    const reason = this.reason(m);
    const tlsNow = m.sock.type === 'tls';
    const ok =
      reason === null ||
      PLAUSIBLE.has(reason) ||
      (tlsNow && reason === ShutdownReason.TlsHandshakeFailed) ||
      (m.role === 'A' && reason === ShutdownReason.AcceptFailed) ||
      // A connection that broke (or was refused by a listener already shut down) before it was up.
      (m.role === 'C' &&
        !m.predecessor &&
        this.count(m, 'socketConnectComplete') === 0 &&
        (reason === ShutdownReason.ConnectRejected || reason === ShutdownReason.ConnectFailed));
    if (!ok) this.problems.push(`${m.label}: implausible end ${reason}`);
    if (m.role === 'L') return;
    // One send result per send; each after its bytes were counted.
    const results = m.sendResultBytes.length;
    if (results > m.sends.length) this.problems.push(`${m.label}: ${results} send results for ${m.sends.length} sends`);
    let sum = 0;
    for (let i = 0; i < Math.min(results, m.sends.length); i++) {
      sum += m.sends[i].length;
      if (m.sendResultBytes[i] < sum)
        this.problems.push(`${m.label}: send result #${i + 1} came with bytesSent ${m.sendResultBytes[i]} < ${sum} (out of order?)`);
    }
  }

  /** `s` (a first-generation socket) against its framework peer `p`. */
  private checkPairLevel(s: Sock, p: Sock): void {
    const got = this.delivered(s);
    const sent = Buffer.concat(p.sends);
    const reason = s.takenOver ? null : this.reason(s);
    if (!p.takenOver) {
      if (!isPrefix(got, sent)) this.problems.push(`${s.label} delivered ${got.length} bytes that are not a prefix of the ${sent.length} ${p.label} sent`);
      if (reason === ShutdownReason.ByPeer && !got.equals(sent))
        this.problems.push(`${s.label} ended BY_PEER with ${got.length} of the ${sent.length} bytes ${p.label} sent`);
    } else {
      if (!compatible(got, sent)) this.problems.push(`${s.label} delivered bytes that differ from what ${p.label} sent before its upgrade`);
      if (reason === ShutdownReason.ByPeer && !isPrefix(sent, got))
        this.problems.push(`${s.label} ended BY_PEER without all ${sent.length} bytes ${p.label} sent before its upgrade`);
    }
    const s1 = s.successor;
    if (s1 && this.count(s1, 'socketUpgradeToTlsComplete') > 0 && !got.equals(sent)) {
      this.problems.push(
        `${s1.label} completed its TLS handshake, but ${s.label} had delivered ${got.length} of the ${sent.length} plaintext bytes ${p.label} sent`,
      );
    }
    const p1 = p.successor;
    if (s1 && p1) {
      const got1 = this.delivered(s1);
      const sent1 = Buffer.concat(p1.sends);
      if (!isPrefix(got1, sent1))
        this.problems.push(`${s1.label} delivered ${got1.length} bytes that are not a prefix of the ${sent1.length} ${p1.label} sent`);
      if (this.reason(s1) === ShutdownReason.ByPeer && !got1.equals(sent1))
        this.problems.push(`${s1.label} ended BY_PEER with ${got1.length} of the ${sent1.length} bytes ${p1.label} sent`);
    }
  }

  /** The framework socket `s` against the raw peer. */
  private checkRawPeer(s: Sock): void {
    const peer = this.peer;
    if (!peer) return;
    const end = this.sc.peer.end;
    const got = this.delivered(s);
    const written = peer.allWritten();
    const reason = s.takenOver ? null : this.reason(s);
    if (!isPrefix(got, written)) this.problems.push(`${s.label} delivered ${got.length} bytes that are not a prefix of the ${written.length} the peer wrote`);
    if (reason === ShutdownReason.ByPeer) {
      if (end === 'end' && !got.equals(written))
        this.problems.push(`${s.label} ended BY_PEER with ${got.length} of the ${written.length} bytes the peer wrote before end()`);
      if (got.length < peer.flushed && end === 'destroy')
        this.problems.push(`${s.label} ended BY_PEER with ${got.length} bytes; the peer had handed ${peer.flushed} to the OS`);
    }
    if (reason === ShutdownReason.Lost && (end === 'end' || end === 'stay')) {
      this.problems.push(`${s.label} ended LOST although the peer ${end === 'end' ? 'closed cleanly' : 'never closed'} and did not reset`);
    }
    // No check that a reset ends LOST: on Linux a reset that arrives while received bytes are
    // still unread reads as a clean end of stream, for plain Node sockets too (docs/reliability.md).
    const sent = Buffer.concat(s.sends);
    const heard = peer.received();
    if (!s.takenOver && !isPrefix(heard, sent))
      this.problems.push(`the peer received ${heard.length} bytes that are not a prefix of the ${sent.length} ${s.label} sent`);
    if (s.takenOver && !compatible(heard, sent)) this.problems.push(`the peer received bytes that differ from what ${s.label} sent before its upgrade`);
    if (!s.takenOver && s.shutdownCalled && reason === ShutdownReason.Normal && (end === 'end' || end === 'stay') && peer.done) {
      if (!heard.equals(sent))
        this.problems.push(`${s.label} shut down cleanly, but the reading peer received ${heard.length} of the ${sent.length} bytes sent`);
      if (s.sendResultBytes.length !== s.sends.length)
        this.problems.push(`${s.label} shut down cleanly with ${s.sendResultBytes.length} send results for ${s.sends.length} sends`);
    }
  }

  describe(): string {
    return [`calls: ${this.log.join(', ')}`, ...this.users.filter((u) => u.events.length > 0).map((u) => u.describe(30))].join('\n');
  }
}

function describeCall(call: FuzzCall): string {
  return `${call.op}(${Object.entries(call)
    .filter(([k]) => k !== 'op')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ')})`;
}

function isPrefix(a: Buffer, b: Buffer): boolean {
  return a.length <= b.length && a.equals(b.subarray(0, a.length));
}

function compatible(a: Buffer, b: Buffer): boolean {
  const n = Math.min(a.length, b.length);
  return a.subarray(0, n).equals(b.subarray(0, n));
}

/** Runs one scenario; throws with every problem found (and what happened) if any. */
export async function runStreamScenario(env: StreamEnv, sc: StreamScenario, tally: FuzzTally): Promise<void> {
  const run = new StreamRun(env, sc);
  try {
    await run.setup();
    await run.act();
    await run.finish();
    run.check(tally);
  } catch (e) {
    run.problems.push(`the run threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  } finally {
    await run.teardown();
  }
  const violations = await cleanupAndCheck(RUN_WAIT_MS);
  const problems = [...run.problems, ...violations];
  if (problems.length > 0) throw new Error(`${problems.join('\n')}\n${run.describe()}`);
}
