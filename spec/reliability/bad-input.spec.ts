/**
 * The bad-input table (issue #7, item 5): malformed addresses, ports, paths, lengths, buffer
 * types and misused users and callbacks, on TCP, TLS, local and UDP sockets. Each gets the exact
 * outcome CONTRACT.md and docs/errors.md give — a throw (TypeError, RangeError or
 * SocketStateError with its code) that changes nothing, or a socketShutdown with the reason —
 * and nothing else is harmed: a socket that threw still works, and a witness connection made
 * before each test is checked after it.
 *
 * Connect addresses: spec/helpers/address-cases.ts (already run on TCP and UDP by their specs)
 * is run here for TLS; further forms (helpers/bad-inputs.ts) on all three.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createLocalSocketProvider,
  createTcpSocketProvider,
  createTlsSocketProvider,
  createUdpSocketProvider,
  ISocket,
  ISocketProvider,
  QosTrafficType,
  ShutdownReason,
  SocketErrorCode,
  SocketOptions,
  USocket,
} from '../../lib';
import { MALFORMED_CONNECT_ADDRESSES } from '../helpers/address-cases';
import { randomBytes, tempPath } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { thrown } from '../helpers/stream-harness';
import { clientContext, loadPki, serverContext, TestPki } from '../helpers/tls-fixture';
import { BAD_BUFFERS, BAD_LENGTHS, BAD_PORTS, MALFORMED_BIND_ADDRESSES, MORE_MALFORMED_CONNECT_ADDRESSES, NOT_USERS } from './helpers/bad-inputs';
import { streamWitness, udpWitness, Witness } from './helpers/witness';

type Kind = 'tcp' | 'tls' | 'local' | 'udp';
const WAIT = 10_000;
const AI = `shutdown:${ShutdownReason.AddressInvalid}`;
const err = (code: SocketErrorCode): string => `SocketStateError:${code}`;

const pki = loadPki();

/** What a case can use: the transport's providers and options, fresh sockets, a connected victim. */
class Ctx {
  readonly provider: ISocketProvider;
  readonly raw: ISocketProvider;
  private readonly paths: string[] = [];

  constructor(
    readonly kind: Kind,
    readonly pki: TestPki,
    readonly witness: Witness,
  ) {
    this.raw =
      kind === 'tcp'
        ? createTcpSocketProvider()
        : kind === 'tls'
          ? createTlsSocketProvider()
          : kind === 'local'
            ? createLocalSocketProvider()
            : createUdpSocketProvider();
    this.provider = guardProvider(this.raw);
  }

  serverOptions(): SocketOptions {
    return this.kind === 'tls' ? { context: serverContext(this.pki) } : {};
  }

  clientOptions(): SocketOptions {
    return this.kind === 'tls' ? { context: clientContext(this.pki) } : {};
  }

  path(prefix = 'sp-bad'): string {
    const p = tempPath(prefix);
    this.paths.push(p);
    return p;
  }

  fresh(options: SocketOptions = {}, label = 'fresh'): { s: ISocket; u: RecordingUser } {
    const u = new RecordingUser(label);
    return { s: this.provider.createSocket(u, { ...this.clientOptions(), ...options }), u };
  }

  /** `shutdown:<reason>` once the socket ended; the reason's callback must be the only one. */
  async ends(s: ISocket, u: RecordingUser): Promise<string> {
    const reason = await u.waitForShutdown(s, WAIT);
    const names = u.names(s);
    return names.length === 1 ? `shutdown:${reason}` : `shutdown:${reason} after ${names.slice(0, -1).join(',')}`;
  }

  /** A connected socket (to the witness's echo listener, or the UDP echo peer). */
  async victim(): Promise<{ s: ISocket; u: RecordingUser }> {
    const { s, u } = this.fresh({}, 'victim');
    s.connect(this.witness.address);
    await u.waitFor('socketConnectComplete', 1, WAIT, s);
    return { s, u };
  }

