import { ReceiveBuffer } from '../../lib/core/recv-buffer';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe('ReceiveBuffer', () => {
  it('fills an exact recv across chunks and completes only when full', () => {
    const rb = new ReceiveBuffer(1024);
    const out = new Uint8Array(5);
    expect(rb.start(out, 5, false)).toBeNull();
    expect(rb.push(bytes(1, 2))).toBeNull();
    expect(rb.push(bytes(3))).toBeNull();
    const done = rb.push(bytes(4, 5, 6, 7));
    expect(done).not.toBeNull();
    expect(done!.filled).toBe(5);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5]);
    expect(rb.size).toBe(2);
    expect(rb.pending).toBeNull();
  });

  it('completes a partial recv with whatever is there', () => {
    const rb = new ReceiveBuffer(1024);
    rb.push(bytes(9, 8, 7));
    const out = new Uint8Array(10);
    const done = rb.start(out, 10, true);
    expect(done!.filled).toBe(3);
    expect(Array.from(out.subarray(0, 3))).toEqual([9, 8, 7]);
    expect(rb.size).toBe(0);
  });

  it('takes read-ahead in order, across many one-byte chunks', () => {
    const rb = new ReceiveBuffer(1 << 20);
    for (let i = 0; i < 3000; i++) rb.push(bytes(i & 0xff));
    const out = new Uint8Array(3000);
    const done = rb.start(out, 3000, false);
    expect(done!.filled).toBe(3000);
    for (let i = 0; i < 3000; i++) expect(out[i]).toBe(i & 0xff);
  });

  it('serves successive recvs from the middle of a chunk', () => {
    const rb = new ReceiveBuffer(1024);
    rb.push(bytes(1, 2, 3, 4, 5, 6));
    const a = new Uint8Array(2);
    const b = new Uint8Array(3);
    expect(Array.from(a.subarray(0, rb.start(a, 2, false)!.filled))).toEqual([1, 2]);
    expect(Array.from(b.subarray(0, rb.start(b, 3, false)!.filled))).toEqual([3, 4, 5]);
    expect(rb.size).toBe(1);
    expect(rb.drain().map((c) => Array.from(c))).toEqual([[6]]);
    expect(rb.size).toBe(0);
  });

  it('reports full at the bound and not below it', () => {
    const rb = new ReceiveBuffer(4);
    rb.push(bytes(1, 2, 3));
    expect(rb.full).toBe(false);
    rb.push(bytes(4));
    expect(rb.full).toBe(true);
    rb.start(new Uint8Array(1), 1, false);
    expect(rb.full).toBe(false);
  });

  it('completes short only when some bytes are there, and cancels', () => {
    const rb = new ReceiveBuffer(1024);
    const out = new Uint8Array(4);
    rb.start(out, 4, false);
    expect(rb.completeShort()).toBeNull();
    rb.push(bytes(7));
    const short = rb.completeShort();
    expect(short!.filled).toBe(1);
    rb.start(out, 4, false);
    expect(rb.cancel()!.buffer).toBe(out);
    expect(rb.pending).toBeNull();
  });

  it('drain hands over what is left of a partly read chunk', () => {
    const rb = new ReceiveBuffer(1024);
    rb.push(bytes(1, 2, 3));
    rb.push(bytes(4));
    rb.start(new Uint8Array(1), 1, false);
    expect(rb.drain().map((c) => Array.from(c))).toEqual([[2, 3], [4]]);
  });
});

