// The stream workloads written in plain Node, the idiomatic way: 'data' events, write()
// honouring 'drain', setNoDelay(true) as the framework's default, and the same checks on the
// same bytes as the framework side (stream-fw.ts).
import * as net from 'node:net';
import * as tls from 'node:tls';
import { BLOCK, PeerArgs, PeerIo, PING, StreamChecker, Target, fillPing, makeBlock, msSince, readPem, samePing, stampBlock, waitUntil } from './common';

/** Listens on the target; `onConn` gets every connection (TLS: once its handshake is done). */
export function rawListen(io: PeerIo, target: Target, onConn: (sock: net.Socket) => void): void {
  const sockets = new Set<net.Socket>();
  const handle = (sock: net.Socket): void => {
    sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('error', (err) => io.error(`accepted connection: ${err.message}`));
    sock.on('close', () => sockets.delete(sock));
    onConn(sock);
  };
  let server: net.Server;
  if (target.kind === 'tls') {
    const pem = readPem(target.serverPemFile);
    server = tls.createServer({ cert: pem, key: pem, minVersion: 'TLSv1.2' }, handle);
    server.on('tlsClientError', (err) => io.error(`TLS handshake: ${err.message}`));
  } else {
    server = net.createServer(handle);
  }
  server.on('error', (err) => io.error(`listener: ${err.message}`));
  const ready = (): void => {
    const a = server.address();
    io.ready({ port: typeof a === 'object' && a ? a.port : 0 });
  };
  if (target.kind === 'local') server.listen(target.path, ready);
  else if (target.reusePort) server.listen({ port: target.port, host: '127.0.0.1', reusePort: true, exclusive: true } as net.ListenOptions, ready);
  else server.listen(target.port, '127.0.0.1', ready);
  io.onQuit(async () => {
    server.close();
    await waitUntil(() => sockets.size === 0, 3000);
    return { liveAtQuit: sockets.size };
  });
}

/** Connects to the target; `ready` runs once the connection (TLS: the handshake) is up. */
export function rawConnect(target: Target, ready: (sock: net.Socket) => void): net.Socket {
  let sock: net.Socket;
  if (target.kind === 'tls') {
    sock = tls.connect({ host: '127.0.0.1', port: target.port, ca: readPem(target.caFile), servername: 'localhost', minVersion: 'TLSv1.2' }, () => ready(sock));
  } else if (target.kind === 'local') {
    sock = net.connect(target.path, () => ready(sock));
  } else {
    sock = net.connect(target.port, '127.0.0.1', () => ready(sock));
  }
  sock.setNoDelay(true);
  return sock;
}

// ---- servers ------------------------------------------------------------------------------

export function sinkServer(args: PeerArgs, io: PeerIo): void {
  const perConn = args.size.perConn;
  rawListen(io, args.target, (sock) => {
    const checker = new StreamChecker();
    let got = 0;
    sock.on('data', (chunk: Buffer) => {
      const before = got;
      got += chunk.length;
      checker.feed(chunk, chunk.length);
      if (before < perConn && got >= perConn) {
        const ok = got === perConn && checker.errors === 0;
        if (!ok) io.error(`connection ${checker.connId}: ${got} bytes, ${checker.errors} block errors ${checker.firstError}`);
        sock.write(Buffer.of(ok ? 1 : 2));
      } else if (before >= perConn) {
        io.error(`connection ${checker.connId}: bytes beyond the expected ${perConn}`);
      }
    });
  });
}

/** Echoes 64-byte messages, accumulating until 64 bytes are there (the equivalent of an exact recv). */
export function echo64Server(args: PeerArgs, io: PeerIo): void {
  rawListen(io, args.target, (sock) => {
    let pending: Buffer | null = null;
    sock.on('data', (chunk: Buffer) => {
      if (pending !== null) {
        chunk = Buffer.concat([pending, chunk]);
        pending = null;
      }
      if (chunk.length === PING) {
        sock.write(chunk);
        return;
      }
      let off = 0;
      for (; chunk.length - off >= PING; off += PING) sock.write(chunk.subarray(off, off + PING));
      if (off < chunk.length) pending = chunk.subarray(off);
    });
  });
}

// ---- clients ------------------------------------------------------------------------------