  /** Echoes fresh bytes through `s`: 'works' if exactly those come back. */
  async works(s: ISocket, u: RecordingUser): Promise<string> {
    const data = randomBytes(16);
    const before = u.receivedLength(s);
    const results = u.count('socketRecvResult', s) + u.count('socketRecvFromResult', s);
    s.send(data);
    s.recv(new Uint8Array(16), 16, false);
    await u.waitUntil(() => u.count('socketRecvResult', s) + u.count('socketRecvFromResult', s) > results, 'the echo', WAIT);
    const got = this.kind === 'udp' ? (u.eventsOf('socketRecvFromResult', s).at(-1)?.data ?? Buffer.alloc(0)) : u.received(s).subarray(before);
    return got.equals(data) ? 'works' : `broken (got ${got.toString('hex')}, sent ${data.toString('hex')})`;
  }

  removeLater(p: string): void {
    this.paths.push(p);
  }

  cleanup(): void {
    for (const p of this.paths) fs.rmSync(p, { force: true, recursive: true });
    this.paths.length = 0;
  }
}

interface Case {
  name: string;
  expected: string;
  run(ctx: Ctx): Promise<string>;
}

const ipKinds: Kind[] = ['tcp', 'tls', 'udp'];

/** A throwing call on a fresh socket: what it threw, and that the socket is still mode-less. */
function onFresh(name: string, expected: string, call: (s: ISocket, ctx: Ctx) => void, options: (ctx: Ctx) => SocketOptions = () => ({})): Case {
  return {
    name,
    expected: `${expected}|mode=none`,
    run: async (ctx) => {
      const { s } = ctx.fresh(options(ctx));
      return `${thrown(() => call(s, ctx))}|mode=${s.mode}`;
    },
  };
}

/** A throwing call on a connected socket: what it threw, and that the socket still echoes. */
function onVictim(name: string, expected: string, call: (s: ISocket, ctx: Ctx) => void): Case {
  return {
    name,
    expected: `${expected}|works`,
    run: async (ctx) => {
      const { s, u } = await ctx.victim();
      const t = thrown(() => call(s, ctx));
      return `${t}|${await ctx.works(s, u)}`;
    },
  };
}

const anyArg = <T>(v: unknown): T => v as T;

function connectCases(kind: Kind): Case[] {
  const out: Case[] = [];
  const addressCase = ([address, ipv6]: [string, boolean]): Case => ({
    name: `connect(${JSON.stringify(address).slice(0, 40)}) with ipv6=${ipv6}`,
    expected: AI,
    run: async (ctx) => {
      const { s, u } = ctx.fresh({ ipv6 });
      s.connect(address);
      return ctx.ends(s, u);
    },
  });
  if (kind === 'tls') out.push(...MALFORMED_CONNECT_ADDRESSES.map(addressCase));
  if (ipKinds.includes(kind)) out.push(...MORE_MALFORMED_CONNECT_ADDRESSES.map(addressCase));
  for (const [label, value] of [
    ['42', 42],
    ['null', null],
    ['undefined', undefined],
    ['{}', {}],
    ['an array', ['127.0.0.1:80']],
  ] as const) {
    out.push(onFresh(`connect(${label}) throws`, 'TypeError', (s) => s.connect(anyArg(value))));
  }
  if (kind !== 'udp')
    out.push(onFresh('connect(address, 42): a serverName that is not a string throws', 'TypeError', (s, ctx) => s.connect(ctx.witness.address, anyArg(42))));
  return out;
}

