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

/** Hands the buffer of a recv the receiver withdrew (its buffer went away) to the owner, which posts `socketRecvCanceled`. */
export type DatagramCancel = (buffer: Uint8Array, fromEvent: boolean) => void;

/**
 * The receiving side of a datagram socket (UDP, DTLS): one pending recv, a bounded queue for
 * datagrams nobody asked for yet, and the cut of a datagram longer than the recv.
 *
 * Two guards sit where a datagram meets a recv. While the socket {@link DatagramReceiver.hold}s
 * (a connect on its way: the peer is not known yet), datagrams are queued and complete no recv;
 * {@link DatagramReceiver.release} then drops those not from the peer. And a pending recv whose
 * buffer went away (detached, or shrunk below its length) is cancelled instead of written to,
 * and the datagram waits for the next recv.
 */
export class DatagramReceiver {
  private readonly queue: DatagramQueue;
  /** The pending recv's buffer (null: none) and length: two fields, no object per recv. */
  private pendingBuffer: Uint8Array | null = null;
  private pendingLen = 0;
  /** Datagrams are queued, none completes a recv (see {@link DatagramReceiver.hold}). */
  private holding = false;

  constructor(
    limit: number,
    private readonly delivered: DatagramDelivery,
    private readonly canceled: DatagramCancel,
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
    if (buffer !== null && !this.holding) {
      if (buffer.byteLength >= this.pendingLen) {
        this.pendingBuffer = null;
        this.deliver(buffer, this.pendingLen, data, address, port, fromEvent);
        return;
      }
      this.withdraw(fromEvent); // and the datagram waits below for the next recv
    }
    if (!this.queue.push({ data, address, port }) && (this.queue.dropped & (this.queue.dropped - 1)) === 0) {
      // Logged at 1, 2, 4, 8… drops: visible without flooding the log.
      this.trace(`datagram queue full (${this.queue.limit}): ${this.queue.dropped} dropped so far`);
    }
  }

  /** A recv: served from the queue at once, or kept until a datagram arrives. */
  request(buffer: Uint8Array, len: number): void {
    if (this.pendingBuffer !== null) throw new SocketStateError(SocketErrorCode.RecvPending, 'recv() while another recv is pending');
    const queued = this.holding ? undefined : this.queue.shift();
    if (queued) {
      this.deliver(buffer, len, queued.data, queued.address, queued.port, false);
    } else {
      this.pendingBuffer = buffer;
      this.pendingLen = len;
    }
  }

  /**
   * From now on datagrams are queued and complete no recv, until {@link DatagramReceiver.release}:
   * a connected socket's peer is known only once its connect completed, and what arrives before
   * (the OS bound the port a moment before it connected it) may come from anyone.
   */
  hold(): void {
    this.holding = true;
  }

  /**
   * Ends {@link DatagramReceiver.hold}: drops the queued datagrams `fromPeer` refuses and returns
   * them (the caller counts them), then serves a pending recv from what is left. Its result is
   * posted, never run at once: the caller's own completion callback must come first.
   */
  release(fromPeer: (address: string, port: number) => boolean): Datagram[] {
    this.holding = false;
    const dropped = this.queue.retain((d) => fromPeer(d.address, d.port));
    const buffer = this.pendingBuffer;
    if (buffer !== null && this.queue.size > 0) {
      if (buffer.byteLength < this.pendingLen) {
        this.withdraw(false);
      } else {
        const d = this.queue.shift()!;
        this.pendingBuffer = null;
        this.deliver(buffer, this.pendingLen, d.data, d.address, d.port, false);
      }
    }
    return dropped;
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

  /**
   * The pending recv's buffer went away while it waited: the app detached it (transferred its
   * ArrayBuffer) or shrank its resizable ArrayBuffer below the recv's length (checked at recv()
   * time). Writing to it would throw out of the socket's event handler: the recv is cancelled.
   */
  private withdraw(fromEvent: boolean): void {
    const buffer = this.pendingBuffer!;
    this.pendingBuffer = null;
    this.trace(
      `recv cancelled: its buffer was detached or shrunk while pending (byteLength ${buffer.byteLength} < ${this.pendingLen}); the datagram waits for the next recv`,
    );
    this.canceled(buffer, fromEvent);
  }

  private deliver(buffer: Uint8Array, len: number, data: Uint8Array, address: string, port: number, fromEvent: boolean): void {
    const n = Math.min(len, data.byteLength);
    if (n < data.byteLength) this.trace(`datagram of ${data.byteLength} bytes from ${address}:${port} cut to ${n}`);
    buffer.set(n === data.byteLength ? data : data.subarray(0, n));
    this.delivered({ buffer, len: n, address, port }, fromEvent);
  }
}
