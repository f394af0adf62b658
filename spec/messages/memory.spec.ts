/**
 * What a message costs in memory (issue #15): a peer cannot make the reader allocate a length
 * it only claims; an allocation that fails ends that one connection, with a reason; a
 * delimited message never holds two copies of its buffer while it grows; and messages queued
 * for a peer that does not read cost about their bytes, not an object graph each.
 *
 * Allocations are watched by swapping the global `Uint8Array` for a counting subclass around
 * the code under test, so the measure does not depend on how the reader is written.
 */
import { IoMux, ShutdownReason } from '../../lib';
import { MessageErrorCode } from '../../lib/messages';
import { DelimiterFraming, U32Framing } from '../../lib/messages/framing';
import { SEND_CHUNK, SendQueue } from '../../lib/messages/send-queue';
import { READ_CHUNK, StreamReader } from '../../lib/messages/stream-reader';
import { closeAllRaw, StreamCollector } from '../helpers/net-helpers';
import { cleanupMessages, MessageRecorder, StreamServer, withRawPeer, wrap } from './message-harness';
import { rawConnect } from '../helpers/net-helpers';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/**
 * A full garbage collection, so that heap figures count what is kept, not the garbage of the
 * burst that V8 has not collected yet (how much of that is left varies with the Node line's V8
 * and the machine's load: once 37 MB on Node 24 in a loaded run).
 */
function fullGc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

afterEach(async () => {
  const violations = await cleanupMessages();
  await closeAllRaw();
  expect(violations).toEqual([]);
});

const MiB = 1024 * 1024;
/** `MessageErrorCode.NoMemory`, written out: the code is the stable part. */
const NO_MEMORY = 'ERR_MESSAGE_NO_MEMORY';
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

// ---------------------------------------------------------------------------------------
// Watching allocations
// ---------------------------------------------------------------------------------------

const Original = globalThis.Uint8Array;
interface Watch {
  /** The size of every `new Uint8Array(n)` while watched. */
  sizes: number[];
  /** Throw a RangeError (as V8 does when memory runs out) for this size. */
  failFor: (n: number) => boolean;
}
let watch: Watch | null = null;

class Counting extends Original {
  constructor(...args: unknown[]) {
    if (typeof args[0] === 'number' && watch) {
      if (watch.failFor(args[0])) throw new RangeError('Array buffer allocation failed');
      watch.sizes.push(args[0]);
    }
    super(...(args as [number]));
  }
}

/** Counts (and, where `failFor` says, fails) every `new Uint8Array(n)` until `stop()`. */
function watchAllocations(failFor: (n: number) => boolean = () => false): Watch & { stop(): void; total(): number } {
  const w: Watch = { sizes: [], failFor };
  watch = w;
  globalThis.Uint8Array = Counting as Uint8ArrayConstructor;
  return {
    ...w,
    get sizes() {
      return w.sizes;
    },
    stop() {
      globalThis.Uint8Array = Original;
      watch = null;
    },
    total: () => w.sizes.reduce((a, b) => a + b, 0),
  };
}

afterEach(() => {
  globalThis.Uint8Array = Original;
  watch = null;
});

/** Feeds `bytes` to `reader` through its own `space()`, as the socket's recvs do; returns what `next()` said last. */
function feed(reader: StreamReader, bytes: Uint8Array, step = READ_CHUNK): ReturnType<StreamReader['next']> {
  let off = 0;
  let last = reader.next();
  while (last === null && off < bytes.byteLength) {
    const space = reader.space();
    const n = Math.min(space.byteLength, step, bytes.byteLength - off);
    space.set(bytes.subarray(off, off + n));
    reader.wrote(n);
    off += n;
    last = reader.next();
  }
  return last;
}

// ---------------------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------------------