function localPathCases(): Case[] {
  const bindAt = (name: string, expected: string, where: (ctx: Ctx) => string): Case => ({
    name,
    expected,
    run: async (ctx) => {
      const { s, u } = ctx.fresh({}, 'listener');
      s.bind(where(ctx));
      const reason = await Promise.race([
        u.waitForShutdown(s, WAIT).then((r) => `shutdown:${r}`),
        u.waitFor('socketBindResult', 1, WAIT, s).then(() => 'bound'),
      ]);
      return reason;
    },
  });
  const connectTo = (name: string, expected: string, where: (ctx: Ctx) => string): Case => ({
    name,
    expected,
    run: async (ctx) => {
      const { s, u } = ctx.fresh();
      s.connect(where(ctx));
      return ctx.ends(s, u);
    },
  });
  /** A path under os.tmpdir() of exactly `bytes` bytes. */
  const ofLength = (ctx: Ctx, bytes: number): string => {
    const base = ctx.path('sp-len');
    const p = base.slice(0, -5) + 'x'.repeat(Math.max(0, bytes - base.length)) + '.sock';
    ctx.removeLater(p);
    return p;
  };
  return [
    connectTo('connect(""): an empty path', AI, () => ''),
    connectTo('connect of a path of 108 bytes (one beyond the limit)', AI, (ctx) => ofLength(ctx, 108)),
    connectTo('connect of a named pipe on Linux', AI, () => '\\\\.\\pipe\\sp-bad'),
    connectTo('connect("\\0"): an empty abstract name', AI, () => '\0'),
    connectTo('connect of an abstract name of 108 bytes', AI, () => `\0${'a'.repeat(108)}`),
    connectTo('connect into a directory that does not exist', `shutdown:${ShutdownReason.ConnectFailed}`, () =>
      path.join(os.tmpdir(), `sp-no-dir-${process.pid}`, 'x.sock'),
    ),
    connectTo('connect to a relative path where nothing is', `shutdown:${ShutdownReason.ConnectFailed}`, (ctx) =>
      path.relative(process.cwd(), ctx.path('sp-rel-missing')),
    ),
    connectTo('connect to a regular file', `shutdown:${ShutdownReason.ConnectRejected}`, (ctx) => {
      const p = ctx.path('sp-file');
      fs.writeFileSync(p, 'not a socket');
      return p;
    }),
    bindAt('bind of a path of 107 bytes (the limit) works', 'bound', (ctx) => ofLength(ctx, 107)),
    bindAt('bind of a path of 108 bytes', AI, (ctx) => ofLength(ctx, 108)),
    bindAt('bind of a named pipe on Linux', AI, () => '\\\\.\\pipe\\sp-bad'),
    bindAt('bind("\\0"): an empty abstract name', AI, () => '\0'),
    bindAt('bind of an abstract name of 108 bytes', AI, () => `\0${'a'.repeat(108)}`),
    bindAt('bind into a directory that does not exist', `shutdown:${ShutdownReason.BindFailed}`, () =>
      path.join(os.tmpdir(), `sp-no-dir-${process.pid}`, 'x.sock'),
    ),
    bindAt('bind on an existing directory: never removed', `shutdown:${ShutdownReason.BindFailed}`, (ctx) => {
      const p = ctx.path('sp-dir');
      fs.mkdirSync(p);
      return p;
    }),
    bindAt('bind on a regular file: never removed', `shutdown:${ShutdownReason.BindFailed}`, (ctx) => {
      const p = ctx.path('sp-file');
      fs.writeFileSync(p, 'keep me');
      return p;
    }),
    {
      name: 'bind and connect with a relative path: reported as written, reachable by its absolute path',
      expected: 'bound as written|connected by relative and absolute path',
      run: async (ctx) => {
        const abs = ctx.path('sp-rel');
        const rel = path.relative(process.cwd(), abs);
        const { s, u } = ctx.fresh({}, 'listener');
        u.on('socketListenResult', (l) => l.accept(new RecordingUser('conn')));
        s.bind(rel);
        await u.waitFor('socketBindResult', 1, WAIT, s);
        s.listen();
        const asWritten =
          u.eventsOf('socketBindResult', s)[0].args[0] === rel ? 'bound as written' : `bound as ${String(u.eventsOf('socketBindResult', s)[0].args[0])}`;
        const connected: string[] = [];
        for (const where of [rel, abs]) {
          const c = ctx.fresh({}, 'client');
          c.s.connect(where);
          await c.u.waitFor('socketConnectComplete', 1, WAIT, c.s);
          connected.push(where === rel ? 'relative' : 'absolute');
        }
        const isFile = fs.lstatSync(abs).isSocket();
        return `${asWritten}|connected by ${connected.join(' and ')} path${isFile ? '' : ' (no socket file!)'}`;
      },
    },
  ];
}

