/**
 * The framings and the stream reader without sockets: the exact bytes of each framing (so the
 * wire format is written down here, not only proven self-consistent), the errors a peer can
 * cause, and a property: any sequence of messages, framed and delivered in chunks of any
 * sizes, comes out of the reader as the same messages.
 */
import fc from 'fast-check';
import { MessageErrorCode } from '../../lib/messages';
import { DelimiterFraming, Framing, ScanResult, U32Framing, VarintFraming, varintLength, writeVarint } from '../../lib/messages/framing';
import { READ_CHUNK, StreamReader } from '../../lib/messages/stream-reader';

const MAX = 16 * 1024 * 1024;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const scan = (f: Framing, bytes: number[] | Uint8Array): ScanResult => {
  const buf = Uint8Array.from(bytes);
  return f.scan(buf, 0, buf.byteLength);
};

describe("'u32' framing", () => {
  it('is a 4-byte big-endian length, then the payload', () => {
    const f = new U32Framing(MAX);
    expect(hex(f.frame(Buffer.from('hi')))).toBe('00000002' + '6869');
    expect(hex(f.frame(new Uint8Array(0)))).toBe('00000000');
    expect(hex(f.frame(new Uint8Array(0x010203)).subarray(0, 4))).toBe('00010203');
  });

  it('finds a message only once header and payload are complete', () => {
    const f = new U32Framing(MAX);
    expect(scan(f, [0, 0, 0])).toEqual({ kind: 'more' });
    expect(scan(f, [0, 0, 0, 3, 1, 2])).toEqual({ kind: 'more', headerLength: 4, frameLength: 7 });
    expect(scan(f, [0, 0, 0, 3, 1, 2, 3, 9])).toEqual({ kind: 'message', start: 4, end: 7, next: 7 });
  });

  it('refuses a length above maxMessageSize as soon as the header is there, lengths up to 2^32 - 1 included', () => {
    expect(scan(new U32Framing(10), [0, 0, 0, 11])).toMatchObject({ kind: 'error', code: MessageErrorCode.TooLarge });
    expect(scan(new U32Framing(10), [0, 0, 0, 10])).toMatchObject({ kind: 'more' });
    expect(scan(new U32Framing(MAX), [0xff, 0xff, 0xff, 0xff])).toMatchObject({ kind: 'error', code: MessageErrorCode.TooLarge });
    expect(scan(new U32Framing(0xffffffff), [0xff, 0xff, 0xff, 0xff])).toMatchObject({ kind: 'more', frameLength: 4 + 0xffffffff });
  });
});

describe("'varint' framing", () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16383, 'ff7f'],
    [16384, '808001'],
    [16 * 1024 * 1024, '80808008'],
    [0xffffffff, 'ffffffff0f'],
  ])('encodes the length %d as unsigned LEB128 %s', (value, expected) => {
    const out = new Uint8Array(5);
    const n = writeVarint(out, value);
    expect(hex(out.subarray(0, n))).toBe(expected);
    expect(varintLength(value)).toBe(n);
  });

  it('frames as the varint length, then the payload', () => {
    const f = new VarintFraming(MAX);
    expect(hex(f.frame(Buffer.from('hi')))).toBe('02' + '6869');
    expect(hex(f.frame(new Uint8Array(300)).subarray(0, 3))).toBe('ac0200');
  });

  it('reads lengths of every size, also non-minimal encodings up to 5 bytes', () => {
    const f = new VarintFraming(MAX);
    expect(scan(f, [0xac])).toEqual({ kind: 'more' });
    expect(scan(f, [0xac, 0x02])).toEqual({ kind: 'more', headerLength: 2, frameLength: 302 });
    expect(scan(f, [0x02, 7, 8])).toEqual({ kind: 'message', start: 1, end: 3, next: 3 });
    expect(scan(f, [0x80, 0x80, 0x80, 0x80, 0x00])).toEqual({ kind: 'message', start: 5, end: 5, next: 5 });
  });

  it('refuses a length above maxMessageSize from the first byte that shows it, and a prefix of more than 5 bytes', () => {
    expect(scan(new VarintFraming(100), [0xe5])).toMatchObject({ kind: 'error', code: MessageErrorCode.TooLarge });
    expect(scan(new VarintFraming(100), [0xe4, 0x00])).toMatchObject({ kind: 'more' });
    expect(scan(new VarintFraming(MAX), [0x80, 0x80, 0x80, 0x80, 0x10])).toMatchObject({ kind: 'error', code: MessageErrorCode.TooLarge });
    expect(scan(new VarintFraming(MAX), [0x80, 0x80, 0x80, 0x80, 0x80, 0x00])).toMatchObject({ kind: 'error', code: MessageErrorCode.BadLength });
  });
});

