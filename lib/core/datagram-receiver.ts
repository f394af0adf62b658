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
  /** The pending recv's buffer (null: none) and length: two fields, no object per recv. */
  private pendingBuffer: Uint8Array | null = null;
  private pendingLen = 0;

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
    return this.pendingBuffer !== null;
  }

  /**
   * A datagram arrived: to the pending recv, else into the queue (or dropped and counted).
   * `fromEvent`: called straight from the socket's 'message' event.
   */
  arrive(data: Uint8Array, address: string, port: number, fromEvent = false): void {
    const buffer = this.pendingBuffer;
    if (buffer !== null) {
      this.pendingBuffer = null;
      this.deliver(buffer, this.pendingLen, data, address, port, fromEvent);
    } else if (!this.queue.push({ data, address, port }) && (this.queue.dropped & (this.queue.dropped - 1)) === 0) {
      // Logged at 1, 2, 4, 8… drops: visible without flooding the log.
      this.trace(`datagram queue full (${this.queue.limit}): ${this.queue.dropped} dropped so far`);
    }
  }

  /** A recv: served from the queue at once, or kept until a datagram arrives. */
  request(buffer: Uint8Array, len: number): void {
    if (this.pendingBuffer !== null) throw new SocketStateError(SocketErrorCode.RecvPending, 'recv() while another recv is pending');
    const queued = this.queue.shift();
    if (queued) {
      this.deliver(buffer, len, queued.data, queued.address, queued.port, false);
    } else {
      this.pendingBuffer = buffer;
      this.pendingLen = len;
    }
  }

  /** Removes the pending recv; returns its buffer. */
  cancel(): Uint8Array | null {
    const buffer = this.pendingBuffer;
    this.pendingBuffer = null;
    return buffer;
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

  private deliver(buffer: Uint8Array, len: number, data: Uint8Array, address: string, port: number, fromEvent: boolean): void {
    const n = Math.min(len, data.byteLength);
    if (n < data.byteLength) this.trace(`datagram of ${data.byteLength} bytes from ${address}:${port} cut to ${n}`);
    buffer.set(n === data.byteLength ? data : data.subarray(0, n));
    this.delivered({ buffer, len: n, address, port }, fromEvent);
  }
}