function bindCases(kind: Kind): Case[] {
  const out: Case[] = [];
  const server = (ctx: Ctx): SocketOptions => ctx.serverOptions();
  const bindArgs = (ctx: Ctx): string => (kind === 'local' ? ctx.path() : '127.0.0.1');
  if (ipKinds.includes(kind)) {
    for (const [host, ipv6] of MALFORMED_BIND_ADDRESSES) {
      out.push({
        name: `bind(${JSON.stringify(host)}, 0) with ipv6=${ipv6}`,
        expected: AI,
        run: async (ctx) => {
          const { s, u } = ctx.fresh({ ...ctx.serverOptions(), ipv6 });
          s.bind(host, 0);
          return ctx.ends(s, u);
        },
      });
    }
    out.push({
      name: 'bind to an address of no local interface (192.0.2.1)',
      expected: `shutdown:${ShutdownReason.BindFailed}`,
      run: async (ctx) => {
        const { s, u } = ctx.fresh(ctx.serverOptions());
        s.bind('192.0.2.1', 0);
        return ctx.ends(s, u);
      },
    });
  }
  for (const [label, port, error] of BAD_PORTS)
    out.push(onFresh(`bind(address, ${label}) throws`, error, (s, ctx) => s.bind(bindArgs(ctx), anyArg(port)), server));
  for (const [label, value] of [
    ['42', 42],
    ['{}', {}],
    ['an array', ['127.0.0.1']],
  ] as const) {
    out.push(onFresh(`bind(${label}, 0) throws`, 'TypeError', (s) => s.bind(anyArg(value), 0), server));
  }
  out.push(onFresh('bind(address, 0, 1): a reuseAddr that is not a boolean throws', 'TypeError', (s, ctx) => s.bind(bindArgs(ctx), 0, anyArg(1)), server));
  return out;
}

function lengthAndBufferCases(): Case[] {
  const out: Case[] = [];
  for (const [label, len, error] of BAD_LENGTHS) {
    out.push(onVictim(`send(16-byte buffer, ${label}) throws`, error, (s) => s.send(Buffer.alloc(16), anyArg(len))));
    out.push(onVictim(`recv(16-byte buffer, ${label}) throws`, error, (s) => s.recv(new Uint8Array(16), anyArg(len), true)));
  }
  for (const [label, make, error] of BAD_BUFFERS) {
    out.push(onVictim(`send(${label}) throws`, error, (s) => s.send(anyArg(make()))));
    out.push(onVictim(`recv(${label}) throws`, error, (s) => s.recv(anyArg(make()))));
  }
  out.push({
    name: 'send(a Buffer view at an offset, len) sends exactly that view',
    expected: 'none|works',
    run: async (ctx) => {
      const { s, u } = await ctx.victim();
      const whole = Buffer.from('xxhello, worldyy');
      const t = thrown(() => s.send(whole.subarray(2, 14), 5)); // "hello"
      s.recv(new Uint8Array(5), 5, false);
      await u.waitUntil(() => u.count('socketRecvResult', s) + u.count('socketRecvFromResult', s) > 0, 'the echo', WAIT);
      const got = (ctx.kind === 'udp' ? u.eventsOf('socketRecvFromResult', s)[0].data : u.received(s))?.toString();
      return `${t}|${got === 'hello' ? await ctx.works(s, u) : `echo was ${got}`}`;
    },
  });
  return out;
}

