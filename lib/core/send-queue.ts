import { Fifo } from '../util/fifo';

/**
 * What a {@link SendQueue} asks of the socket that owns it. Methods, not closures: the send
 * path is hot, and the owner is the socket itself.
 */
export interface SendQueueOwner {
  /**
   * Hands one send to the layer below (a dgram socket, a DTLS session, a Node stream). The layer
   * finishes sends in the order it was given them; for each, the owner then calls
   * {@link SendQueue.complete} once (from the layer's completion callback, never inside this call).
   */
  transmit(data: Buffer): void;
  /**
   * The oldest send in flight finished (`err`: the layer refused it). The owner counts it, gives
   * its memory back, and posts `socketSendResult` through the dispatcher (contract: one per send,
   * in call order, also for a refused datagram where the transport says so).
   */
  sendFinished(data: Buffer, err: Error | null): void;
}

/**
 * The sends of one socket, from `send()` to `socketSendResult`: one queue for every kind of
 * socket (UDP, DTLS, and the stream sockets, whose connector makes it and whose connection
 * takes it over).
 *
 * - **Held until connected.** Until {@link SendQueue.open}, sends are held in call order (the
 *   contract: `send()` may come before the connection is up); `open()` hands them down in order.
 *   The owner that transmits may be named only then: a stream socket's connector holds the
 *   sends, and its connection, made when the connection is up, opens the queue and transmits.
 * - **Costs.** Nothing is allocated per send: the queue keeps the owner's own copy (or, for a
 *   TLS stream with nothing queued, a view of the caller's bytes), the FIFO of what is in flight
 *   is a ring that keeps its array, and the owner's completion callback is one shared function.
 * - **In-flight accounting.** Every send handed down waits in a FIFO until the layer below
 *   completes it; {@link SendQueue.queuedBytes} counts held and in-flight bytes (what
 *   `stats().queuedSendBytes` reports), each exactly once.
 * - **Completions.** {@link SendQueue.complete} takes the oldest send in flight and gives it to
 *   {@link SendQueueOwner.sendFinished}, which posts the result as a method via the dispatcher.
 * - **The drained-wait.** {@link SendQueue.whenDrained} runs a callback once nothing is held or in
 *   flight: `shutdown()` closes after the last send, bounded by its own time-out.
 *
 * The queue copies nothing: the owner passes its own copy of the caller's bytes.
 */
export class SendQueue {
  /** Sends held until {@link SendQueue.open} (made at the first one: most connections never hold any). */
  private held: Buffer[] | null = null;
  private readonly inFlight = new Fifo<Buffer>();
  private bytes = 0;
  private opened = false;
  private drained: (() => void) | null = null;

  /** @param owner who transmits and is told of completions; null: named by {@link SendQueue.open}. */
  constructor(private owner: SendQueueOwner | null = null) {}

  /** Bytes accepted and not yet handed to the OS: held plus in flight. */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** Sends held until {@link SendQueue.open}. */
  get heldCount(): number {
    return this.held === null ? 0 : this.held.length;
  }

  /** Sends handed down and not completed yet. */
  get inFlightCount(): number {
    return this.inFlight.length;
  }

  /** Nothing held, nothing in flight. */
  get isEmpty(): boolean {
    return this.heldCount === 0 && this.inFlight.length === 0;
  }

  /** A send: handed down at once once open, else held (in call order) until {@link SendQueue.open}. */
  push(data: Buffer): void {
    this.bytes += data.byteLength;
    if (this.opened) this.handDown(data);
    else (this.held ??= []).push(data);
  }

  /**
   * The owner handed `data` down itself (a datagram with a destination of its own, `sendTo`):
   * it is counted in flight like any other, and completed by {@link SendQueue.complete} in order.
   */
  handedDown(data: Buffer): void {
    this.bytes += data.byteLength;
    this.inFlight.push(data);
  }

  /**
   * The connection is up: the held sends go down, in order, and every later send at once.
   * @param owner who transmits from now on, if not named when the queue was made
   */
  open(owner?: SendQueueOwner): void {
    if (owner) this.owner = owner;
    if (this.opened) return;
    this.opened = true;
    const held = this.held;
    this.held = null;
    if (held !== null) for (const data of held) this.handDown(data);
  }

  /**
   * The layer below finished its oldest send: {@link SendQueueOwner.sendFinished} reports it,
   * then the drained-wait runs if that was the last one.
   */
  complete(err: Error | null): void {
    const data = this.inFlight.shift();
    if (data === undefined) return;
    this.bytes -= data.byteLength;
    this.owner!.sendFinished(data, err);
    if (this.drained !== null && this.isEmpty) {
      const done = this.drained;
      this.drained = null;
      done();
    }
  }

  /**
   * Runs `done` once nothing is held or in flight: at once if so now, else after the completion
   * of the last send (after its result was posted). One wait at a time; a later call replaces it.
   */
  whenDrained(done: () => void): void {
    if (this.isEmpty) done();
    else this.drained = done;
  }

  /**
   * The socket ended: held sends are dropped (never sent, never reported) and the drained-wait
   * is forgotten. Sends in flight stay counted until the layer below completes them.
   */
  discard(): void {
    if (this.held !== null) for (const data of this.held) this.bytes -= data.byteLength;
    this.held = null;
    this.drained = null;
  }

  private handDown(data: Buffer): void {
    this.inFlight.push(data);
    this.owner!.transmit(data);
  }
}