describe('delimiter framing', () => {
  it('is the payload, then the delimiter', () => {
    expect(hex(new DelimiterFraming(Buffer.from('\r\n'), MAX).frame(Buffer.from('hi')))).toBe('6869' + '0d0a');
    expect(hex(new DelimiterFraming(Uint8Array.of(0), MAX).frame(new Uint8Array(0)))).toBe('00');
  });

  it('throws RangeError for a message that contains the delimiter, or ends with its start', () => {
    const crlf = new DelimiterFraming(Buffer.from('\r\n'), MAX);
    expect(() => crlf.frame(Buffer.from('a\r\nb'))).toThrow(/contains the delimiter \(at byte 1\)/);
    expect(() => crlf.frame(Buffer.from('ends with CR\r'))).not.toThrow(); // "\r" + "\r\n": the first \r\n is the delimiter
    const aba = new DelimiterFraming(Buffer.from('aba'), MAX);
    expect(() => aba.frame(Buffer.from('xab'))).toThrow(/ends with the start of the delimiter/);
    expect(() => aba.frame(Buffer.from('xb'))).not.toThrow();
  });

  it('finds the first delimiter, also one split across scans', () => {
    const f = new DelimiterFraming(Buffer.from('\r\n'), MAX);
    const buf = Buffer.from('abc\r\ndef');
    expect(f.scan(buf, 0, 4)).toEqual({ kind: 'more' });
    expect(f.scan(buf, 0, 8)).toEqual({ kind: 'message', start: 0, end: 3, next: 5 });
    expect(f.scan(buf, 5, 8)).toEqual({ kind: 'more' });
  });

  it('refuses a message once maxMessageSize + delimiter bytes hold no delimiter, or the delimiter comes later than that', () => {
    const f = new DelimiterFraming(Buffer.from('\n'), 4);
    expect(scan(f, Buffer.from('abcd'))).toEqual({ kind: 'more' });
    expect(scan(f, Buffer.from('abcd\n'))).toMatchObject({ kind: 'message', end: 4 });
    expect(scan(new DelimiterFraming(Buffer.from('\n'), 4), Buffer.from('abcde'))).toMatchObject({ kind: 'error', code: MessageErrorCode.TooLarge });
    expect(scan(new DelimiterFraming(Buffer.from('\n'), 4), Buffer.from('abcdefg\n'))).toMatchObject({ kind: 'error', code: MessageErrorCode.TooLarge });
  });
});

describe('the stream reader', () => {
  /** Feeds `wire` to a reader in chunks of the given sizes (cycled); returns the messages or the error. */
  function readAll(framing: Framing, growLimit: number, wire: Uint8Array, chunks: number[], count: number): Array<string> | string {
    const reader = new StreamReader(framing, growLimit);
    const out: string[] = [];
    let off = 0;
    let turn = 0;
    while (out.length < count) {
      const next = reader.next();
      if (next && 'message' in next) {
        // The app's own memory: not a view into the reader's buffer.
        if (next.message.byteOffset !== 0 || next.message.buffer.byteLength !== next.message.byteLength) return 'a view';
        out.push(hex(next.message));
        continue;
      }
      if (next) return next.error.code;
      const space = reader.space();
      if (space.byteLength === 0) return 'no room';
      if (off >= wire.byteLength) return `ran out of bytes after ${out.length} messages`;
      const n = Math.min(space.byteLength, chunks[turn++ % chunks.length], wire.byteLength - off);
      space.set(wire.subarray(off, off + n));
      reader.wrote(n);
      off += n;
    }
    return out;
  }

  const message = fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.integer({ min: READ_CHUNK - 10, max: READ_CHUNK * 2 + 10 }).map((n) => new Uint8Array(n).fill(n % 251)) },
  );
  const chunks = fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 });

  it.each([
    ['u32', () => new U32Framing(MAX)],
    ['varint', () => new VarintFraming(MAX)],
  ])('%s: any messages in any chunks come out whole and in order', (_name, make) => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 8 }), chunks, (messages, sizes) => {
        const framing = make();
        const wire = Buffer.concat(messages.map((m) => Buffer.from(framing.frame(m))));
        expect(readAll(framing, READ_CHUNK, wire, sizes, messages.length)).toEqual(messages.map(hex));
      }),
      { numRuns: 150 },
    );
  });

  it('delimiter: any messages without the delimiter, in any chunks, come out whole and in order', () => {
    const delimiter = Buffer.from('\r\n');
    const noDelimiter = message.map((m) => m.map((b) => (b === 0x0d ? 0x0e : b)));
    fc.assert(
      fc.property(fc.array(noDelimiter, { maxLength: 8 }), chunks, (messages, sizes) => {
        const framing = new DelimiterFraming(delimiter, MAX);
        const wire = Buffer.concat(messages.map((m) => Buffer.from(framing.frame(m))));
        expect(readAll(framing, MAX + 2, wire, sizes, messages.length)).toEqual(messages.map(hex));
      }),
      { numRuns: 150 },
    );
  });

  it('delimiter: a message longer than maxMessageSize is refused even when it arrives a byte at a time', () => {
    const wire = Buffer.from('a'.repeat(300) + '\n');
    expect(readAll(new DelimiterFraming(Buffer.from('\n'), 100), READ_CHUNK, wire, [1], 1)).toBe(MessageErrorCode.TooLarge);
    expect(readAll(new DelimiterFraming(Buffer.from('\n'), 300), READ_CHUNK, wire, [1], 1)).toEqual([hex(wire.subarray(0, 300))]);
  });
});