function sendToCases(kind: Kind): Case[] {
  if (kind !== 'udp') {
    return [onVictim('sendTo() on a stream socket does nothing (nothing is sent)', 'none', (s) => s.sendTo(Buffer.from('stray'), undefined, '127.0.0.1', 9))];
  }
  const bound = (name: string, expected: string, call: (s: ISocket, echoPort: number) => void): Case => ({
    name,
    expected: `${expected}|works`,
    run: async (ctx) => {
      const { s, u } = ctx.fresh({}, 'bound');
      s.bind('127.0.0.1', 0);
      await u.waitFor('socketBindResult', 1, WAIT, s);
      const echoPort = Number(ctx.witness.address.split(':')[1]);
      const t = thrown(() => call(s, echoPort));
      // Still works: one datagram to the echo peer comes back.
      const data = randomBytes(16);
      s.sendTo(data, undefined, '127.0.0.1', echoPort);
      s.recv(new Uint8Array(16));
      await u.waitFor('socketRecvFromResult', 1, WAIT, s);
      return `${t}|${u.eventsOf('socketRecvFromResult', s)[0].data?.equals(data) ? 'works' : 'broken'}`;
    },
  });
  const d = Buffer.from('datagram');
  return [
    bound('sendTo(data, undefined, 42, port) throws', 'TypeError', (s, p) => s.sendTo(d, undefined, anyArg(42), p)),
    bound('sendTo(data, undefined, undefined, port) throws', 'TypeError', (s, p) => s.sendTo(d, undefined, anyArg(undefined), p)),
    bound("sendTo(data, undefined, '127.0.0.1', NaN) throws", 'RangeError', (s) => s.sendTo(d, undefined, '127.0.0.1', NaN)),
    bound("sendTo(data, undefined, '127.0.0.1', Infinity) throws", 'RangeError', (s) => s.sendTo(d, undefined, '127.0.0.1', Infinity)),
    bound("sendTo(data, undefined, '127.0.0.1', 65536) throws", 'RangeError', (s) => s.sendTo(d, undefined, '127.0.0.1', 65536)),
    bound("sendTo(data, undefined, '127.0.0.1', '80') throws", 'TypeError', (s) => s.sendTo(d, undefined, '127.0.0.1', anyArg('80'))),
    bound("sendTo(data, undefined, '127.0.0.1', null) throws", 'TypeError', (s) => s.sendTo(d, undefined, '127.0.0.1', anyArg(null))),
    bound("sendTo(data, '4', '127.0.0.1', port) throws", 'TypeError', (s, p) => s.sendTo(d, anyArg('4'), '127.0.0.1', p)),
    bound("sendTo('text', undefined, '127.0.0.1', port) throws", 'TypeError', (s, p) => s.sendTo(anyArg('text'), undefined, '127.0.0.1', p)),
  ];
}

