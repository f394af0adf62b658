/**
 * Model-based fuzzing of UDP sockets: one framework socket, a plain `dgram` peer it talks to
 * and a stranger that also sends to it; random calls on the socket and random datagrams from
 * both. Checked on every run, beyond the model's throws and the recording user's rules: each
 * recv delivers one whole datagram that was sent to the socket (cut to the recv's length), from
 * its real source, in the order each source sent them, never twice; a connected socket hears
 * only its peer; the peer receives the socket's datagrams in order, all of them after a clean
 * shutdown(), with one send result per send.
 */
import fc from 'fast-check';
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketProvider, ShutdownReason } from '../../../lib';
import { nextTurn, pollUntil } from '../../helpers/net-helpers';
import { cleanupAndCheck, guard, guardProvider, hasShutDown, RecordingUser, waitUntil } from '../../helpers/recording-user';
import { thrown } from '../../helpers/stream-harness';
import { closePlainSockets, plainUdp, PlainUdp } from '../../helpers/udp-peers';
import { FuzzCall, NONE, performBadCall, predictUdp, SocketFacts, takesEffect } from './fuzz-model';
import { FuzzTally } from './fuzz-runner';
import { Prng } from './prng';

type UdpCall = FuzzCall | { op: 'wait'; turns: number } | { op: 'waitEvent' } | { op: 'peerSend'; from: 'P' | 'Q'; len: number };

export interface UdpScenario {
  actions: UdpCall[];
  queueLength: number;
  dataSeed: number;
}

const udpCallArb: fc.Arbitrary<UdpCall> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ op: 'connect' as const }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('bind' as const), badPort: fc.boolean() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('send' as const),
      len: fc.integer({ min: 1, max: 1400 }),
      extra: fc.integer({ min: 0, max: 3 }),
      explicitLen: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('sendTo' as const), len: fc.integer({ min: 1, max: 1400 }) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('recv' as const),
      len: fc.integer({ min: 1, max: 1500 }),
      extra: fc.integer({ min: 0, max: 3 }),
      partial: fc.boolean(),
      omitLen: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ op: 'recvCancel' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'setUser' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'shutdown' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'listen' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'accept' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('upgrade' as const), viaTls: fc.boolean() }) },
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
  {
    weight: 8,
    arbitrary: fc.record({ op: fc.constant('peerSend' as const), from: fc.constantFrom('P' as const, 'Q' as const), len: fc.integer({ min: 5, max: 1400 }) }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('wait' as const), turns: fc.integer({ min: 1, max: 10 }) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'waitEvent' as const }) },
);

export function udpScenarioArb(): fc.Arbitrary<UdpScenario> {
  return fc.record({
    actions: fc.array(udpCallArb, { minLength: 1, maxLength: 16 }),
    queueLength: fc.oneof(fc.constant(1024), fc.integer({ min: 1, max: 3 })),
    dataSeed: fc.integer({ min: 1, max: 0x7fffffff }),
  });
}

const WAIT_MS = 5000;
const TAG = { P: 0x50, Q: 0x51 } as const;

class UdpRun {
  readonly problems: string[] = [];
  private readonly users: RecordingUser[] = [];
  private readonly provider: ISocketProvider = guardProvider(createUdpSocketProvider());
  private readonly tls: ISocketProvider = guardProvider(createTlsSocketProvider());
  private readonly data: Prng;
  private sock!: ISocket;
  private peers!: Record<'P' | 'Q', PlainUdp>;
  private mode: 'none' | 'client' | 'server' = 'none';
  private shutdownCalled = false;
  private recvPending = false;
  /** listen() was accepted: the socket is a datagram listener. */
  private listening = false;
  /** The asked length of the pending recv, and of each recv that completed, in order. */
  private pendingLen = 0;
  private readonly resultLens: number[] = [];
  private readonly sends: Buffer[] = [];
  /** Datagrams each source sent to the socket, by sequence number. */
  private readonly sentTo: Record<'P' | 'Q', Buffer[]> = { P: [], Q: [] };
  private readonly log: string[] = [];
  private calls = 0;
  private predictedThrows = 0;

  constructor(private readonly sc: UdpScenario) {
    this.data = new Prng(sc.dataSeed);
  }

  private newUser(label: string): RecordingUser {
    const u = new RecordingUser(label);
    const clear = (): void => {
      this.recvPending = false;
    };
    u.on('socketRecvFromResult', () => {
      this.resultLens.push(this.pendingLen);
      clear();
    });
    u.on('socketRecvCanceled', clear).on('socketShutdown', clear);
    this.users.push(u);
    return u;
  }

  private events(): ReturnType<RecordingUser['eventsOf']> {
    const g = guard(this.sock);
    return this.users.flatMap((u) => u.events.filter((e) => e.socket === g)).sort((a, b) => a.seq - b.seq);
  }