export function bulkClient(args: PeerArgs, io: PeerIo): void {
  const { conns, perConn } = args.size;
  const blocks = Math.ceil(perConn / BLOCK);
  const socks: net.Socket[] = [];
  let connected = 0;
  let acked = 0;
  let closed = 0;
  let start = 0n;

  const begin = (sock: net.Socket, id: number): void => {
    // One buffer per connection, restamped only after 'drain': a 64 KiB write is above the
    // 16 KiB high-water mark, so write() returns false every time and 'drain' means it is out.
    if (sock.writableHighWaterMark >= BLOCK) throw new Error('the pump below assumes write() returns false for a block');
    const block = makeBlock();
    let next = 0;
    const pump = (): void => {
      while (next < blocks) {
        stampBlock(block, id, next++);
        const ok = sock.write(next === blocks ? block.subarray(0, perConn - (blocks - 1) * BLOCK) : block);
        if (!ok) {
          sock.once('drain', pump);
          return;
        }
      }
    };
    sock.on('data', (chunk: Buffer) => {
      if (chunk.length !== 1 || chunk[0] !== 1) io.error(`connection ${id}: the server reported wrong data (ack ${chunk[0]})`);
      if (++acked === conns) {
        io.result({ ms: msSince(start), bytes: conns * perConn });
        for (const s of socks) s.end();
      }
    });
    pump();
  };

  for (let i = 0; i < conns; i++) {
    const sock = rawConnect(args.target, () => {
      if (++connected === conns) {
        start = process.hrtime.bigint();
        socks.forEach((s, id) => begin(s, id));
      }
    });
    sock.on('error', (err) => io.error(`client connection ${i}: ${err.message}`));
    sock.on('close', () => closed++);
    socks.push(sock);
  }
  io.onQuit(async () => {
    await waitUntil(() => closed === conns, 3000);
    return {};
  });
}

export function pingpongClient(args: PeerArgs, io: PeerIo): void {
  const { rounds, warmup } = args.size;
  const out = Buffer.alloc(PING);
  let round = 0;
  let start = 0n;
  let closed = false;
  let pending: Buffer | null = null;
  const sock = rawConnect(args.target, () => {
    if (warmup === 0) start = process.hrtime.bigint();
    fillPing(out, 0);
    sock.write(out);
  });
  sock.on('data', (chunk: Buffer) => {
    if (pending !== null) {
      chunk = Buffer.concat([pending, chunk]);
      pending = null;
    }
    if (chunk.length < PING) {
      pending = chunk;
      return;
    }
    if (chunk.length !== PING || !samePing(chunk, 0, out)) io.error(`round ${round}: wrong echo (${chunk.length} bytes)`);
    round++;
    if (round === warmup) start = process.hrtime.bigint();
    if (round === warmup + rounds) {
      io.result({ ms: msSince(start), rounds });
      sock.end();
      return;
    }
    // The echo of `out` came back, so its write is long done: reusing the buffer is safe.
    fillPing(out, round);
    sock.write(out);
  });
  sock.on('error', (err) => io.error(`client: ${err.message}`));
  sock.on('close', () => (closed = true));
  io.onQuit(async () => {
    await waitUntil(() => closed, 3000);
    return {};
  });
}

/**
 * `size.conns` connections; once all are up, each runs `size.rounds` 64-byte round trips, all at
 * once. Time: from all connected to the last echo; the figure is round trips per second in all.
 */
export function pingpongManyClient(args: PeerArgs, io: PeerIo): void {
  const { conns, rounds } = args.size;
  const peers: Array<{ sock: net.Socket; out: Buffer; round: number }> = [];
  let connected = 0;
  let finished = 0;
  let closed = 0;
  let start = 0n;
  const ping = (p: { sock: net.Socket; out: Buffer; round: number }): void => {
    fillPing(p.out, p.round);
    p.sock.write(p.out);
  };
  for (let i = 0; i < conns; i++) {
    const p = { sock: null as unknown as net.Socket, out: Buffer.alloc(PING), round: 0 };
    p.sock = rawConnect(args.target, () => {
      if (++connected < conns) return;
      start = process.hrtime.bigint();
      peers.forEach(ping);
    });
    peers.push(p);
    let pending: Buffer | null = null;
    p.sock.on('data', (chunk: Buffer) => {
      if (pending !== null) {
        chunk = Buffer.concat([pending, chunk]);
        pending = null;
      }
      if (chunk.length < PING) {
        pending = chunk;
        return;
      }
      if (chunk.length !== PING || !samePing(chunk, 0, p.out)) io.error(`connection ${i} round ${p.round}: wrong echo (${chunk.length} bytes)`);
      if (++p.round < rounds) {
        ping(p); // the echo came back, so the write of `out` is done: reusing it is safe
        return;
      }
      p.sock.end();
      if (++finished === conns) io.result({ ms: msSince(start), rounds: rounds * conns });
    });
    p.sock.on('error', (err) => io.error(`connection ${i}: ${err.message}`));
    p.sock.on('close', () => closed++);
  }
  io.onQuit(async () => {
    await waitUntil(() => closed === conns, 3000);
    return {};
  });
}