describe('the stream reader: memory follows the bytes that arrived', () => {
  it('u32: a header claiming 16 MiB plus 1,000 bytes makes it hold about 1,000 bytes, not 16 MiB', () => {
    const reader = new StreamReader(new U32Framing(16 * MiB), READ_CHUNK);
    const w = watchAllocations();
    try {
      expect(feed(reader, Buffer.concat([u32(16 * MiB), Buffer.alloc(1000, 7)]))).toBeNull();
      // Where the next recv may write: a bounded step, not the claimed length.
      expect(reader.space().byteLength).toBeLessThanOrEqual(READ_CHUNK);
      expect(reader.heldBytes).toBeLessThanOrEqual(2 * READ_CHUNK);
    } finally {
      w.stop();
    }
    expect(w.total()).toBeLessThanOrEqual(2 * READ_CHUNK);
  });

  it('u32: memory grows with what arrives, and the whole message still comes out intact', () => {
    const size = 3 * MiB + 123;
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i++) body[i] = (i * 7) % 251;
    const reader = new StreamReader(new U32Framing(16 * MiB), READ_CHUNK);
    const w = watchAllocations();
    let result: ReturnType<StreamReader['next']>;
    try {
      // One MiB in: what the reader took is about that, not the 3 MiB announced.
      expect(feed(reader, Buffer.concat([u32(size), body.subarray(0, MiB)]))).toBeNull();
      expect(w.total()).toBeLessThanOrEqual(MiB + 2 * READ_CHUNK);
      result = feed(reader, body.subarray(MiB));
    } finally {
      w.stop();
    }
    expect(result && 'message' in result && Buffer.from(result.message).equals(body)).toBe(true);
  });

  it('an allocation that fails becomes an error result (the connection ends), never an exception', () => {
    const size = 2 * MiB + 7;
    const reader = new StreamReader(new U32Framing(16 * MiB), READ_CHUNK);
    const w = watchAllocations((n) => n >= MiB);
    let result: ReturnType<StreamReader['next']> = null;
    try {
      expect(() => (result = feed(reader, Buffer.concat([u32(size), Buffer.alloc(size, 1)])))).not.toThrow();
    } finally {
      w.stop();
    }
    expect(result).toMatchObject({ error: { code: NO_MEMORY } });
  });

  it('delimiter: while a long message arrives, the reader holds it once (at most maxMessageSize + delimiter + a chunk), never old and grown copies', () => {
    const max = 4 * MiB;
    const delimiter = Buffer.from('\r\n');
    const body = Buffer.alloc(max, 0x61);
    const reader = new StreamReader(new DelimiterFraming(delimiter, max), max + delimiter.length);
    const w = watchAllocations();
    let result: ReturnType<StreamReader['next']>;
    try {
      expect(feed(reader, body)).toBeNull();
      // Everything allocated so far is still held in the chunk design, and bounds the peak of a growing one.
      expect(w.total()).toBeLessThanOrEqual(max + delimiter.length + 2 * READ_CHUNK);
      result = feed(reader, delimiter);
    } finally {
      w.stop();
    }
    expect(result && 'message' in result && Buffer.from(result.message).equals(body)).toBe(true);
    // The only other allocation: the app's own copy of the message.
    expect(w.total()).toBeLessThanOrEqual(2 * max + delimiter.length + 2 * READ_CHUNK);
  });

  it("delimiter: a multi-byte delimiter split across the reader's chunks is found, and the bytes after it start the next message", () => {
    const delimiter = Buffer.from('<end>');
    for (const len of [READ_CHUNK - 3, READ_CHUNK - 1, READ_CHUNK, 2 * READ_CHUNK + 2, 3 * READ_CHUNK - 4]) {
      const reader = new StreamReader(new DelimiterFraming(delimiter, 16 * MiB), 16 * MiB + delimiter.length);
      const a = Buffer.alloc(len, 0x41);
      const wire = Buffer.concat([a, delimiter, Buffer.from('next'), delimiter]);
      const first = feed(reader, wire.subarray(0, len + delimiter.length + 2), 1000);
      expect(first && 'message' in first && Buffer.from(first.message).equals(a)).toBe(true);
      const second = feed(reader, wire.subarray(len + delimiter.length + 2), 1000);
      expect(second && 'message' in second && Buffer.from(second.message).toString()).toBe('next');
    }
  });

  it('delimiter: no delimiter within maxMessageSize + its length, across chunks, is ERR_MESSAGE_TOO_LARGE', () => {
    const max = 3 * READ_CHUNK + 5;
    const reader = new StreamReader(new DelimiterFraming(Buffer.from('\n'), max), max + 1);
    expect(feed(reader, Buffer.alloc(max + 1, 0x61))).toMatchObject({ error: { code: MessageErrorCode.TooLarge } });
    const ok = new StreamReader(new DelimiterFraming(Buffer.from('\n'), max), max + 1);
    const r = feed(ok, Buffer.concat([Buffer.alloc(max, 0x61), Buffer.from('\n')]));
    expect(r && 'message' in r && r.message.byteLength).toBe(max);
    const late = new StreamReader(new DelimiterFraming(Buffer.from('\n'), max), max + 1);
    expect(feed(late, Buffer.concat([Buffer.alloc(max + 1, 0x61), Buffer.from('\n')]), 1000)).toMatchObject({ error: { code: MessageErrorCode.TooLarge } });
  });
});

