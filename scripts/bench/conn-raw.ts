// Connection workloads in plain Node (the framework versions are in conn-fw.ts): accept rate,
// idle connections (memory, 10,000 concurrent echoes), STARTTLS upgrades.
import * as net from 'node:net';
import * as tls from 'node:tls';
import { PeerArgs, PeerIo, PING, fillPing, msSince, readPem, samePing, waitUntil } from './common';
import { MemoryProbe } from './memory';
import { rawListen } from './stream-raw';

const HELLO = 0x41;
const GO = 0x53;

/** Reads exactly 64 bytes, whatever the chunking, then calls `done` with them. */
function collect64(sock: net.Socket, done: (msg: Buffer) => void): void {
  let pending: Buffer | null = null;
  sock.on('data', (chunk: Buffer) => {
    if (pending !== null) {
      chunk = Buffer.concat([pending, chunk]);
      pending = null;
    }
    if (chunk.length < PING) pending = chunk;
    else done(chunk);
  });
}

// ---- accept rate ----------------------------------------------------------------------------

export function acceptServer(args: PeerArgs, io: PeerIo): void {
  const hello = Buffer.of(HELLO);
  rawListen(io, args.target, (sock) => {
    sock.write(hello);
    sock.resume(); // read to the peer's FIN; Node then ends our side (allowHalfOpen false)
  });
}

export function acceptClient(args: PeerArgs, io: PeerIo): void {
  const { total, inflight } = args.size;
  let started = 0;
  let done = 0;
  const start = process.hrtime.bigint();
  const finished = (): void => {
    if (++done === total) io.result({ ms: msSince(start), connections: total });
    else next();
  };
  const next = (): void => {
    if (started >= total) return;
    started++;
    const sock = net.connect(args.target.port, '127.0.0.1');
    sock.setNoDelay(true);
    let over = false;
    const end = (): void => {
      if (!over) {
        over = true;
        finished();
      }
    };
    sock.once('data', (chunk: Buffer) => {
      if (chunk[0] !== HELLO) io.error(`wrong greeting ${chunk[0]}`);
      sock.end(end); // 'finish': our FIN is out, as the framework's NORMAL
    });
    sock.on('error', (err) => {
      io.error(`client connection: ${err.message}`);
      end();
    });
  };
  for (let i = 0; i < inflight; i++) next();
  io.onQuit(() => ({ done }));
}

// ---- idle connections -----------------------------------------------------------------------

export function idleServer(args: PeerArgs, io: PeerIo): void {
  const probe = new MemoryProbe(io, args);
  rawListen(io, args.target, (sock) => {
    let first = true;
    sock.on('data', (chunk: Buffer) => {
      sock.write(chunk);
      if (first) {
        first = false;
        probe.echoed();
      }
    });
  });
}

export function idleClient(args: PeerArgs, io: PeerIo): void {
  const { conns, inflight, afterOpen } = args.size;
  const socks: Array<{ sock: net.Socket; out: Buffer }> = [];
  let started = 0;
  let connected = 0;
  let echoed = 0;
  let closed = 0;
  let quitting = false;
  let connectMs = 0;
  const start = process.hrtime.bigint();
  const ping = (p: { sock: net.Socket; out: Buffer }): void => void p.sock.write(p.out);
  const next = (): void => {
    if (started >= conns) return;
    const id = started++;
    const out = Buffer.alloc(PING);
    fillPing(out, id);
    const sock = net.connect(args.target.port, '127.0.0.1');
    const p = { sock, out };
    socks.push(p);
    sock.setNoDelay(true);
    sock.on('connect', () => {
      connected++;
      next();
      if (!afterOpen) ping(p);
      else if (connected === conns) {
        connectMs = msSince(start);
        socks.forEach(ping);
      }
    });
    collect64(sock, (msg) => {
      if (msg.length !== PING || !samePing(msg, 0, out)) io.error(`connection ${id}: wrong echo`);
      if (++echoed === conns) io.result({ ms: msSince(start), connectMs: connectMs || msSince(start), conns, echoed });
    });
    sock.on('error', (err) => io.error(`connection ${id}: ${err.message}`));
    sock.on('close', () => {
      closed++;
      if (!quitting) {
        io.error(`connection ${id} closed early`);
        next();
      }
    });
  };
  for (let i = 0; i < inflight; i++) next();
  io.onQuit(async () => {
    quitting = true;
    for (const p of socks) p.sock.end();
    await waitUntil(() => closed === socks.length, 5000);
    return { connected, echoed };
  });
}

// ---- STARTTLS -------------------------------------------------------------------------------

export function starttlsServer(args: PeerArgs, io: PeerIo): void {
  const pem = readPem(args.target.serverPemFile);
  const secureContext = tls.createSecureContext({ cert: pem, key: pem, minVersion: 'TLSv1.2' });
  const go = Buffer.of(GO);
  rawListen(io, { ...args.target, kind: 'tcp' }, (sock) => {
    sock.write(go, () => {
      const secure = new tls.TLSSocket(sock, { isServer: true, secureContext });
      secure.on('error', (err) => io.error(`upgraded connection: ${err.message}`));
      collect64(secure, (msg) => secure.write(msg));
    });
  });
}

export function starttlsClient(args: PeerArgs, io: PeerIo): void {
  const ca = readPem(args.target.caFile);
  const { total, inflight } = args.size;
  let started = 0;
  let done = 0;
  const start = process.hrtime.bigint();
  const finished = (): void => {
    if (++done === total) io.result({ ms: msSince(start), upgrades: total });
    else next();
  };
  const next = (): void => {
    if (started >= total) return;
    const id = started++;
    const out = Buffer.alloc(PING);
    fillPing(out, id);
    let over = false;
    const end = (): void => {
      if (!over) {
        over = true;
        finished();
      }
    };
    const sock = net.connect(args.target.port, '127.0.0.1');
    sock.setNoDelay(true);
    sock.on('error', (err) => {
      io.error(`connection: ${err.message}`);
      end();
    });
    sock.once('data', (chunk: Buffer) => {
      if (chunk.length !== 1 || chunk[0] !== GO) io.error(`wrong STARTTLS go-ahead ${chunk[0]}`);
      const secure = tls.connect({ socket: sock, servername: 'localhost', ca, minVersion: 'TLSv1.2' }, () => secure.write(out));
      secure.on('error', (err) => {
        io.error(`upgraded connection: ${err.message}`);
        end();
      });
      collect64(secure, (msg) => {
        if (msg.length !== PING || !samePing(msg, 0, out)) io.error('wrong echo over STARTTLS');
        secure.end(end);
      });
    });
  };
  for (let i = 0; i < inflight; i++) next();
  io.onQuit(() => ({ done }));
}