function createSocketCases(kind: Kind): Case[] {
  const out: Case[] = [];
  const create = (name: string, expected: string, user: unknown, options: unknown): Case => ({
    name,
    expected,
    run: async (ctx) => thrown(() => ctx.provider.createSocket(anyArg<USocket>(user), anyArg(options))),
  });
  for (const [label, user] of NOT_USERS) out.push(create(`createSocket(${label}) throws`, 'TypeError', user, undefined));
  for (const [label, options] of [
    ['null', null],
    ["'x'", 'x'],
    ['42', 42],
  ] as const) {
    out.push(create(`createSocket(user, ${label}) throws`, 'TypeError', new RecordingUser('never'), options));
  }
  const bad: Array<[string, unknown, string]> =
    kind === 'udp'
      ? [
          ['datagramQueueLength', 0, 'RangeError'],
          ['recvBufferSize', 1.5, 'RangeError'],
          ['sendBufferSize', -1, 'RangeError'],
          ['shutdownTimeoutMs', -1, 'RangeError'],
          ['multicastGroups', '239.1.1.1', 'TypeError'],
        ]
      : [
          ['readAheadBytes', 0, 'RangeError'],
          ['readAheadBytes', '1', 'RangeError'],
          ['backlog', 0, 'RangeError'],
          ['connectTimeoutMs', -1, 'RangeError'],
          ['shutdownTimeoutMs', NaN, 'RangeError'],
          ['handshakeTimeoutMs', 1.5, 'RangeError'],
          ['maxConnections', -1, 'RangeError'],
          ...(kind === 'local'
            ? ([
                ['fileMode', 0o1000, 'RangeError'],
                ['fileMode', -1, 'RangeError'],
              ] as Array<[string, unknown, string]>)
            : []),
          ...(kind === 'tls' ? ([['context', {}, 'TypeError']] as Array<[string, unknown, string]>) : []),
        ];
  for (const [option, value, error] of bad)
    out.push(
      create(`createSocket(user, { ${option}: ${JSON.stringify(value) ?? String(value)} }) throws`, error, new RecordingUser('never'), { [option]: value }),
    );
  return out;
}

function misuseCases(kind: Kind): Case[] {
  const out: Case[] = [];
  for (const [label, user] of NOT_USERS)
    out.push(onVictim(`setUser(${label}) throws; callbacks still go to the old user`, 'TypeError', (s) => s.setUser(anyArg(user))));
  out.push(onVictim("setQoS('QOS_NONSENSE') throws", 'TypeError', (s) => s.setQoS(anyArg<QosTrafficType>('QOS_NONSENSE'))));
  out.push(onVictim('setQoS(undefined) throws', 'TypeError', (s) => s.setQoS(anyArg(undefined))));
  out.push({
    name: 'a second recv() while one is pending throws; the first is cancelled as usual',
    expected: `${err(SocketErrorCode.RecvPending)}|canceled|works`,
    run: async (ctx) => {
      const { s, u } = await ctx.victim();
      const first = new Uint8Array(16);
      s.recv(first, 16, false);
      const t = thrown(() => s.recv(new Uint8Array(16), 16, false));
      s.recvCancel();
      await u.waitFor('socketRecvCanceled', 1, WAIT, s);
      const canceled = u.eventsOf('socketRecvCanceled', s)[0].args[0] === first ? 'canceled' : 'another buffer canceled';
      return `${t}|${canceled}|${await ctx.works(s, u)}`;
    },
  });
  if (kind === 'tcp' || kind === 'local') {
    const tls = guardProvider(createTlsSocketProvider());
    out.push(onVictim('upgradeToTls(socket, null) throws and leaves the socket as it was', 'TypeError', (s) => tls.upgradeToTls(s, anyArg(null))));
    out.push(
      onVictim('upgradeToTls(socket, user, null) throws and leaves the socket as it was', 'TypeError', (s) =>
        tls.upgradeToTls(s, new RecordingUser('never'), anyArg(null)),
      ),
    );
    out.push(
      onVictim('upgradeToTls(socket, user, { handshakeTimeoutMs: -1 }) throws and leaves the socket as it was', 'RangeError', (s) =>
        tls.upgradeToTls(s, new RecordingUser('never'), { handshakeTimeoutMs: -1 }),
      ),
    );
  }
  out.push({
    name: 'upgradeToTls of something that is not a socket throws',
    expected: 'TypeError',
    run: async () => thrown(() => createTlsSocketProvider().upgradeToTls(anyArg({ send() {} }), new RecordingUser('never'))),
  });
  out.push({
    name: 'calls made inside socketShutdown: I/O is ignored, the mode lock still throws',
    expected: `none,none,none,none,${err(SocketErrorCode.AlreadyConnected)}`,
    run: async (ctx) => {
      const { s, u } = await ctx.victim();
      let seen = '';
      u.on('socketShutdown', (sock) => {
        seen = [
          () => sock.send(Buffer.from('late')),
          () => sock.recv(new Uint8Array(4)),
          () => sock.recvCancel(),
          () => sock.shutdown(),
          () => sock.connect(ctx.witness.address),
        ]
          .map((f) => thrown(f))
          .join(',');
      });
      s.shutdown();
      await u.waitForShutdown(s, WAIT);
      return seen;
    },
  });
  if (kind !== 'udp') {
    out.push({
      name: 'accept() with a non-user inside socketListenResult throws; that connection is denied, the next one served',
      expected: 'TypeError|denied|next served',
      run: async (ctx) => {
        const { s: l, u: lu } = ctx.fresh(ctx.serverOptions(), 'listener');
        const results: string[] = [];
        lu.on('socketListenResult', (sock) => {
          if (results.length === 0) results.push(thrown(() => sock.accept(anyArg({ socketShutdown: 'no' }))));
          else sock.accept(new RecordingUser('served', { autoRecv: 1024, echo: true }));
        });
        l.bind(kind === 'local' ? ctx.path() : '127.0.0.1', 0);
        await lu.waitFor('socketBindResult', 1, WAIT, l);
        l.listen();
        const [addr, port] = lu.eventsOf('socketBindResult', l)[0].args as [string, number];
        const address = kind === 'local' ? addr : `127.0.0.1:${port}`;
        const first = ctx.fresh({}, 'first');
        first.s.connect(address);
        const firstEnd = await first.u.waitForShutdown(first.s, WAIT);
        const denied = [ShutdownReason.ByPeer, ShutdownReason.Lost, ShutdownReason.TlsHandshakeFailed].includes(firstEnd)
          ? 'denied'
          : `first ended ${firstEnd}`;
        const next = ctx.fresh({}, 'next');
        next.s.connect(address);
        await next.u.waitFor('socketConnectComplete', 1, WAIT, next.s);
        const works = await ctx.works(next.s, next.u);
        return `${results[0]}|${denied}|${works === 'works' ? 'next served' : works}`;
      },
    });
  }
  return out;
}