// ---------------------------------------------------------------------------------------
// Over the network
// ---------------------------------------------------------------------------------------

describe('a message socket over TCP', () => {
  it('20 peers that each claim 16 MiB and send 1,000 bytes cost the server about their bytes, not 20 × 16 MiB', async () => {
    const srv = await new StreamServer('tcp', null, () => '').start();
    const PEERS = 20;
    const users: MessageRecorder[] = [];
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < PEERS; i++) {
      const raw = await rawConnect(srv.port);
      const user = new MessageRecorder(`peer ${i}`, { autoReceive: true });
      users.push(user);
      const ms = wrap(await srv.accepted(i), user);
      raw.write(Buffer.concat([u32(16 * MiB), Buffer.alloc(1000, i)]));
      // Every byte sent has reached the message socket once the socket counted it and a recv ran.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`peer ${i}: 1,004 bytes to arrive`)), 10000);
        const check = (): void => {
          if (ms.socket.bytesReceived >= 1004) {
            clearTimeout(timer);
            setImmediate(resolve);
          } else setImmediate(check);
        };
        check();
      });
    }
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(PEERS * MiB);
    expect(users.every((u) => u.count('messageReceived') === 0 && u.count('messageSocketShutdown') === 0)).toBe(true);
  });

  it('an allocation that fails ends only that connection: SOCKET_LOST with ERR_MESSAGE_NO_MEMORY, messageSocketShutdown once; another connection goes on', async () => {
    const size = 2 * MiB + 7; // an unusual size, so only this message's allocations fail
    const user = new MessageRecorder('server', { autoReceive: true });
    const { raw, ms, srv } = await withRawPeer(user);
    const w = watchAllocations((n) => n === size);
    try {
      raw.write(Buffer.concat([u32(size), Buffer.alloc(size, 3)]));
      expect(await user.waitForShutdown()).toBe(ShutdownReason.Lost);
    } finally {
      w.stop();
    }
    expect(ms.framingError).toBe(NO_MEMORY);
    expect(user.count('messageSocketShutdown')).toBe(1);
    expect(user.count('messageReceived')).toBe(0);

    const raw2 = await rawConnect(srv.port);
    const other = new MessageRecorder('other', { autoReceive: true, echo: true });
    wrap(await srv.accepted(1), other);
    const seen = new StreamCollector(raw2);
    raw2.write(Buffer.concat([u32(5), Buffer.from('hello')]));
    await other.waitForMessages(1);
    await seen.waitForBytes(9);
    expect(seen.data().equals(Buffer.concat([u32(5), Buffer.from('hello')]))).toBe(true);
  });

  it('100,000 empty messages queued for a peer that does not read cost about their bytes: no object graph per message', async () => {
    const user = new MessageRecorder('server');
    const { raw, ms } = await withRawPeer(user);
    raw.pause(); // the peer never reads
    const COUNT = 100_000;
    const empty = new Uint8Array(0);
    fullGc();
    const before = process.memoryUsage();
    for (let i = 0; i < COUNT; i++) ms.sendMessage(empty);
    fullGc();
    const after = process.memoryUsage();
    // Measured in the same turn: nothing the burst made has been written or released yet; the
    // collections leave what it keeps.
    const grown = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
    // The frames are 400 KB; the bound allows 20 bytes per message for everything else.
    expect(grown).toBeLessThan(COUNT * 4 + COUNT * 20);
    raw.destroy();
    await user.waitForShutdown();
  });

  it('many small messages sent at once reach the peer intact and in order, with one messageSendResult each, in order', async () => {
    const user = new MessageRecorder('server');
    const { raw, ms } = await withRawPeer(user);
    const seen = new StreamCollector(raw);
    const COUNT = 20_000;
    const expected: Buffer[] = [];
    for (let i = 0; i < COUNT; i++) {
      const m = Buffer.from(String(i % 997).repeat(i % 5));
      expected.push(u32(m.length), m);
      ms.sendMessage(m);
      if (i === COUNT / 2) {
        ms.sendMessage(Buffer.alloc(200_000, 9)); // one frame split across the queue's pieces
        expected.push(u32(200_000), Buffer.alloc(200_000, 9));
      }
    }
    const wire = Buffer.concat(expected);
    await seen.waitForBytes(wire.length, 20000);
    expect(seen.data().equals(wire)).toBe(true);
    await user.waitForSendResults(COUNT + 1, 20000);
    expect(user.count('messageSendResult')).toBe(COUNT + 1);
    expect(ms.messagesSent).toBe(COUNT + 1);
  });
});

