/**
 * The ack-eliciting packets in flight, in packet-number order. An ACK range is found by binary
 * search and only the packets in it are visited, so an ACK costs O(log n + packets it acks)
 * however wide its ranges are (the first range of a loss-free connection covers every packet
 * number it ever received).
 */
import { SentFrag } from './send-lanes';

export interface SentPacket {
  readonly pn: number;
  readonly time: number;
  readonly size: number;
  /** Reliable fragments in it (sent again if it is lost). */
  readonly frags: SentFrag[];
  /** It carried a credit update (sent again if it is lost). */
  readonly credit: boolean;
  gone: boolean;
}

export class SentPackets {
  private list: SentPacket[] = [];
  private head = 0;
  /** Packets in flight. */
  size = 0;

  push(p: SentPacket): void {
    this.list.push(p);
    this.size++;
  }

  /** Removes the packets with `lo <= pn <= hi` and adds them to `out`. */
  takeRange(lo: number, hi: number, out: SentPacket[]): void {
    const list = this.list;
    let a = this.head;
    let b = list.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (list[mid].pn < lo) a = mid + 1;
      else b = mid;
    }
    for (let i = a; i < list.length && list[i].pn <= hi; i++) {
      const p = list[i];
      if (p.gone) continue;
      this.remove(p);
      out.push(p);
    }
    this.trim();
  }

  /** Marks `p` as no longer in flight (acknowledged or lost). */
  remove(p: SentPacket): void {
    if (p.gone) return;
    p.gone = true;
    this.size--;
  }

  /** The packets in flight, oldest first, while `each` returns true. */
  forEach(each: (p: SentPacket) => boolean): void {
    const list = this.list;
    for (let i = this.head; i < list.length; i++) if (!list[i].gone && !each(list[i])) break;
    this.trim();
  }

  /** The oldest `n` packets in flight. */
  oldest(n: number): SentPacket[] {
    const out: SentPacket[] = [];
    this.forEach((p) => out.push(p) < n);
    return out;
  }

  private trim(): void {
    const list = this.list;
    while (this.head < list.length && list[this.head].gone) this.head++;
    if (this.head === list.length) {
      this.list = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > list.length) {
      this.list = list.slice(this.head);
      this.head = 0;
    }
  }
}
