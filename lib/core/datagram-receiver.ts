import { SocketErrorCode, SocketStateError } from '../errors';
import { Datagram, DatagramQueue } from './datagram-queue';

/** A completed datagram recv, as `socketRecvFromResult` reports it. */
export interface DatagramResult {
  buffer: Uint8Array;
  len: number;
  address: string;
  port: number;
}

/**
 * Hands a completed datagram recv to the owner, which posts `socketRecvFromResult`;
 * `fromEvent` says it completed in a Node event handler, not inside an API call.
 */
export type DatagramDelivery = (result: DatagramResult, fromEvent: boolean) => void;

/**
 * The receiving side of a datagram socket (UDP, DTLS): one pending recv, a bounded queue for
 * datagrams nobody asked for yet, and the cut of a datagram longer than the recv.
 */
export class DatagramReceiver {
  private readonly queue: DatagramQueue;
  private pending: { buffer: Uint8Array; len: number } | null = null;

  constructor(
    limit: number,
    private readonly delivered: DatagramDelivery,
    private readonly trace: (message: string) => void,
  ) {
    this.queue = new DatagramQueue(limit);
  }

  /** Datagrams dropped because the queue was full. */
  get dropped(): number {
    return this.queue.dropped;
  }

  /** Bytes of the datagrams waiting for a recv. */
  get queuedBytes(): number {
    return this.queue.bytes;
  }

  /** Datagrams waiting for a recv. */
  get queued(): number {
    return this.queue.size;
  }

  get hasPending(): boolean {
    return this.pending !== null;
  }

  /**
   * A datagram arrived: to the pending recv, else into the queue (or dropped and counted).
   * `fromEvent`: called straight from the socket's 'message' event.
   */
  arrive(d: Datagram, fromEvent = false): void {
    const req = this.pending;
    if (req) {
      this.pending = null;
      this.deliver(req.buffer, req.len, d, fromEvent);
    } else if (!this.queue.push(d) && (this.queue.dropped & (this.queue.dropped - 1)) === 0) {
      // Logged at 1, 2, 4, 8… drops: visible without flooding the log.
      this.trace(`datagram queue full (${this.queue.limit}): ${this.queue.dropped} dropped so far`);
    }
  }

  /** A recv: served from the queue at once, or kept until a datagram arrives. */
  request(buffer: Uint8Array, len: number): void {
    if (this.pending) throw new SocketStateError(SocketErrorCode.RecvPending, 'recv() while another recv is pending');
    const queued = this.queue.shift();
    if (queued) this.deliver(buffer, len, queued, false);
    else this.pending = { buffer, len };
  }

  /** Removes the pending recv; returns its buffer. */
  cancel(): Uint8Array | null {
    const req = this.pending;
    this.pending = null;
    return req ? req.buffer : null;
  }

  /** Takes every queued datagram, oldest first (a DTLS hand-over). */
  drain(): Datagram[] {
    const out: Datagram[] = [];
    for (let d = this.queue.shift(); d; d = this.queue.shift()) out.push(d);
    return out;
  }

  clear(): void {
    this.queue.clear();
  }

  private deliver(buffer: Uint8Array, len: number, d: Datagram, fromEvent: boolean): void {
    const n = Math.min(len, d.data.byteLength);
    if (n < d.data.byteLength) this.trace(`datagram of ${d.data.byteLength} bytes from ${d.address}:${d.port} cut to ${n}`);
    buffer.set(n === d.data.byteLength ? d.data : d.data.subarray(0, n));
    this.delivered({ buffer, len: n, address: d.address, port: d.port }, fromEvent);
  }
}
