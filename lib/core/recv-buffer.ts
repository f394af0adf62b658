/** One pending `recv`: where its bytes go and how many are there so far. */
export interface RecvRequest {
  buffer: Uint8Array;
  len: number;
  partial: boolean;
  filled: number;
  /**
   * Set when the buffer was found unusable before bytes were written to it: detached (its
   * ArrayBuffer transferred, byteLength 0) or shrunk below `len` (a resizable ArrayBuffer).
   * Such a request is withdrawn, not completed: the owner reports it cancelled; the bytes it
   * did not take stay in the read-ahead for the next recv. See {@link isDetached}.
   */
  detached: boolean;
}

/**
 * Whether the request's buffer can no longer hold what was asked: the app detached it
 * (transferred its ArrayBuffer to a worker or a MessagePort) or shrank its resizable
 * ArrayBuffer while the recv was pending. `len` was checked against the buffer at recv() time,
 * so this is the one way it can fail later. Writing to it would throw from Node's read callback.
 */
export function isDetached(req: RecvRequest): boolean {
  return req.buffer.byteLength < req.len;
}

/**
 * The read-ahead of a stream socket and its one pending `recv`.
 *
 * Bytes that arrive while a recv is pending go straight into the caller's buffer; the rest
 * waits here as a list of the chunks Node gave us (no copying until a recv takes them).
 * The owner pauses the Node stream while {@link ReceiveBuffer.full} and resumes it when a recv
 * drains it, so a sender nobody reads from is held back by TCP flow control.
 */
export class ReceiveBuffer {
  private chunks: Uint8Array[] = [];
  /** Index of the first live chunk: consumed ones are dropped in batches, not shifted one by one. */
  private first = 0;
  /** Bytes of `chunks[first]` already delivered. */
  private head = 0;
  private buffered = 0;
  private request: RecvRequest | null = null;

  /** @param limit read-ahead bound in bytes */
  constructor(readonly limit: number) {}

  /** Bytes read ahead and not yet delivered. */
  get size(): number {
    return this.buffered;
  }

  /** The pending recv, if any. */
  get pending(): RecvRequest | null {
    return this.request;
  }

  /** The read-ahead reached its bound: stop reading from the network. */
  get full(): boolean {
    return this.buffered >= this.limit;
  }

  /**
   * Data arrived; returns the recv it completed, if any. `transient`: `chunk` is only valid
   * during this call (a scratch buffer Node reads into), so what is kept is copied.
   */
  push(chunk: Uint8Array, transient = false): RecvRequest | null {
    const req = this.request;
    if (req !== null && this.buffered === 0) {
      if (isDetached(req)) {
        this.append(chunk, transient);
        return this.withdraw(req);
      }
      const n = Math.min(chunk.byteLength, req.len - req.filled);
      req.buffer.set(n === chunk.byteLength ? chunk : chunk.subarray(0, n), req.filled);
      req.filled += n;
      if (n < chunk.byteLength) this.append(chunk.subarray(n), transient);
      return this.completeIfReady(req);
    }
    this.append(chunk, transient);
    return req === null ? null : this.fill(req);
  }

  /** Data arrived while recvs must not complete yet (the connection is not reported): keep it. */
  hold(chunk: Uint8Array, transient = false): null {
    this.append(chunk, transient);
    return null;
  }

  /** Registers a recv without serving it yet; {@link ReceiveBuffer.retry} serves it later. */
  wait(buffer: Uint8Array, len: number, partial: boolean): void {
    this.request = { buffer, len, partial, filled: 0, detached: false };
  }

  /** Serves the pending recv from the read-ahead; returns it if that completed it. */
  retry(): RecvRequest | null {
    return this.request === null ? null : this.fill(this.request);
  }

  /** Starts a recv; returns it already completed when the read-ahead satisfies it. */
  start(buffer: Uint8Array, len: number, partial: boolean): RecvRequest | null {
    const req: RecvRequest = { buffer, len, partial, filled: 0, detached: false };
    this.request = req;
    return this.fill(req);
  }

  /**
   * Removes the pending recv (cancel) and returns it. Bytes it had already taken go back to
   * the front of the read-ahead (copied, as the caller owns its buffer again): a cancelled
   * exact recv loses nothing. `keepBytes` false skips that when the socket is going away.
   * A detached buffer has nothing left to copy: the request comes back marked `detached`.
   */
  cancel(keepBytes = true): RecvRequest | null {
    const req = this.request;
    this.request = null;
    if (req !== null && isDetached(req)) {
      req.detached = true;
      return req;
    }
    if (keepBytes && req !== null && req.filled > 0) {
      const back = req.buffer.slice(0, req.filled);
      if (this.head > 0) {
        this.chunks[this.first] = this.chunks[this.first].subarray(this.head);
        this.head = 0;
      }
      this.chunks.splice(this.first, 0, back);
      this.buffered += back.byteLength;
    }
    return req;
  }

  /**
   * End of stream: completes the pending recv short if it holds any bytes (withdrawn, marked
   * `detached`, if its buffer went away with them).
   */
  completeShort(): RecvRequest | null {
    const req = this.request;
    if (req === null || req.filled === 0) return null;
    if (isDetached(req)) return this.withdraw(req);
    this.request = null;
    return req;
  }

  /** Drops everything read ahead (the socket is going away). */
  clear(): void {
    this.chunks = [];
    this.first = 0;
    this.head = 0;
    this.buffered = 0;
  }

  /** Takes every byte read ahead, in order, leaving the buffer empty (STARTTLS hand-over). */
  drain(): Uint8Array[] {
    const out = this.chunks.slice(this.first);
    if (out.length > 0 && this.head > 0) out[0] = out[0].subarray(this.head);
    this.clear();
    return out;
  }

  private append(chunk: Uint8Array, transient = false): void {
    if (transient) chunk = Buffer.from(chunk); // Buffer.from(Uint8Array) copies
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
  }

  private fill(req: RecvRequest): RecvRequest | null {
    if (this.buffered > 0 && isDetached(req)) return this.withdraw(req);
    while (this.buffered > 0 && req.filled < req.len) {
      const chunk = this.chunks[this.first];
      const available = chunk.byteLength - this.head;
      const n = Math.min(available, req.len - req.filled);
      req.buffer.set(chunk.subarray(this.head, this.head + n), req.filled);
      req.filled += n;
      this.buffered -= n;
      if (n === available) {
        this.first++;
        this.head = 0;
      } else {
        this.head += n;
      }
    }
    if (this.buffered === 0) {
      this.chunks.length = 0;
      this.first = 0;
    } else if (this.first > 1024) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
    return this.completeIfReady(req);
  }

  /** Takes back a request whose buffer went away (see {@link RecvRequest.detached}); returns it marked. */
  private withdraw(req: RecvRequest): RecvRequest {
    this.request = null;
    req.detached = true;
    return req;
  }

  private completeIfReady(req: RecvRequest): RecvRequest | null {
    if (req.filled === req.len || (req.partial && req.filled > 0)) {
      this.request = null;
      return req;
    }
    return null;
  }
}
