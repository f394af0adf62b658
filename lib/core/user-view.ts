import { ShutdownReason } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';

/**
 * What the user of one socket has asked and been told, kept apart from the wire state
 * (`SocketBase.state`, which says what the connection is doing). The callbacks reach the user a
 * little later than the state changes (they are posted), so "posted" and "seen" differ: a recv
 * result posted and not delivered is still the pending recv to the user, and an end posted
 * before the user's `shutdown()` is still told as NORMAL.
 */
export class UserView {
  /** The user called `shutdown()` (or the IoMux was terminated): the end it is told is NORMAL, whatever follows. */
  shutdownAsked = false;
  /** `socketShutdown` has run: from then on every call but the mode lock is ignored. */
  shutdownDelivered = false;
  /** Recv results (or datagrams) posted and not delivered yet: they still count as the pending recv. */
  private undeliveredRecvs = 0;
  /**
   * A recv made after the end was posted but before the user saw it (typically from the last
   * `socketRecvResult`): cancelled just before `socketShutdown`, so it never vanishes.
   */
  private lateRecv: Uint8Array | null = null;

  /** A recv result was posted. */
  recvPosted(): void {
    this.undeliveredRecvs++;
  }

  /** A posted recv result reached the user. */
  recvDelivered(): void {
    this.undeliveredRecvs--;
  }

  /** A recv result was posted and not delivered yet. */
  get recvUndelivered(): boolean {
    return this.undeliveredRecvs > 0;
  }

  /**
   * `recv()` on a socket whose end is posted: ignored after `shutdown()` or once the end was
   * delivered; otherwise kept, to be cancelled just before `socketShutdown`.
   * @throws SocketStateError if a late recv is kept already
   */
  keepLateRecv(buffer: Uint8Array): void {
    if (this.shutdownAsked || this.shutdownDelivered) return;
    if (this.lateRecv) throw new SocketStateError(SocketErrorCode.RecvPending, 'recv() while another recv is pending');
    this.lateRecv = buffer;
  }

  /** The late recv to cancel before `socketShutdown`, if any (taken: it is cancelled once). */
  takeLateRecv(): Uint8Array | null {
    const late = this.lateRecv;
    this.lateRecv = null;
    return late;
  }

  /** The end as the user is told it: `shutdown()` may have come after the end was posted (CONTRACT §10: NORMAL). */
  reasonSeen(posted: ShutdownReason): ShutdownReason {
    return this.shutdownAsked ? ShutdownReason.Normal : posted;
  }
}