function casesFor(kind: Kind): Array<[string, Case]> {
  const all = [
    ...connectCases(kind),
    ...(kind === 'local' ? localPathCases() : []),
    ...bindCases(kind),
    ...lengthAndBufferCases(),
    ...sendToCases(kind),
    ...createSocketCases(kind),
    ...misuseCases(kind),
  ];
  return all.map((c) => [c.name, c]);
}

describe.each(['tcp', 'tls', 'local', 'udp'] as Kind[])('bad input on %s sockets', (kind) => {
  let ctx: Ctx;
  let witness: Witness;

  beforeAll(async () => {
    const raw =
      kind === 'tcp'
        ? createTcpSocketProvider()
        : kind === 'tls'
          ? createTlsSocketProvider()
          : kind === 'local'
            ? createLocalSocketProvider()
            : createUdpSocketProvider();
    if (kind === 'udp') witness = await udpWitness(raw);
    else {
      const server = kind === 'tls' ? { context: serverContext(pki) } : {};
      const client = kind === 'tls' ? { context: clientContext(pki) } : {};
      const bindArgs: [string, number] = kind === 'local' ? [tempPath('sp-witness'), 0] : ['127.0.0.1', 0];
      witness = await streamWitness(raw, server, client, bindArgs, (a, p) => (kind === 'local' ? a : `127.0.0.1:${p}`));
    }
    ctx = new Ctx(kind, pki, witness);
  });

  afterAll(async () => {
    await witness?.close();
  });

  afterEach(async () => {
    const violations = await cleanupAndCheck(WAIT);
    ctx.cleanup();
    await witness.roundTrip(); // nothing else harmed: the witness still echoes
    expect(violations).toEqual([]);
  });

  it.each(casesFor(kind))('%s', async (_name, c) => {
    expect(await c.run(ctx)).toBe(c.expected);
  });
});
