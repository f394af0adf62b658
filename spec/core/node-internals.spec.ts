/**
 * Every canary of the private internals the library leans on (lib/core/node-internals.ts for
 * Node's, the "werift-dtls internals" section of lib/transports/dtls-engine.ts for werift's;
 * docs/node-internals.md lists them). For each entry:
 *
 * - the canary: the internal exercised on plain Node (or plain werift), asserting the
 *   assumption holds on the running Node line;
 * - the library's detection takes the fast path here (on a line listed in PROVEN_NODE_LINES,
 *   else the fallback), and the fallback works when the internal is absent (a stub without it,
 *   or the test override).
 *
 * Run it under every Node line the package supports before adding the line to
 * PROVEN_NODE_LINES. On a line not in the list, the canaries still run (they say whether the
 * internal holds there) and the library is checked to take its fallback.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  createTcpSocketProvider,
  createTlsSocketProvider,
  createUdpSocketProvider,
  ISocket,
  ISocketProvider,
  ShutdownReason,
  SocketOptions,
  USocket,
} from '../../lib';
import { directRead, readDirectly } from '../../lib/core/direct-read';
import {
  answerAtOnce,
  DgramLookup,
  detectTlsParent,
  findOnreadFields,
  INTERNALS_ENV,
  internalPaths,
  InternalName,
  onProvenLine,
  overrideInternal,
  PROVEN_NODE_LINES,
  readPathStats,
  tlsWritesThrough,
} from '../../lib/core/node-internals';
import {
  createEngine,
  detectWeriftInternals,
  Engine,
  EngineTransport,
  overrideWeriftInternals,
  PROVEN_WERIFT_VERSIONS,
  readProtectedAlert,
  sendCloseNotify,
  srtpProfileOf,
  startClient,
  stopRetransmissions,
  weriftInternals,
  WeriftInternals,
} from '../../lib/transports/dtls-engine';
import { tlsSecurer } from '../../lib/transports/tls';
import { closeAllRaw, pollUntil, randomBytes, rawConnect, rawServer, sha256, withTimeout } from '../helpers/net-helpers';
import { certOf, clientContext, keyOf, loadPki, serverContext } from '../helpers/tls-fixture';

const pki = loadPki();
/** The fast paths are taken on this line: what every "the library picks …" test expects. */
const PROVEN = onProvenLine();
const EXPECTED = PROVEN ? 'fast' : 'fallback';
const ALL: InternalName[] = ['onread', 'tlsParent', 'tlsWritesThrough', 'dgramLookup'];

afterEach(() => {
  for (const name of ALL) overrideInternal(name, undefined);
  closeAllRaw();
});

// ---- helpers: plain Node and the framework through its public API ---------------------------

