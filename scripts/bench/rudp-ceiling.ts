// The rudp bench's ceilings: what plain Node dgram does with no reliability at all, beside rudp's
// reliable workloads, to show how much of a miss against ENet is Node's own cost per datagram.
// Raw dgram recovers nothing, so these run on the lossless paths only. Ping-pong: 64 B datagrams
// one at a time against the UDP echo (udp-raw.ts rawServer). Bulk: the bulk workload's bytes one
// way in `size.datagram`-byte datagrams, sent flat out in bursts of `size.burst` per turn of the
// event loop; the figure is the receiver's rate, and what it missed is reported, not recovered.
import * as dgram from 'node:dgram';
import { PeerArgs, PeerIo, msSince } from './common';
import { PingPong } from './rudp-pump';
import { udpServer, udpSocket } from './udp-raw';

/** No echo (ping-pong) or no answer to the end marker (bulk) for this long: the run failed. */
const STALL_MS = 2000;
/** The bulk sender repeats its end marker this often until the receiver answers. */
const MARKER_MS = 50;
/** First byte of a bulk datagram: data, or the end marker. */
const DATA = 0;
const END = 1;

/** What the bulk receiver answers to an end marker. */
interface SinkCounts {
  datagrams: number;
  bytes: number;
  /** From its first data datagram to its last. */
  ms: number;
}

/** A connected client socket; `stop` closes it once (its timers too, through `onStop`). */
function connectClient(args: PeerArgs, io: PeerIo, begin: (s: dgram.Socket) => void): { s: dgram.Socket; stop(): void; onStop(f: () => void): void } {
  const s = udpSocket();
  const cleanups: Array<() => void> = [];
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    for (const f of cleanups) f();
    s.close();
  };
  s.on('error', (err) => io.error(`client: ${err.message}`));
  s.connect(args.target.port, '127.0.0.1', () => begin(s));
  io.onQuit(() => {
    stop();
    return {};
  });
  return { s, stop, onStop: (f) => cleanups.push(f) };
}

/** Ping-pong without reliability: the framework's loop (rudp-pump.ts PingPong) on a connected socket. */
export function pingpongClient(args: PeerArgs, io: PeerIo): void {
  let loop: PingPong | null = null;
  const c = connectClient(args, io, (s) => {
    loop = new PingPong(args.size.rounds, args.size.warmup, io, (m) => s.send(m)); // one at a time: m is not reused before its echo
    loop.begin();
  });
  let seen = -1;
  const watch = setInterval(() => {
    if (!loop || loop.round !== seen) {
      seen = loop?.round ?? -1;
      return;
    }
    io.error(`no echo of round ${loop.round} within ${STALL_MS} ms (raw dgram recovers no loss)`);
    io.result({});
    c.stop();
  }, STALL_MS);
  c.onStop(() => clearInterval(watch));
  c.s.on('message', (m) => {
    const figures = loop?.echo(m);
    if (!figures) return;
    io.result(figures);
    c.stop();
  });
}

/** Bulk ceiling, the receiver: counts data datagrams and answers every end marker with its counts. */
export function sinkServer(_args: PeerArgs, io: PeerIo): void {
  const s = udpServer(io);
  let datagrams = 0;
  let bytes = 0;
  let first = 0;
  let last = 0;
  s.on('message', (m, from) => {
    if (m.length > 0 && m[0] === DATA) {
      last = performance.now();
      if (datagrams++ === 0) first = last;
      bytes += m.length;
      return;
    }
    const counts: SinkCounts = { datagrams, bytes, ms: last - first };
    s.send(JSON.stringify(counts), from.port, from.address);
  });
}

/**
 * Bulk ceiling, the sender: `size.bytes` in `size.datagram`-byte datagrams (the last one
 * shorter), `size.burst` per turn of the event loop, then the end marker until the receiver
 * answers. The RESULT's `ms` and `bytes` are the receiver's: the figure is its receive rate.
 */
export function floodClient(args: PeerArgs, io: PeerIo): void {
  const { bytes, datagram, burst } = args.size;
  const total = Math.ceil(bytes / datagram);
  // Every data datagram is the same bytes, so one buffer serves all (dgram keeps a reference to what it queues).
  const full = Buffer.alloc(datagram, DATA);
  const tail = full.subarray(0, bytes - (total - 1) * datagram);
  let sent = 0;
  let start = 0n;
  let sendMs = -1;
  let marker: NodeJS.Timeout | null = null;
  const c = connectClient(args, io, (s) => {
    start = process.hrtime.bigint();
    pump(s);
  });
  c.onStop(() => clearInterval(marker ?? undefined));
  const pump = (s: dgram.Socket): void => {
    // libuv queues only what the kernel did not take at once: bounding that queue bounds the sender's memory.
    if (s.getSendQueueCount() < burst) for (const end = Math.min(total, sent + burst); sent < end; sent++) s.send(sent === total - 1 ? tail : full);
    if (sent < total) return void setImmediate(pump, s);
    sendMs = msSince(start);
    const end = Buffer.of(END);
    let tries = 0;
    const ask = (): void => {
      if (tries++ * MARKER_MS < STALL_MS) return void s.send(end);
      io.error(`no answer to the end marker within ${STALL_MS} ms`);
      io.result({});
      c.stop();
    };
    ask();
    marker = setInterval(ask, MARKER_MS);
  };
  c.s.on('message', (m) => {
    if (sendMs < 0) return;
    const got = JSON.parse(m.toString()) as SinkCounts;
    const offeredMiBs = bytes / (1 << 20) / (sendMs / 1000);
    io.result({ ms: got.ms, bytes: got.bytes, datagrams: got.datagrams, sent: total, lost: total - got.datagrams, sendMs, offeredMiBs });
    c.stop();
  });
}