// ---------------------------------------------------------------------------------------
// The send queue
// ---------------------------------------------------------------------------------------

describe('the send queue', () => {
  /** Takes every piece: their bytes joined, and the message counts that end in each. */
  function drain(q: SendQueue): { bytes: Buffer; ends: number[]; pieces: number[] } {
    const parts: Buffer[] = [];
    const ends: number[] = [];
    const pieces: number[] = [];
    for (let p = q.take(); p !== null; p = q.take()) {
      parts.push(Buffer.from(p));
      ends.push(q.takenEnds);
      pieces.push(p.byteLength);
      q.recycle(p);
    }
    return { bytes: Buffer.concat(parts), ends, pieces };
  }

  it('holds 100,000 empty u32 frames as their 400,000 bytes, in pieces of at most SEND_CHUNK', () => {
    const q = new SendQueue();
    const frame = new Uint8Array(4);
    for (let i = 0; i < 100_000; i++) q.push(frame);
    expect(q.bytes).toBe(400_000);
    // Pieces double up to SEND_CHUNK: at most one piece of slack, plus the small first ones.
    expect(q.heldBytes).toBeLessThanOrEqual(400_000 + 2 * SEND_CHUNK);
    const { bytes, ends, pieces } = drain(q);
    expect(bytes.length).toBe(400_000);
    expect(ends.reduce((a, b) => a + b, 0)).toBe(100_000);
    expect(Math.max(...pieces)).toBeLessThanOrEqual(SEND_CHUNK);
    expect(q.isEmpty).toBe(true);
  });

  it('a frame split across pieces counts as one message, in the piece that holds its last byte', () => {
    const q = new SendQueue();
    const big = Buffer.alloc(3 * SEND_CHUNK + 10, 5);
    q.push(Uint8Array.of(1));
    q.push(big);
    q.push(Uint8Array.of(2, 3));
    const { bytes, ends } = drain(q);
    expect(bytes.equals(Buffer.concat([Uint8Array.of(1), big, Uint8Array.of(2, 3)]))).toBe(true);
    expect(ends.reduce((a, b) => a + b, 0)).toBe(3);
    expect(ends[0]).toBe(1); // the first piece ends only the first message
  });

  it('an idle queue holds nothing once trimmed; a queue that cannot allocate queues nothing', () => {
    const q = new SendQueue();
    q.push(new Uint8Array(10));
    drain(q);
    q.trim();
    expect(q.heldBytes).toBe(0);
    const w = watchAllocations((n) => n >= 1024);
    try {
      expect(() => q.push(new Uint8Array(5000))).toThrow(RangeError);
    } finally {
      w.stop();
    }
    expect(q.isEmpty).toBe(true);
    q.push(Uint8Array.of(9));
    expect(drain(q).bytes).toEqual(Buffer.from([9]));
  });
});

describe('send results of queued messages', () => {
  it('one that throws (out of poll() on a manual IoMux) costs none of the others', async () => {
    const iomux = new IoMux({ dispatch: 'manual' });
    const errors: string[] = [];
    let running = true;
    const turn = (): void => {
      if (!running) return;
      try {
        iomux.poll();
      } catch (e) {
        errors.push((e as Error).message);
      }
      setImmediate(turn);
    };
    setImmediate(turn);
    try {
      const user = new MessageRecorder('server');
      const { raw, ms } = await withRawPeer(user, { iomux }, { iomux });
      const seen = new StreamCollector(raw);
      let calls = 0;
      user.onEvent = (e) => {
        if (e.name === 'messageSendResult' && ++calls === 12) throw new Error('boom from a send result');
      };
      const COUNT = 40; // more than go straight to the socket: the rest are queued and reported in groups
      for (let i = 0; i < COUNT; i++) ms.sendMessage(Buffer.from([i]));
      await user.waitForSendResults(COUNT);
      await seen.waitForBytes(COUNT * 5);
      expect(errors).toEqual(['boom from a send result']);
      expect(user.count('messageSendResult')).toBe(COUNT);
      ms.shutdown();
      expect(await user.waitForShutdown()).toBe(ShutdownReason.Normal);
    } finally {
      running = false;
    }
  });
});
