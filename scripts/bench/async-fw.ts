// The TCP bulk workload written with the async layer (lib/async) and with toDuplex, for issue
// #18: the same bytes, checks and sizes as stream-fw.ts's sinkServer/bulkClient, so that one run
// shows the callback API, the async layer and the Duplex adapter against the same raw Node.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ShutdownReason } from '../../lib';
import { connect, Connection, listen, toDuplex } from '../../lib/async';
import { BLOCK, PeerArgs, PeerIo, StreamChecker, makeBlock, msSince, stampBlock, waitUntil } from './common';
import { fwTransport } from './stream-fw';

const clean = (r: ShutdownReason): boolean => r === ShutdownReason.Normal || r === ShutdownReason.ByPeer;

/** Listens with the async layer; `serve` gets every connection. */
async function asyncListen(args: PeerArgs, io: PeerIo, serve: (conn: Connection) => Promise<void>): Promise<void> {
  const t = fwTransport(args.target);
  const listener = await listen(t.provider, '127.0.0.1', 0, t.serverOptions);
  io.ready({ port: listener.port });
  let live = 0;
  io.onQuit(async () => {
    await waitUntil(() => live === 0, 3000);
    listener.close();
    return { liveAtQuit: live };
  });
  for await (const conn of listener) {
    live++;
    serve(conn)
      .catch((err: Error) => io.error(`accepted connection: ${err.message}`))
      .finally(() => void conn.closed.then((r) => (live--, clean(r) || io.error(`accepted connection ended: ${r}`))));
  }
}

/** Checks `perConn` bytes and answers with the ack byte (1: right, 2: wrong). */
function sinkCheck(io: PeerIo, perConn: number): { feed(chunk: Buffer): boolean; ack(): Uint8Array } {
  const checker = new StreamChecker();
  let got = 0;
  return {
    feed(chunk) {
      got += chunk.length;
      checker.feed(chunk, chunk.length);
      return got >= perConn;
    },
    ack() {
      const ok = got === perConn && checker.errors === 0;
      if (!ok) io.error(`connection ${checker.connId}: ${got} bytes, ${checker.errors} block errors ${checker.firstError}`);
      return Uint8Array.of(ok ? 1 : 2);
    },
  };
}

/** Async layer: `for await` of 64 KiB partial reads, then the ack. */
export function sinkServerAsync(args: PeerArgs, io: PeerIo): void {
  void asyncListen(args, io, async (conn) => {
    const check = sinkCheck(io, args.size.perConn);
    for (;;) {
      const chunk = await conn.readSome({ max: BLOCK });
      if (chunk === null) return;
      if (check.feed(chunk)) return conn.write(check.ack());
    }
  });
}

/** toDuplex: stream.pipeline into a checking Writable, then the ack. */
export function sinkServerDuplex(args: PeerArgs, io: PeerIo): void {
  void asyncListen(args, io, async (conn) => {
    const check = sinkCheck(io, args.size.perConn);
    const d = toDuplex(conn);
    await new Promise<void>((resolve, reject) => {
      const sink = new Writable({
        write(chunk: Buffer, _e, cb) {
          if (check.feed(chunk)) {
            d.unpipe(sink);
            d.write(check.ack(), () => resolve());
          }
          cb();
        },
      });
      d.pipe(sink);
      d.once('error', reject);
    });
  });
}

/** The bulk client: stamped 64 KiB blocks, each `await write()` (async) or through pipeline (duplex); time until the ack. */
function bulk(args: PeerArgs, io: PeerIo, send: (conn: Connection, blocks: Iterable<Uint8Array>) => Promise<void>): void {
  const t = fwTransport(args.target);
  const { perConn } = args.size;
  const blocks = Math.ceil(perConn / BLOCK);
  let ended = false;
  const block = makeBlock();
  void (async () => {
    const conn = await connect(t.provider, `127.0.0.1:${args.target.port}`, t.clientOptions);
    const start = process.hrtime.bigint();
    const ack = conn.read(1);
    await send(
      conn,
      (function* () {
        for (let i = 0; i < blocks; i++) {
          stampBlock(block, 0, i); // one block, stamped again each time: write() copies (the duplex client copies first)
          yield i === blocks - 1 ? block.subarray(0, perConn - (blocks - 1) * BLOCK) : block;
        }
      })(),
    );
    const got = await ack;
    if (got[0] !== 1) io.error(`the server reported wrong data (ack ${got[0]})`);
    io.result({ ms: msSince(start), bytes: perConn });
    conn.end();
    const r = await conn.closed;
    ended = true;
    if (r !== ShutdownReason.Normal) io.error(`client ended: ${r}`);
  })().catch((err: Error) => io.error(`client: ${err.message}`));
  io.onQuit(async () => {
    await waitUntil(() => ended, 3000);
    return {};
  });
}

export function bulkClientAsync(args: PeerArgs, io: PeerIo): void {
  bulk(args, io, async (conn, blocks) => {
    for (const b of blocks) await conn.write(b);
  });
}

export function bulkClientDuplex(args: PeerArgs, io: PeerIo): void {
  bulk(args, io, async (conn, blocks) => {
    const d = toDuplex(conn, { allowHalfOpen: true });
    const { Readable } = await import('node:stream');
    // A chunk may wait in the Writable's buffer: each gets its own copy, as a stream source's chunks would be.
    await pipeline(
      Readable.from(
        (function* () {
          for (const b of blocks) yield Buffer.from(b);
        })(),
        { objectMode: false },
      ),
      d,
    );
  });
}