/** Listens on 127.0.0.1:0 with a plain `net` server; resolves with the server and its port. */
async function netServer(options: net.ServerOpts, onConnection: (sock: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer(options, onConnection);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** An accepted end that echoes everything back (partial recvs of 64 KiB). */
class Echo extends USocket {
  ended: ShutdownReason | null = null;
  private readonly buf = new Uint8Array(64 * 1024);
  override socketAcceptComplete(s: ISocket): void {
    s.recv(this.buf, this.buf.byteLength, true);
  }
  override socketRecvResult(s: ISocket, buffer: Uint8Array, len: number): void {
    s.send(buffer, len);
    s.recv(this.buf, this.buf.byteLength, true);
  }
  socketShutdown(_s: ISocket, reason: ShutdownReason): void {
    this.ended = reason;
  }
}

/** A client that sends `payload` once connected and reads the echo back, exactly. */
class Sender extends USocket {
  echoed: string | null = null;
  ended: ShutdownReason | null = null;
  constructor(private readonly payload: Buffer) {
    super();
  }
  override socketConnectComplete(s: ISocket): void {
    s.send(this.payload);
    s.recv(new Uint8Array(this.payload.byteLength), this.payload.byteLength, false);
  }
  override socketRecvResult(_s: ISocket, buffer: Uint8Array, len: number): void {
    this.echoed = sha256(buffer.subarray(0, len));
  }
  socketShutdown(_s: ISocket, reason: ShutdownReason): void {
    this.ended = reason;
  }
}

/**
 * `count` framework clients each send `payload` to a framework listener whose accepted ends
 * echo it; returns the digests of what each client got back, after every socket ended.
 */
async function echoThroughFramework(
  provider: ISocketProvider,
  listenOptions: SocketOptions,
  clientOptions: SocketOptions,
  payload: Buffer,
  count = 1,
): Promise<string[]> {
  const accepted: Echo[] = [];
  let port = 0;
  class Listener extends USocket {
    ended: ShutdownReason | null = null;
    override socketBindResult(s: ISocket, _a: string, p: number): void {
      port = p;
      s.listen();
    }
    override socketListenResult(s: ISocket): void {
      const e = new Echo();
      accepted.push(e);
      s.accept(e);
    }
    socketShutdown(_s: ISocket, reason: ShutdownReason): void {
      this.ended = reason;
    }
  }
  const lu = new Listener();
  const listener = provider.createSocket(lu, listenOptions);
  listener.bind('127.0.0.1', 0);
  await pollUntil(() => port !== 0, 'the listener to bind');
  const senders = Array.from({ length: count }, () => new Sender(payload));
  const clients = senders.map((u) => {
    const c = provider.createSocket(u, clientOptions);
    c.connect(`127.0.0.1:${port}`, 'localhost');
    return c;
  });
  try {
    await pollUntil(() => senders.every((u) => u.echoed !== null || u.ended !== null), 'every echo');
  } finally {
    clients.forEach((c) => c.shutdown());
    listener.shutdown();
    await pollUntil(() => senders.every((u) => u.ended !== null) && accepted.every((e) => e.ended !== null) && lu.ended !== null, 'every socket to end');
  }
  return senders.map((u) => u.echoed ?? `ended early: ${String(u.ended)}`);
}

// ---- the gate --------------------------------------------------------------------------------

describe('the gate: fast paths only on proven Node lines', () => {
  it(`says which path this line takes (Node ${process.version}: ${EXPECTED})`, () => {
    expect(PROVEN_NODE_LINES).toEqual(expect.arrayContaining([20, 22, 24, 26]));
    expect(onProvenLine()).toBe(PROVEN_NODE_LINES.includes(Number.parseInt(process.versions.node, 10)));
    expect(onProvenLine('20.0.0')).toBe(true);
    expect(onProvenLine('26.12.1')).toBe(true);
    expect(onProvenLine('21.7.3')).toBe(false); // odd lines are never proven
    expect(onProvenLine('28.0.0')).toBe(false); // a new line waits for the canary
  });

  it(`${INTERNALS_ENV}=off turns every Node fast path off`, () => {
    const before = process.env[INTERNALS_ENV];
    process.env[INTERNALS_ENV] = 'off';
    try {
      for (const name of ALL) overrideInternal(name, undefined); // forget earlier decisions
      expect(tlsWritesThrough()).toBe(false);
      expect(new DgramLookup().option).toBeUndefined();
      const sock = new net.Socket();
      expect(
        readDirectly(
          sock,
          directRead(() => true),
        ),
      ).toBe(false);
      const paths = internalPaths();
      expect(paths.tlsWritesThrough.path).toBe('fallback');
      expect(paths.dgramLookup.path).toBe('fallback');
      expect(paths.onread.path).toBe('fallback');
      expect(paths.onread.why).toContain(INTERNALS_ENV);
    } finally {
      if (before === undefined) delete process.env[INTERNALS_ENV];
      else process.env[INTERNALS_ENV] = before;
    }
  });
});

// ---- entry 1: onread for sockets Node made (kBuffer, kBufferCb, _handle.useUserBuffer) -------

describe('entry 1: onread on sockets Node made (net.js kBuffer/kBufferCb, _handle.useUserBuffer)', () => {
  it('Node: a socket made without onread has kBuffer/kBufferCb set to null; one made with onread holds its buffer and callback there', () => {
    const plain = findOnreadFields(new net.Socket());
    expect(plain).not.toBeNull();
    const buffer = Buffer.alloc(16);
    const callback = (): boolean => true;
    const withOnread = new net.Socket({ onread: { buffer, callback } } as net.SocketConstructorOpts);
    const fields = withOnread as unknown as Record<symbol, unknown>;
    expect(fields[plain!.buffer]).toBe(buffer);
    expect(fields[plain!.callback]).toBe(callback);
  });

  it('Node: an accepted connection held by pauseOnConnect has a handle with useUserBuffer, not reading yet', async () => {
    let seen: { useUserBuffer: string; reading: unknown } | null = null;
    const { server, port } = await netServer({ pauseOnConnect: true }, (sock) => {
      const handle = (sock as unknown as { _handle: { useUserBuffer?: unknown; reading?: unknown } })._handle;
      seen = { useUserBuffer: typeof handle.useUserBuffer, reading: handle.reading };
      sock.destroy();
    });
    const client = await rawConnect(port);
    try {
      await pollUntil(() => seen !== null, 'the connection');
    } finally {
      client.destroy();
      server.close();
    }
    expect(seen).toEqual({ useUserBuffer: 'function', reading: false });
  });

  it('detection: a stub without the symbols, or with them already set, is not switched', () => {
    expect(findOnreadFields({})).toBeNull();
    expect(findOnreadFields({ [Symbol('kBuffer')]: null })).toBeNull();
    expect(findOnreadFields({ [Symbol('kBuffer')]: null, [Symbol('kBufferCb')]: () => true })).toBeNull();
    const found = findOnreadFields({ [Symbol('kBuffer')]: null, [Symbol('kBufferCb')]: null });
    expect(found?.buffer.description).toBe('kBuffer');
    expect(found?.callback.description).toBe('kBufferCb');
    // A socket without a handle is left alone (the fast path needs one).
    expect(
      readDirectly(
        new net.Socket(),
        directRead(() => true),
      ),
    ).toBe(false);
  });

  /** A plain net server whose paused connection is switched by readDirectly; the client sends 300 kB. */
  async function switchAccepted(): Promise<{ switched: boolean; viaCallback: Buffer; dataEvents: number; viaData: Buffer }> {
    const viaCallbackParts: Buffer[] = [];
    const viaDataParts: Buffer[] = [];
    let dataEvents = 0;
    let switched: boolean | null = null;
    let port = 0;
    const ended = new Promise<net.Server>((resolve) => {
      const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => {
        switched = readDirectly(
          sock,
          directRead((n, buf) => {
            viaCallbackParts.push(Buffer.from(buf.subarray(0, n)));
            return true;
          }),
        );
        sock.on('data', (chunk: Buffer) => {
          dataEvents++;
          viaDataParts.push(chunk);
        });
        sock.on('end', () => {
          sock.end();
          resolve(server);
        });
        sock.resume();
      });
      server.listen(0, '127.0.0.1', () => {
        port = (server.address() as net.AddressInfo).port;
        const client = net.connect(port, '127.0.0.1', () => client.end(Buffer.alloc(300_000, 7)));
      });
    });
    const server = await withTimeout(ended, 10_000, 'the connection to end');
    server.close();
    return { switched: switched!, viaCallback: Buffer.concat(viaCallbackParts), dataEvents, viaData: Buffer.concat(viaDataParts) };
  }

  it(`the library switches an accepted, still paused connection here (${EXPECTED}): every byte reaches the callback, none the stream`, async () => {
    const r = await switchAccepted();
    expect(r.switched).toBe(PROVEN);
    expect(internalPaths().onread.path).toBe(EXPECTED);
    const got = PROVEN ? r.viaCallback : r.viaData;
    expect(PROVEN ? r.dataEvents : r.viaCallback.length).toBe(0);
    expect(got.length).toBe(300_000);
    expect(got.every((b) => b === 7)).toBe(true);
  });

  it('fallback: with the internal absent (override), nothing is switched and every byte comes through data events', async () => {
    overrideInternal('onread', false);
    const r = await switchAccepted();
    expect(r.switched).toBe(false);
    expect(internalPaths().onread.path).toBe('fallback');
    expect(r.viaCallback.length).toBe(0);
    expect(r.dataEvents).toBeGreaterThan(0);
    expect(r.viaData.length).toBe(300_000);
  });

  it(`Node: a server-side TLSSocket switched after its handshake (it already reads) hands every decrypted byte to the callback, in order (${EXPECTED})`, async () => {
    const payload = randomBytes(700_000); // many TLS records, across many reads
    const viaCallback: Buffer[] = [];
    const viaData: Buffer[] = [];
    let switched: boolean | null = null;
    const server = tls.createServer({ cert: certOf(pki.server), key: keyOf(pki.server), allowHalfOpen: true });
    const ended = new Promise<void>((resolve) => {
      server.on('secureConnection', (sock) => {
        switched = readDirectly(
          sock,
          directRead((n, buf) => {
            viaCallback.push(Buffer.from(buf.subarray(0, n)));
            return true;
          }),
          true,
        );
        sock.on('data', (chunk: Buffer) => viaData.push(chunk));
        sock.on('end', () => {
          sock.end();
          resolve();
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', ca: pki.ca, servername: 'localhost' }, () =>
      client.end(payload),
    );
    try {
      await withTimeout(ended, 10_000, 'the TLS connection to end');
    } finally {
      client.destroy();
      server.close();
    }
    expect(switched).toBe(PROVEN);
    expect(sha256(Buffer.concat(PROVEN ? viaCallback : viaData))).toBe(sha256(payload));
    expect((PROVEN ? viaData : viaCallback).length).toBe(0);
  });

  it('Node: tls.connect honours onread when it makes the socket itself (a public option our TLS clients pass)', async () => {
    const payload = randomBytes(300_000);
    const server = tls.createServer({ cert: certOf(pki.server), key: keyOf(pki.server) }, (sock) => sock.end(payload));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const seen: Buffer[] = [];
    let dataEvents = 0;
    const client = tls.connect({
      port: (server.address() as net.AddressInfo).port,
      host: '127.0.0.1',
      ca: pki.ca,
      servername: 'localhost',
      onread: directRead((n, buf) => {
        seen.push(Buffer.from(buf.subarray(0, n)));
        return true;
      }),
    } as tls.ConnectionOptions);
    client.on('data', () => dataEvents++);
    try {
      await withTimeout(new Promise((r) => client.on('end', r)), 10_000, 'the server to end');
    } finally {
      client.destroy();
      server.close();
    }
    expect(dataEvents).toBe(0);
    expect(sha256(Buffer.concat(seen))).toBe(sha256(payload));
  });

  it(`the library reads TLS connections with onread here, client and accepted end alike (${EXPECTED} for the accepted end)`, async () => {
    const payload = randomBytes(300_000);
    const before = { ...readPathStats };
    const echoed = await echoThroughFramework(createTlsSocketProvider(), { context: serverContext(pki) }, { context: clientContext(pki) }, payload);
    expect(echoed).toEqual([sha256(payload)]);
    expect(readPathStats.onread).toBeGreaterThan(before.onread);
    // The client passes onread to tls.connect (public); the accepted end is switched (entry 1).
    if (PROVEN) expect(readPathStats.data).toBe(before.data);
    else expect(readPathStats.data).toBeGreaterThan(before.data);
  });

  it('fallback: the library with entry 1 off reads accepted TCP connections through data events, every byte intact', async () => {
    overrideInternal('onread', false);
    const payload = randomBytes(300_000);
    const before = { ...readPathStats };
    const echoed = await echoThroughFramework(createTcpSocketProvider(), {}, {}, payload);
    expect(echoed).toEqual([sha256(payload)]);
    expect(readPathStats.data).toBeGreaterThan(before.data); // the accepted end
    expect(internalPaths().onread.path).toBe('fallback');
  });
});

// ---- entry 2: TLSSocket._parent -------------------------------------------------------------

describe('entry 2: the plain socket under a server-side TLSSocket (_tls_wrap.js TLSSocket._init: this._parent)', () => {
  function emittingServer(onSecure: (s: tls.TLSSocket) => void, onClientError: (e: Error, s: tls.TLSSocket) => void): tls.Server {
    const server = new tls.Server({ cert: certOf(pki.server), key: keyOf(pki.server) });
    server.on('secureConnection', onSecure);
    server.on('tlsClientError', onClientError);
    return server;
  }

  it('Node: a tls.Server fed a socket by emit("connection") gives a secureConnection TLSSocket whose _parent is that socket', async () => {
    let secureSock: tls.TLSSocket | null = null;
    const server = emittingServer(
      (s) => (secureSock = s),
      () => undefined,
    );
    const plain: net.Socket[] = [];
    const raw = await rawServer((sock) => {
      plain.push(sock);
      server.emit('connection', sock);
    });
    const client = tls.connect({ port: raw.port, host: '127.0.0.1', ca: pki.ca, servername: 'localhost' });
    client.on('error', () => undefined);
    try {
      await pollUntil(() => secureSock !== null, 'the tls.Server to emit secureConnection');
      expect(plain).toHaveLength(1);
      expect(detectTlsParent(secureSock!, plain[0])).toBe(true);
    } finally {
      (secureSock as tls.TLSSocket | null)?.destroy();
      client.destroy();
    }
  });

  it('Node: the TLSSocket given to tlsClientError has _parent === the emitted socket too', async () => {
    let failed: tls.TLSSocket | null = null;
    const server = emittingServer(
      () => undefined,
      (_e, s) => (failed = s),
    );
    const plain: net.Socket[] = [];
    const raw = await rawServer((sock) => {
      plain.push(sock);
      server.emit('connection', sock);
    });
    const client = await rawConnect(raw.port);
    client.write('not a ClientHello\r\n\r\n');
    await pollUntil(() => failed !== null, 'the tls.Server to emit tlsClientError');
    expect(detectTlsParent(failed!, plain[0])).toBe(true);
  });

  it('detection: a TLSSocket-like object without _parent, or with another socket there, does not count', () => {
    const raw = new net.Socket();
    expect(detectTlsParent({}, raw)).toBe(false);
    expect(detectTlsParent({ _parent: new net.Socket() }, raw)).toBe(false);
    expect(detectTlsParent({ _parent: raw }, raw)).toBe(true);
  });

  it(`the library learns it from its first server-side handshake and then shares one tls.Server (${EXPECTED})`, async () => {
    const payload = randomBytes(50_000);
    expect(internalPaths().tlsParent.path).not.toBe('fast'); // nothing learned before a handshake
    const first = await echoThroughFramework(createTlsSocketProvider(), { context: serverContext(pki) }, { context: clientContext(pki) }, payload);
    expect(first).toEqual([sha256(payload)]);
    expect(internalPaths().tlsParent.path).toBe(EXPECTED);
    // Later handshakes (the shared server, where it holds) match every connection to its socket.
    const more = await echoThroughFramework(createTlsSocketProvider(), { context: serverContext(pki) }, { context: clientContext(pki) }, payload, 5);
    expect(more).toEqual(Array(5).fill(sha256(payload)));
  });

  it('fallback: with entry 2 off, every handshake gets its own tls.Server and concurrent connections are still matched to their sockets', async () => {
    overrideInternal('tlsParent', false);
    const payloads = [randomBytes(40_000), randomBytes(40_000)];
    const results = await Promise.all(
      payloads.map((p) => echoThroughFramework(createTlsSocketProvider(), { context: serverContext(pki) }, { context: clientContext(pki) }, p, 4)),
    );
    expect(results).toEqual(payloads.map((p) => Array(4).fill(sha256(p))));
    expect(internalPaths().tlsParent.path).toBe('fallback');
  });
});

// ---- entry 3: TLS writes consumed before write() returns ------------------------------------

describe('entry 3: a TLS write with nothing queued does not keep the caller’s memory (crypto_tls.cc TLSWrap::DoWrite)', () => {
  /** A plain TLS pair on loopback; the server hashes what it receives. */
  async function tlsPair(): Promise<{ client: tls.TLSSocket; received: () => { bytes: number; digest: string }; close: () => void }> {
    const chunks: Buffer[] = [];
    const server = tls.createServer({ cert: certOf(pki.server), key: keyOf(pki.server) }, (sock) => sock.on('data', (c: Buffer) => chunks.push(c)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', ca: pki.ca, servername: 'localhost' });
    await withTimeout(new Promise((r) => client.once('secureConnect', r)), 10_000, 'the TLS handshake');
    return {
      client,
      received: () => {
        const all = Buffer.concat(chunks);
        return { bytes: all.length, digest: sha256(all) };
      },
      close: () => {
        client.destroy();
        server.close();
      },
    };
  }

  it(`Node: a buffer overwritten right after each write (nothing queued) reaches the peer unchanged (${PROVEN ? 'holds: fast path' : 'checked, fallback taken'})`, async () => {
    const pair = await tlsPair();
    const sizes = [1, 100, 16 * 1024, 16 * 1024 + 1, 64 * 1024, 1024 * 1024];
    const sent: Buffer[] = [];
    const buf = Buffer.alloc(1024 * 1024);
    try {
      for (const [i, n] of sizes.entries()) {
        expect(pair.client.writableLength).toBe(0); // the case the fast path is taken in
        buf.fill(i + 1, 0, n);
        sent.push(Buffer.from(buf.subarray(0, n)));
        const written = new Promise<void>((r) => pair.client.write(buf.subarray(0, n), () => r()));
        buf.fill(0xee, 0, n); // at once: the write must not read it any more
        await written;
      }
      const all = Buffer.concat(sent);
      await pollUntil(() => pair.received().bytes >= all.length, 'every byte at the server');
      expect(pair.received().digest).toBe(sha256(all));
    } finally {
      pair.close();
    }
  });

  it(`the library sends TLS data uncopied while nothing is queued here (${EXPECTED}), never for a plain socket`, async () => {
    const pair = await tlsPair();
    try {
      expect(tlsSecurer.writesThrough(pair.client)).toBe(PROVEN);
      expect(internalPaths().tlsWritesThrough.path).toBe(EXPECTED);
      expect(tlsSecurer.writesThrough(new net.Socket())).toBe(false);
    } finally {
      pair.close();
    }
  });

  it('fallback: with entry 3 off every TLS send is copied', async () => {
    overrideInternal('tlsWritesThrough', false);
    const pair = await tlsPair();
    try {
      expect(tlsSecurer.writesThrough(pair.client)).toBe(false);
      expect(internalPaths().tlsWritesThrough.path).toBe('fallback');
    } finally {
      pair.close();
    }
  });
});

// ---- entry 4: dgram's lookup answered at once (public option, assumptions checked) ----------

describe("entry 4: dgram's lookup answered at once (dgram.js send → handle.lookup, internal/dgram.js lookup4/lookup6)", () => {
  /** Two bound plain dgram sockets; `lookup` on the sender. */
  async function dgramPair(
    lookup: dgram.SocketOptions['lookup'],
  ): Promise<{ sender: dgram.Socket; receiver: dgram.Socket; port: number; got: Buffer[]; close: () => void }> {
    const receiver = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    receiver.on('message', (m) => got.push(m));
    await new Promise<void>((r) => receiver.bind(0, '127.0.0.1', r));
    const sender = dgram.createSocket({ type: 'udp4', lookup });
    await new Promise<void>((r) => sender.bind(0, '127.0.0.1', r));
    return {
      sender,
      receiver,
      port: receiver.address().port,
      got,
      close: () => {
        sender.close();
        receiver.close();
      },
    };
  }

  it('Node: a bound, unconnected socket calls a custom lookup inside send(), with the family as a number, and sends what it answers', async () => {
    const calls: { host: string; options: unknown; inside: boolean }[] = [];
    let inSend = false;
    const pair = await dgramPair(((host: string, options: unknown, cb: (e: null, a: string, f: number) => void) => {
      calls.push({ host, options, inside: inSend });
      cb(null, host, 4);
    }) as dgram.SocketOptions['lookup']);
    try {
      calls.length = 0; // the bind's own lookup
      inSend = true;
      pair.sender.send(Buffer.from('one'), pair.port, '127.0.0.1');
      inSend = false;
      await pollUntil(() => pair.got.length === 1, 'the datagram');
      expect(calls).toEqual([{ host: '127.0.0.1', options: 4, inside: true }]);
      expect(pair.got[0].toString()).toBe('one');
    } finally {
      pair.close();
    }
  });

  it('answerAtOnce answers in the form asked: a family number, an options object, or all: true', () => {
    const seen: unknown[][] = [];
    const cb = (...args: unknown[]): void => void seen.push(args);
    answerAtOnce('127.0.0.1', 4, cb);
    answerAtOnce('::1', { family: 6 }, cb);
    answerAtOnce('::1', {}, cb);
    answerAtOnce('10.0.0.1', { all: true }, cb);
    expect(seen).toEqual([
      [null, '127.0.0.1', 4],
      [null, '::1', 6],
      [null, '::1', 6],
      [null, [{ address: '10.0.0.1', family: 4 }]],
    ]);
  });

  it(`the library's DgramLookup answers an armed send at once here (${EXPECTED}) and leaves other lookups to dns.lookup`, async () => {
    const lookup = new DgramLookup();
    expect(lookup.option !== undefined).toBe(PROVEN);
    const pair = await dgramPair(lookup.option);
    try {
      const armed = lookup.arm();
      expect(armed).toBe(PROVEN);
      pair.sender.send(Buffer.from('armed'), pair.port, '127.0.0.1');
      lookup.disarm(true);
      pair.sender.send(Buffer.from('plain'), pair.port, '127.0.0.1'); // not armed: dns.lookup
      await pollUntil(() => pair.got.length === 2, 'both datagrams');
      expect(pair.got.map((b) => b.toString()).sort()).toEqual(['armed', 'plain']);
      expect(internalPaths().dgramLookup.path).toBe(EXPECTED);
    } finally {
      pair.close();
    }
  });

  it('detection: a dgram that does not call lookup inside send() turns the fast path off for good', () => {
    overrideInternal('dgramLookup', true);
    const lookup = new DgramLookup();
    expect(lookup.arm()).toBe(true);
    lookup.disarm(true); // "send" returned without a lookup
    expect(internalPaths().dgramLookup).toEqual({ path: 'fallback', why: 'dgram did not call lookup inside send()' });
    expect(lookup.arm()).toBe(false);
    expect(new DgramLookup().arm()).toBe(false);
  });

  it('fallback: with entry 4 off, no lookup option is passed and the library’s UDP sendTo still delivers, in order', async () => {
    overrideInternal('dgramLookup', false);
    expect(new DgramLookup().option).toBeUndefined();
    const got: string[] = [];
    let port = 0;
    let ended = 0;
    class Receiver extends USocket {
      private readonly buf = new Uint8Array(64);
      override socketBindResult(s: ISocket, _a: string, p: number): void {
        port = p;
        s.recv(this.buf, 64);
      }
      override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
        got.push(Buffer.from(b.subarray(0, n)).toString());
        s.recv(this.buf, 64);
      }
      socketShutdown(): void {
        ended++;
      }
    }
    class UdpSender extends USocket {
      socketShutdown(): void {
        ended++;
      }
    }
    const provider = createUdpSocketProvider();
    const receiver = provider.createSocket(new Receiver());
    receiver.bind('127.0.0.1', 0);
    await pollUntil(() => port !== 0, 'the receiver to bind');
    const sender = provider.createSocket(new UdpSender());
    for (let i = 0; i < 20; i++) sender.sendTo(Buffer.from(`d${i}`), undefined, '127.0.0.1', port);
    try {
      await pollUntil(() => got.length === 20, 'every datagram');
      expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `d${i}`));
    } finally {
      sender.shutdown();
      receiver.shutdown();
      await pollUntil(() => ended === 2, 'both sockets to end');
    }
  });
});

// ---- TCP options: Node applies noDelay/keepAlive given to net.connect/net.createServer -------

describe('TCP options: net.connect / net.createServer set noDelay and keepAlive on the handle (net.js kSetNoDelay, kSetKeepAlive)', () => {
  /** Records setNoDelay/setKeepAlive calls on every TCP handle while `run` runs. */
  async function spyHandles<T>(probe: net.Socket, run: () => Promise<T>): Promise<{ result: T; calls: { handle: object; what: string; args: unknown[] }[] }> {
    const proto = Object.getPrototypeOf((probe as unknown as { _handle: object })._handle) as Record<string, (...a: unknown[]) => unknown>;
    const calls: { handle: object; what: string; args: unknown[] }[] = [];
    const originals = { setNoDelay: proto.setNoDelay, setKeepAlive: proto.setKeepAlive };
    for (const what of ['setNoDelay', 'setKeepAlive'] as const) {
      const original = originals[what];
      proto[what] = function (this: object, ...args: unknown[]) {
        calls.push({ handle: this, what, args });
        return original.apply(this, args);
      };
    }
    try {
      return { result: await run(), calls };
    } finally {
      proto.setNoDelay = originals.setNoDelay;
      proto.setKeepAlive = originals.setKeepAlive;
    }
  }

  function symbolValue(sock: net.Socket, name: string): unknown {
    const sym = Object.getOwnPropertySymbols(sock).find((s) => s.description === name);
    return sym === undefined ? 'missing' : (sock as unknown as Record<symbol, unknown>)[sym];
  }

  it('Node: both ends of a connection made with noDelay and keepAlive have them set on their handles', async () => {
    let accepted: net.Socket | null = null;
    const { server, port } = await netServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 5000 }, (s) => (accepted = s));
    // A probe socket to reach the TCP handle class (its handle exists once connect() returned).
    const probe = net.connect({ port, host: '127.0.0.1' });
    probe.on('error', () => undefined);
    let client: net.Socket | null = null;
    try {
      const { calls } = await spyHandles(probe, async () => {
        client = net.connect({ port, host: '127.0.0.1', noDelay: true, keepAlive: true, keepAliveInitialDelay: 7000 });
        await withTimeout(new Promise((r) => client!.once('connect', r)), 10_000, 'the connect');
        await pollUntil(() => accepted !== null && (accepted as net.Socket).remotePort === client!.localPort, 'the accept');
      });
      const c = client! as net.Socket;
      const a = accepted! as net.Socket;
      const handleOf = (s: net.Socket): object => (s as unknown as { _handle: object })._handle;
      const on = (s: net.Socket, what: string): unknown[][] => calls.filter((x) => x.handle === handleOf(s) && x.what === what).map((x) => x.args);
      expect(on(c, 'setNoDelay')).toEqual([[true]]);
      expect(on(c, 'setKeepAlive')).toEqual([[true, 7]]); // seconds
      expect(on(a, 'setNoDelay')).toEqual([[true]]);
      expect(on(a, 'setKeepAlive')).toEqual([[true, 5]]);
      expect([symbolValue(c, 'kSetNoDelay'), symbolValue(c, 'kSetKeepAlive')]).toEqual([true, true]);
      expect([symbolValue(a, 'kSetNoDelay'), symbolValue(a, 'kSetKeepAlive')]).toEqual([true, true]);
    } finally {
      probe.destroy();
      (client as net.Socket | null)?.destroy();
      (accepted as net.Socket | null)?.destroy();
      server.close();
    }
  });

  it('Node: without the options neither end calls them', async () => {
    let accepted: net.Socket | null = null;
    const { server, port } = await netServer({}, (s) => (accepted = s));
    const probe = net.connect({ port, host: '127.0.0.1' });
    probe.on('error', () => undefined);
    let client: net.Socket | null = null;
    try {
      const { calls } = await spyHandles(probe, async () => {
        client = net.connect({ port, host: '127.0.0.1' });
        await withTimeout(new Promise((r) => client!.once('connect', r)), 10_000, 'the connect');
        await pollUntil(() => accepted !== null && (accepted as net.Socket).remotePort === client!.localPort, 'the accept');
      });
      const handles = [client!, accepted!].map((s) => (s as unknown as { _handle: object })._handle);
      expect(calls.filter((x) => handles.includes(x.handle))).toEqual([]);
      expect(symbolValue(client!, 'kSetNoDelay')).toBe(false);
      expect(symbolValue(accepted!, 'kSetNoDelay')).toBe(false);
    } finally {
      probe.destroy();
      (client as net.Socket | null)?.destroy();
      (accepted as net.Socket | null)?.destroy();
      server.close();
    }
  });
});

// ---- werift-dtls internals (lib/transports/dtls-engine.ts) -----------------------------------

describe('werift-dtls internals (dtls-engine.ts: recordSequenceNumber, flight, encryptPacket/decryptPacket, srtp)', () => {
  /** A client and a server engine wired to each other in this process; records each side sent. */
  function enginePair(): { client: Engine; server: Engine; sentByClient: Buffer[]; connected: Promise<void> } {
    const sentByClient: Buffer[] = [];
    const toServer: EngineTransport = { onData: () => undefined, send: async () => undefined };
    const toClient: EngineTransport = { onData: () => undefined, send: async () => undefined };
    toClient.send = async (data) => {
      sentByClient.push(Buffer.from(data));
      setImmediate(() => toServer.onData(data));
    };
    toServer.send = async (data) => void setImmediate(() => toClient.onData(data));
    const server = createEngine(toServer, { server: true, cert: certOf(pki.server), key: keyOf(pki.server), srtp: true, certificateRequest: false });
    const client = createEngine(toClient, { server: false, srtp: true, certificateRequest: false });
    const connected = Promise.all([
      new Promise<void>((r) => client.onConnect.subscribe(() => r())),
      new Promise<void>((r) => server.onConnect.subscribe(() => r())),
    ]).then(() => undefined);
    startClient(client).catch(() => undefined);
    return { client, server, sentByClient, connected };
  }

  it(`werift: the installed version is one the canary proved (${PROVEN_WERIFT_VERSIONS.join(', ')}), and every internal is found on a real engine`, async () => {
    const { client, server, connected } = enginePair();
    await withTimeout(connected, 10_000, 'the DTLS handshake');
    expect(weriftInternals()).toEqual({
      version: PROVEN_WERIFT_VERSIONS[0],
      closeNotify: true,
      stopRetransmissions: true,
      protectedAlerts: true,
      srtpProfile: true,
      cookie: true,
    });
    expect(srtpProfileOf(client)?.name).toBe('SRTP_AES128_CM_SHA1_80');
    expect(srtpProfileOf(server)?.name).toBe('SRTP_AES128_CM_SHA1_80');
  });

  it('werift: the close_notify built from recordSequenceNumber and encryptPacket decrypts at the peer as a warning close_notify', async () => {
    const { client, server, sentByClient, connected } = enginePair();
    await withTimeout(connected, 10_000, 'the DTLS handshake');
    const before = sentByClient.length;
    await sendCloseNotify(client);
    expect(sentByClient.length).toBe(before + 1);
    const record = sentByClient[before];
    expect(record[0]).toBe(21); // an alert record, epoch 1 (protected)
    expect(readProtectedAlert(server, record)).toEqual({ level: 1, description: 0 });
    // A forged one (bytes changed) does not decrypt.
    const forged = Buffer.from(record);
    forged[forged.length - 1] ^= 0xff;
    expect(readProtectedAlert(server, forged)).toBeNull();
  });

  it('werift: setting dtls.flight past the next flight ends the retransmission loop after its current wait', async () => {
    const sends = { stopped: 0, running: 0 };
    const make = (key: 'stopped' | 'running'): Engine =>
      createEngine(
        {
          onData: () => undefined,
          send: async () => void sends[key]++, // nobody answers
        },
        { server: false, srtp: false, certificateRequest: false },
      );
    const stopped = make('stopped');
    const running = make('running');
    const stoppedDone = startClient(stopped).then(
      () => 'finished',
      () => 'failed',
    );
    const runningDone = startClient(running).then(
      () => 'finished',
      () => 'failed',
    );
    stopRetransmissions(stopped);
    await new Promise((r) => setTimeout(r, 800)); // the first wait is 500 ms
    expect(sends).toEqual({ stopped: 1, running: 2 }); // the running one retransmitted
    expect(await withTimeout(stoppedDone, 1000, 'the stopped loop to end')).toBe('finished');
    stopRetransmissions(running);
    expect(await withTimeout(runningDone, 3000, 'the second loop to end')).toBe('finished');
  });

  it('detection: stubs without the fields, or another werift version, take every fallback', () => {
    const modules = { builder: { createPlaintext: () => undefined }, plaintext: { DtlsPlaintext: { deSerialize: () => undefined } } };
    const shaped = {
      dtls: { recordSequenceNumber: 0, flight: 1, cookie: undefined },
      cipher: { encryptPacket: () => undefined, decryptPacket: () => undefined },
      transport: { send: () => undefined },
      srtp: {},
    };
    const all = (v: boolean): Omit<WeriftInternals, 'version'> => ({ closeNotify: v, stopRetransmissions: v, protectedAlerts: v, srtpProfile: v, cookie: v });
    expect(detectWeriftInternals(shaped, PROVEN_WERIFT_VERSIONS[0], modules)).toEqual({ version: PROVEN_WERIFT_VERSIONS[0], ...all(true) });
    expect(detectWeriftInternals(shaped, '0.6.0', modules)).toEqual({ version: '0.6.0', ...all(false) });
    expect(detectWeriftInternals(shaped, null, modules)).toEqual({ version: null, ...all(false) });
    expect(detectWeriftInternals({}, PROVEN_WERIFT_VERSIONS[0], modules)).toEqual({ version: PROVEN_WERIFT_VERSIONS[0], ...all(false) });
    expect(detectWeriftInternals(shaped, PROVEN_WERIFT_VERSIONS[0], {})).toEqual({
      version: PROVEN_WERIFT_VERSIONS[0],
      ...all(true),
      closeNotify: false,
      protectedAlerts: false,
    });
  });

  it('fallback: with every werift internal absent, nothing is written into the engine and nothing is read from it', async () => {
    const { client, server, sentByClient, connected } = enginePair();
    await withTimeout(connected, 10_000, 'the DTLS handshake');
    const before = sentByClient.length;
    await sendCloseNotify(client);
    const record = sentByClient[before];
    overrideWeriftInternals({ version: null, closeNotify: false, stopRetransmissions: false, protectedAlerts: false, srtpProfile: false, cookie: false });
    try {
      await expect(sendCloseNotify(client)).rejects.toThrow(/werift-dtls internals/);
      expect(sentByClient.length).toBe(before + 1);
      expect(readProtectedAlert(server, record)).toBeNull(); // left to the engine
      expect(srtpProfileOf(client)).toBeNull();
      const flight = client.dtls.flight;
      stopRetransmissions(client);
      expect(client.dtls.flight).toBe(flight);
    } finally {
      overrideWeriftInternals(undefined);
    }
  });
});