  async setup(): Promise<void> {
    this.peers = { P: await plainUdp(), Q: await plainUdp() };
    this.sock = this.provider.createSocket(this.newUser('U'), { datagramQueueLength: this.sc.queueLength });
  }

  private facts(): SocketFacts {
    const names = this.events().map((e) => e.name);
    return {
      transport: 'udp',
      mode: this.mode,
      listening: this.listening,
      takenOver: false,
      shutdownCalled: this.shutdownCalled,
      ended: hasShutDown(this.sock),
      ready: names.includes('socketBindResult') || names.includes('socketConnectComplete'),
      recvPending: this.recvPending,
    };
  }

  async act(): Promise<void> {
    for (const call of this.sc.actions) {
      await nextTurn();
      if (call.op === 'wait') {
        for (let i = 0; i < call.turns; i++) await nextTurn();
      } else if (call.op === 'waitEvent') {
        const before = this.events().length;
        await waitUntil(() => this.events().length > before, 'an event', 40).catch(() => undefined);
      } else if (call.op === 'peerSend') {
        const port = this.sock.getLocalAddress()?.port;
        if (!port || hasShutDown(this.sock)) continue;
        const list = this.sentTo[call.from];
        const d = Buffer.concat([Buffer.from([TAG[call.from]]), u32(list.length), this.data.bytes(call.len - 5)]);
        list.push(d);
        await this.peers[call.from].send(d, port);
      } else {
        this.call(call);
      }
    }
  }

  call(call: FuzzCall): void {
    const facts = this.facts();
    const expected = predictUdp(facts, call);
    const effective = takesEffect(facts);
    let effect: (() => void) | null = null;
    const actual = thrown(() => {
      effect = this.perform(call, effective);
    });
    this.calls++;
    this.log.push(`U.${call.op} -> ${actual}`);
    if (actual !== expected)
      this.problems.push(`U.${call.op}(${JSON.stringify(call)}) threw ${actual}; the model expected ${expected} (facts ${JSON.stringify(facts)})`);
    else if (actual !== NONE) this.predictedThrows++;
    if (actual === NONE && effect) (effect as () => void)();
    if (this.sock.mode !== this.mode) this.problems.push(`U: mode is ${this.sock.mode} after ${call.op}, expected ${this.mode}`);
  }

  private perform(call: FuzzCall, effective: boolean): (() => void) | null {
    const s = this.sock;
    switch (call.op) {
      case 'connect':
        s.connect(`127.0.0.1:${this.peers.P.port}`);
        return () => (this.mode = 'client');
      case 'bind':
        s.bind('127.0.0.1', call.badPort ? 70000 : 0);
        return () => (this.mode = 'server');
      case 'listen':
        s.listen();
        return () => {
          if (effective) this.listening = true;
        };
      case 'accept':
        s.accept(null);
        return null;
      case 'send':
      case 'sendTo': {
        const buf = this.data.bytes(call.len + (call.op === 'send' ? call.extra : 0));
        const copy = Buffer.from(buf.subarray(0, call.len));
        if (call.op === 'sendTo') s.sendTo(buf, undefined, '127.0.0.1', this.peers.P.port);
        else if (call.explicitLen || call.extra > 0) s.send(buf, call.len);
        else s.send(buf);
        buf.fill(0xee);
        return () => {
          if (!effective) return;
          this.sends.push(copy);
          if (this.mode === 'none') this.mode = 'server'; // the implicit bind of a first sendTo
        };
      }
      case 'recv': {
        const buf = new Uint8Array(call.len + call.extra);
        const len = call.omitLen ? buf.byteLength : call.len;
        s.recv(buf, call.omitLen ? undefined : call.len, call.partial);
        return () => {
          if (!effective) return;
          this.recvPending = true;
          this.pendingLen = len;
        };
      }
      case 'recvCancel':
        s.recvCancel();
        return null;
      case 'setUser':
        s.setUser(this.newUser(`U-u${this.users.length}`));
        return null;
      case 'shutdown':
        s.shutdown();
        return () => {
          if (effective) this.shutdownCalled = true;
          this.recvPending = false;
        };
      case 'upgrade':
        (call.viaTls ? this.tls : this.provider).upgradeToTls(s, this.newUser('U-dtls'), {});
        return null;
      case 'badSend':
      case 'badRecv':
      case 'badSetUser':
        performBadCall(s, call);
        return null;
    }
  }

  async finish(): Promise<void> {
    await nextTurn();
    this.call({ op: 'shutdown' });
    await waitUntil(() => hasShutDown(this.sock), 'U to end', WAIT_MS).catch(() => this.problems.push('U never reported socketShutdown'));
    // The datagrams the socket sent are on their way to the peer: wait for them (bounded).
    const local = this.localPort;
    await pollUntil(() => this.fromSocket(local).length >= this.sends.length, 'the peer to receive every datagram', 1000).catch(() => undefined);
  }

