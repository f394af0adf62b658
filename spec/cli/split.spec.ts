/**
 * How the tool cuts stdin: a datagram per stdin read (udp, DTLS), at most the largest payload
 * each; a message per line (rudp), whatever the reads were, lines longer than the limit in
 * pieces, and never more than the limit waiting for a newline.
 */
import { datagramSplitter, LineSplitter, MAX_DATAGRAM, MAX_DTLS_DATAGRAM } from '../../lib/cli/split';

const text = (pieces: Buffer[]): string[] => pieces.map((p) => p.toString());

describe('datagramSplitter', () => {
  it('one datagram per read; a longer read in pieces of the largest payload, in order', () => {
    const split = datagramSplitter(MAX_DATAGRAM);
    expect(text(split.push(Buffer.from('a\nb\n')))).toEqual(['a\nb\n']);
    const big = Buffer.alloc(MAX_DATAGRAM * 2 + 5, 7);
    expect(split.push(big).map((p) => p.length)).toEqual([MAX_DATAGRAM, MAX_DATAGRAM, 5]);
    expect(split.end()).toEqual([]);
    expect(
      datagramSplitter(MAX_DTLS_DATAGRAM)
        .push(Buffer.alloc(65536))
        .map((p) => p.length),
    ).toEqual([65470, 66]);
  });
});

describe('LineSplitter', () => {
  it('a message per line, with its newline, across reads; the unfinished last line at the end', () => {
    const split = new LineSplitter();
    expect(text(split.push(Buffer.from('one\ntwo\nthr')))).toEqual(['one\n', 'two\n']);
    expect(text(split.push(Buffer.from('ee')))).toEqual([]);
    expect(text(split.push(Buffer.from('\n\nfour\n')))).toEqual(['three\n', '\n', 'four\n']);
    expect(text(split.push(Buffer.from('tail')))).toEqual([]);
    expect(text(split.end())).toEqual(['tail']);
    expect(split.end()).toEqual([]);
  });

  it('a line longer than the limit goes in pieces of the limit; at most the limit waits for a newline', () => {
    const split = new LineSplitter(4);
    expect(text(split.push(Buffer.from('abcdefghij\nxy')))).toEqual(['abcd', 'efgh', 'ij\n']);
    expect(text(split.push(Buffer.from('z')))).toEqual([]);
    expect(text(split.push(Buffer.from('w')))).toEqual(['xyzw']);
    expect(text(split.push(Buffer.from('abc\n')))).toEqual(['abc\n']); // exactly the limit, newline included
    expect(text(split.push(Buffer.from('abcd\n')))).toEqual(['abcd', '\n']);
    expect(split.end()).toEqual([]);
  });

  it('does not keep the caller’s buffer: what waits for its newline is a copy', () => {
    const split = new LineSplitter();
    const chunk = Buffer.from('keep');
    split.push(chunk);
    chunk.fill(0x21);
    expect(text(split.end())).toEqual(['keep']);
  });
});