describe('ReceiveBuffer cancel', () => {
  it('puts the bytes a cancelled exact recv had taken back in front, in order', () => {
    const rb = new ReceiveBuffer(1024);
    const out = new Uint8Array(10);
    rb.start(out, 10, false);
    rb.push(bytes(1, 2, 3));
    rb.push(bytes(4, 5));
    expect(rb.size).toBe(0);
    rb.cancel();
    out.fill(0); // the caller owns its buffer again
    expect(rb.size).toBe(5);
    rb.push(bytes(6));
    const next = new Uint8Array(6);
    expect(rb.start(next, 6, false)!.filled).toBe(6);
    expect(Array.from(next)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('puts them back before a partly consumed chunk', () => {
    const rb = new ReceiveBuffer(1024);
    rb.push(bytes(1, 2, 3, 4));
    const a = new Uint8Array(1);
    rb.start(a, 1, false); // takes 1, chunk head now at 2
    const b = new Uint8Array(10);
    rb.start(b, 10, false); // takes 2,3,4 and waits
    rb.cancel();
    const c = new Uint8Array(3);
    expect(Array.from(c.subarray(0, rb.start(c, 3, false)!.filled))).toEqual([2, 3, 4]);
  });

  it('copies what it keeps of a transient chunk (onread reuses one scratch buffer)', () => {
    const rb = new ReceiveBuffer(1024);
    const scratch = Buffer.from('abcdef');
    const out = new Uint8Array(2);
    rb.start(out, 2, false);
    expect(rb.push(scratch, true)).not.toBeNull(); // 'ab' straight into the recv
    scratch.fill(0x78); // Node reads the next bytes into the same memory
    rb.push(scratch.subarray(0, 2), true); // no recv pending: kept as read-ahead
    scratch.fill(0x79);
    const rest = new Uint8Array(6);
    expect(rb.start(rest, 6, false)?.filled).toBe(6);
    expect(Buffer.from(out).toString()).toBe('ab');
    expect(Buffer.from(rest).toString()).toBe('cdefxx');
  });
});

/** Detaches `b`'s ArrayBuffer, as transferring it to a worker or a MessagePort does. */
function detach(b: Uint8Array): void {
  const ab = b.buffer as ArrayBuffer;
  structuredClone(ab, { transfer: [ab] });
}

describe('ReceiveBuffer and a pending recv whose buffer was detached (issue #15, defect 5)', () => {
  it('push withdraws the recv instead of writing to it; the chunk waits for the next recv', () => {
    const rb = new ReceiveBuffer(1024);
    const out = new Uint8Array(4);
    expect(rb.start(out, 4, true)).toBeNull();
    detach(out);
    const req = rb.push(bytes(1, 2, 3));
    expect(req?.buffer).toBe(out);
    expect(req?.detached).toBe(true);
    expect(req?.filled).toBe(0);
    expect(rb.pending).toBeNull();
    expect(rb.size).toBe(3);
    const next = new Uint8Array(4);
    expect(rb.start(next, 4, true)?.filled).toBe(3);
    expect(Array.from(next.subarray(0, 3))).toEqual([1, 2, 3]);
  });

  it('copies a transient chunk it keeps that way', () => {
    const rb = new ReceiveBuffer(1024);
    const out = new Uint8Array(4);
    rb.start(out, 4, false);
    detach(out);
    const scratch = bytes(7, 8);
    expect(rb.push(scratch, true)?.detached).toBe(true);
    scratch.fill(0);
    const next = new Uint8Array(2);
    rb.start(next, 2, false);
    expect(Array.from(next)).toEqual([7, 8]);
  });

  it('an exact recv that had taken bytes is withdrawn with its count, the new chunk kept', () => {
    const rb = new ReceiveBuffer(1024);
    const out = new Uint8Array(6);
    rb.start(out, 6, false);
    expect(rb.push(bytes(1, 2))).toBeNull();
    detach(out);
    const req = rb.push(bytes(3, 4, 5));
    expect(req).toMatchObject({ detached: true, filled: 2 });
    expect(rb.size).toBe(3);
  });

  it('a recv made before the completion callback and served from the read-ahead (retry) is withdrawn too', () => {
    const rb = new ReceiveBuffer(1024);
    const out = new Uint8Array(4);
    rb.wait(out, 4, true);
    rb.hold(bytes(9)); // arrived before the completion callback: held, not served
    detach(out);
    expect(rb.retry()?.detached).toBe(true);
    expect(rb.size).toBe(1);
  });

  it('a buffer shrunk below the recv length (resizable ArrayBuffer) counts as gone; one still large enough does not', () => {
    type Resizable = ArrayBuffer & { resize(n: number): void };
    const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable)(8, { maxByteLength: 8 });
    const rb = new ReceiveBuffer(1024);
    const out = new Uint8Array(ab);
    rb.start(out, 4, true);
    ab.resize(5);
    expect(rb.push(bytes(1))).toMatchObject({ detached: false, filled: 1 });
    rb.start(out, 4, true);
    ab.resize(3);
    expect(rb.push(bytes(2))).toMatchObject({ detached: true, filled: 0 });
  });

  it('cancel does not throw (nothing can be copied back) and marks the request', () => {
    const rb = new ReceiveBuffer(1024);
    const out = new Uint8Array(6);
    rb.start(out, 6, false);
    rb.push(bytes(1, 2));
    detach(out);
    const req = rb.cancel(true);
    expect(req).toMatchObject({ detached: true, filled: 2 });
    expect(rb.size).toBe(0);
  });

  it('completeShort at the end of the stream withdraws it rather than completing it', () => {
    const rb = new ReceiveBuffer(1024);
    const out = new Uint8Array(6);
    rb.start(out, 6, false);
    rb.push(bytes(1, 2));
    detach(out);
    expect(rb.completeShort()).toMatchObject({ detached: true, filled: 2 });
    expect(rb.pending).toBeNull();
  });
});