  private localPort: number | undefined;

  /** What the peer received from the socket's port. */
  private fromSocket(port: number | undefined): Buffer[] {
    return this.peers.P.messages.filter((m) => m.port === port).map((m) => m.data);
  }

  check(tally: FuzzTally): void {
    const events = this.events();
    const reason = events.find((e) => e.name === 'socketShutdown')?.args[0] as ShutdownReason | undefined;
    if (reason !== ShutdownReason.Normal) this.problems.push(`U ended ${String(reason)}, expected NORMAL (only shutdown() ends a UDP socket here)`);
    const results = events.filter((e) => e.name === 'socketRecvFromResult');
    const lastSeq = { P: -1, Q: -1 };
    results.forEach((e, i) => {
      const [, n, addr, port] = e.args as [Uint8Array, number, string, number];
      const data = e.data ?? Buffer.alloc(0);
      const from = port === this.peers.P.port ? 'P' : port === this.peers.Q.port ? 'Q' : null;
      if (addr !== '127.0.0.1' || !from) {
        this.problems.push(`recv #${i + 1} reports source ${addr}:${port}, neither peer`);
        return;
      }
      if (from === 'Q' && this.mode === 'client') this.problems.push('a connected socket delivered a datagram from a stranger');
      // Which of the source's datagrams this is: the next one (in send order) it is the front
      // of — a datagram cut to fewer bytes than its header is told by its bytes alone.
      const asked = this.resultLens[i] ?? -1;
      const sent = this.sentTo[from];
      let seq = -1;
      for (let j = lastSeq[from] + 1; j < sent.length && seq < 0; j++) {
        if (n === Math.min(asked, sent[j].length) && data.equals(sent[j].subarray(0, n))) seq = j;
      }
      if (seq < 0) {
        this.problems.push(
          `recv #${i + 1} (len ${asked}) delivered ${n} bytes from ${from} that are not the front of any datagram ${from} sent after #${lastSeq[from]} (${data.subarray(0, 8).toString('hex')}…)`,
        );
        return;
      }
      lastSeq[from] = seq;
    });
    const got = this.fromSocket(this.localPort);
    got.forEach((d, i) => {
      if (!this.sends[i] || !d.equals(this.sends[i])) this.problems.push(`the peer's datagram #${i + 1} from the socket is not its send #${i + 1}`);
    });
    const sendResults = events.filter((e) => e.name === 'socketSendResult').length;
    if (sendResults > this.sends.length) this.problems.push(`${sendResults} send results for ${this.sends.length} sends`);
    if (this.shutdownCalled && reason === ShutdownReason.Normal) {
      if (sendResults !== this.sends.length) this.problems.push(`shut down cleanly with ${sendResults} send results for ${this.sends.length} sends`);
      if (got.length !== this.sends.length) this.problems.push(`the peer received ${got.length} of the ${this.sends.length} datagrams sent`);
    }
    const offered = this.sentTo.P.length + this.sentTo.Q.length;
    const dropped = this.sock.droppedDatagrams ?? 0;
    if (dropped > offered) this.problems.push(`${dropped} datagrams counted as dropped, ${offered} were sent to the socket`);
    tally.runs++;
    tally.calls += this.calls;
    tally.thrownAsPredicted += this.predictedThrows;
    tally.bytesChecked += results.reduce((n, e) => n + (e.data?.length ?? 0), 0) + got.reduce((n, d) => n + d.length, 0);
    if (reason) tally.reasons[reason] = (tally.reasons[reason] ?? 0) + 1;
  }

  /** Remembers the socket's port while it has one (it is gone once the socket closes). */
  notePort(): void {
    this.localPort ??= this.sock.getLocalAddress()?.port;
  }

  describe(): string {
    return [`calls: ${this.log.join(', ')}`, ...this.users.filter((u) => u.events.length > 0).map((u) => u.describe(30))].join('\n');
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export async function runUdpScenario(sc: UdpScenario, tally: FuzzTally): Promise<void> {
  const run = new UdpRun(sc);
  try {
    await run.setup();
    const watch = setInterval(() => run.notePort(), 1);
    try {
      await run.act();
      run.notePort();
      await run.finish();
    } finally {
      clearInterval(watch);
    }
    run.check(tally);
  } catch (e) {
    run.problems.push(`the run threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  } finally {
    closePlainSockets();
  }
  const violations = await cleanupAndCheck(WAIT_MS);
  const problems = [...run.problems, ...violations];
  if (problems.length > 0) throw new Error(`${problems.join('\n')}\n${run.describe()}`);
}
