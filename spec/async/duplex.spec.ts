/**
 * `toDuplex`: Node streams over our connections. 200 MiB each way at once through
 * `stream.pipeline` (SHA-256 checked on both sides); backpressure both ways (a readable that
 * is not read stops `recv`; write callbacks at send results); errors and `destroy()`; an
 * object-mode Duplex over a message connection; and real stream consumers over TLS: Node's
 * `http` client and server, and `http2` with ALPN `h2`.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createTlsSocketProvider, ShutdownReason } from '../../lib';
import { connect, listen, SocketClosedError, SocketDuplex, toDuplex, toMessages } from '../../lib/async';
import { pollUntil, randomBytes, settle, withTimeout } from '../helpers/net-helpers';
import { clientContext, loadPki, serverContext } from '../helpers/tls-fixture';
import { tcpFixture, track, WAIT } from './fixtures';

const pki = loadPki();
const fx = tcpFixture();
afterEach(() => fx.cleanup());

const MiB = 1024 * 1024;

/** `total` bytes of a pseudo-random pattern in 64 KiB chunks; `hash` gets what was produced. */
function source(total: number, seed: number, hash: ReturnType<typeof createHash>): Readable {
  const block = randomBytes(MiB + 64 * 1024);
  return Readable.from(
    (function* () {
      for (let off = 0, i = seed; off < total; i++) {
        const n = Math.min(64 * 1024, total - off);
        const start = (i * 7919) % MiB;
        const chunk = block.subarray(start, start + n);
        hash.update(chunk);
        off += n;
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
}

/** A sink that hashes what it gets. */
function hashSink(hash: ReturnType<typeof createHash>, counted: { bytes: number }): Writable {
  return new Writable({
    write(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      counted.bytes += chunk.length;
      cb();
    },
  });
}

/** Hashes `total` bytes read from `d` ('data' events; the stream is not ended). */
function hashOf(d: SocketDuplex, total: number): Promise<string> {
  const h = createHash('sha256');
  let got = 0;
  return new Promise((resolve, reject) => {
    d.on('data', (chunk: Buffer) => {
      h.update(chunk);
      got += chunk.length;
      if (got === total) resolve(h.digest('hex'));
      if (got > total) reject(new Error(`more than ${total} bytes`));
    });
    d.once('error', reject);
  });
}

describe('toDuplex over TCP', () => {
  it('carries 200 MiB each way at once through stream.pipeline, SHA-256 checked both ways', async () => {
    const total = 200 * MiB;
    const { client, server } = await fx.pair();
    // The client: pipeline to the server, and from it; half-open, so its end() waits for the server's close.
    const dc = toDuplex(client, { allowHalfOpen: true });
    const ds = toDuplex(server, { allowHalfOpen: true });
    const up = createHash('sha256');
    const down = createHash('sha256');
    const clientGot = createHash('sha256');
    const counted = { bytes: 0 };
    const clientSide = Promise.all([pipeline(source(total, 1, up), dc), pipeline(dc, hashSink(clientGot, counted))]);
    // The server: pipeline its 200 MiB down, hash the 200 MiB coming up, then close.
    const serverSide = (async () => {
      const [, got] = await Promise.all([pipeline(source(total, 2, down), ds), hashOf(ds, total)]);
      ds.destroy();
      return got;
    })();
    const [serverGot] = await withTimeout(Promise.all([serverSide, clientSide]), 90_000, '200 MiB each way');
    expect(serverGot).toBe(up.digest('hex'));
    expect(counted.bytes).toBe(total);
    expect(clientGot.digest('hex')).toBe(down.digest('hex'));
    expect(await server.closed).toBe(ShutdownReason.Normal);
    expect(await client.closed).toBe(ShutdownReason.ByPeer); // the server closed first
  }, 120_000);

  it('stops recv while its readable side is full, and resumes when read', async () => {
    const { client, server } = await fx.pair({ readAheadBytes: 64 * 1024 });
    const ds = toDuplex(server);
    const data = randomBytes(8 * MiB);
    const writing = client.write(data).catch(() => undefined);
    ds.pause();
    ds.read(0); // one read: fills the readable buffer up to its high-water mark, then stops
    await pollUntil(() => server.stats().readAheadBytes >= 64 * 1024, 'the read-ahead to fill');
    await settle(100);
    const before = server.stats().messagesReceived;
    await settle(100);
    expect(server.stats().messagesReceived).toBe(before); // no recv while the readable is full
    expect(ds.readableLength).toBeLessThanOrEqual(2 * 64 * 1024);
    const h = createHash('sha256');
    let got = 0;
    for await (const chunk of ds) {
      h.update(chunk as Buffer);
      got += (chunk as Buffer).length;
      if (got === data.length) break;
    }
    expect(h.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    await writing;
  });

  it('calls write callbacks at send results: write() returns false and drain follows', async () => {
    const { client } = await fx.pair();
    const dc = toDuplex(client);
    const big = randomBytes(MiB);
    expect(dc.write(big)).toBe(false);
    await withTimeout(new Promise((r) => dc.once('drain', r)), WAIT, 'drain');
    expect(client.stats().messagesSent).toBeGreaterThanOrEqual(1);
  });

  it("ends the readable side after the peer's last byte, then the writable side (allowHalfOpen false)", async () => {
    const { client, server } = await fx.pair();
    const ds = toDuplex(server);
    await client.write('last words');
    client.end();
    const chunks: Buffer[] = [];
    for await (const c of ds) chunks.push(c as Buffer);
    expect(String(Buffer.concat(chunks))).toBe('last words');
    await withTimeout(new Promise((r) => (ds.writableFinished ? r(null) : ds.once('finish', r))), WAIT, 'finish');
    expect(await server.closed).toBe(ShutdownReason.ByPeer);
  });

  it('destroys the stream with a SocketClosedError when the connection breaks, and destroy() closes the connection', async () => {
    const { client, server } = await fx.pair();
    const dc = toDuplex(client);
    const errored = new Promise<Error>((r) => dc.once('error', r));
    dc.resume();
    const ds = toDuplex(server);
    // Unread bytes at close: the server's end resets the connection.
    void client.write(randomBytes(MiB)).catch(() => undefined);
    await pollUntil(() => server.stats().readAheadBytes > 0, 'bytes to arrive');
    ds.destroy();
    expect(await server.closed).toBe(ShutdownReason.Normal);
    const reason = await client.closed;
    if (reason === ShutdownReason.Lost) {
      const err = (await withTimeout(errored, WAIT, 'the error')) as SocketClosedError;
      expect(err).toBeInstanceOf(SocketClosedError);
      expect(err.reason).toBe(ShutdownReason.Lost);
    } else {
      expect(reason).toBe(ShutdownReason.ByPeer);
    }
  });

  it('is an object-mode Duplex over a message connection: pipeline of 1000 messages in order', async () => {
    const { client, server } = await fx.pair();
    const a = toDuplex(toMessages(client));
    const b = toDuplex(toMessages(server));
    const out = Array.from({ length: 1000 }, (_, i) => Buffer.from(`message ${i} ${'x'.repeat(i % 97)}`));
    const got: string[] = [];
    await withTimeout(
      Promise.all([
        pipeline(Readable.from(out), a),
        pipeline(
          b,
          new Writable({
            objectMode: true,
            write(m: Buffer, _e, cb) {
              got.push(String(m));
              cb();
            },
          }),
        ),
      ]),
      WAIT,
      '1000 messages',
    );
    expect(got).toEqual(out.map(String));
  });
});

describe('real stream consumers over TLS', () => {
  it("runs Node's http server and client over toDuplex TLS connections", async () => {
    const tls = createTlsSocketProvider();
    const sctx = serverContext(pki);
    sctx.setAlpnProtocols(['http/1.1']);
    const listener = track(await listen(tls, '127.0.0.1', 0, { context: sctx }));
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => res.end(`${req.method} ${req.url} ${body.length} over ${(req.socket as unknown as SocketDuplex).alpnProtocol}`));
    });
    void (async () => {
      for await (const conn of listener) server.emit('connection', toDuplex(conn));
    })();
    const cctx = clientContext(pki);
    cctx.setAlpnProtocols(['http/1.1']);
    const request = (path: string, body: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const req = http.request(
          {
            method: 'POST',
            path,
            headers: { connection: 'close' },
            createConnection: (_opts: unknown, done: (err: Error | null, s?: SocketDuplex) => void) => {
              connect(tls, `127.0.0.1:${listener.port}`, { context: cctx, serverName: 'localhost' }).then(
                (c) => done(null, toDuplex(track(c))),
                (err: Error) => done(err),
              );
              return undefined;
            },
          } as http.RequestOptions,
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c));
            res.on('end', () => resolve(`${res.statusCode} ${text}`));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const answers = await withTimeout(Promise.all([request('/a', 'x'.repeat(100_000)), request('/b', 'hi')]), WAIT, 'two HTTP requests');
    expect(answers).toEqual(['200 POST /a 100000 over http/1.1', '200 POST /b 2 over http/1.1']);
    listener.close();
    server.close();
  });

  it('runs http2 with ALPN h2 over toDuplex TLS connections', async () => {
    const tls = createTlsSocketProvider();
    const sctx = serverContext(pki);
    sctx.setAlpnProtocols(['h2']);
    const listener = track(await listen(tls, '127.0.0.1', 0, { context: sctx }));
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      stream.respond({ ':status': 200 });
      stream.end(`h2 ${headers[':path']}`);
    });
    void (async () => {
      for await (const conn of listener) server.emit('connection', toDuplex(conn));
    })();
    const cctx = clientContext(pki);
    cctx.setAlpnProtocols(['h2']);
    const conn = track(await connect(tls, `127.0.0.1:${listener.port}`, { context: cctx, serverName: 'localhost' }));
    expect(conn.alpnProtocol).toBe('h2');
    const session = http2.connect(`http://localhost:${listener.port}`, { createConnection: () => toDuplex(conn) });
    const get = (path: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const req = session.request({ ':path': path });
        let text = '';
        req.on('data', (c: Buffer) => (text += c));
        req.on('end', () => resolve(text));
        req.on('error', reject);
        req.end();
      });
    expect(await withTimeout(Promise.all([get('/one'), get('/two')]), WAIT, 'two h2 requests')).toEqual(['h2 /one', 'h2 /two']);
    await new Promise<void>((r) => session.close(() => r()));
    listener.close();
    server.close();
  });
});
