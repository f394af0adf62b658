// UDP datagram rate, the part both implementations share (udp-fw.ts, udp-raw.ts): a client
// sends 512-byte datagrams with a credit window (at most `window` unanswered), the server
// echoes each one, the client counts and checks the echoes. Both sides use 1 MiB socket
// buffers (the framework's default; set explicitly on the raw sockets).
import { DatagramTally, PeerIo, msSince } from './common';

/** Stall detection shared by both clients: after `STALL_MS` without an echo, the window's datagrams count as lost. */
const STALL_MS = 300;

/**
 * The client's bookkeeping, the same for both implementations: how many were sent, echoed,
 * lost; `sendOne(seq)` sends datagram `seq`. Calls `done` once every datagram is accounted for.
 */
export class Pump {
  sent = 0;
  lost = 0;
  start = 0n;
  private lastGot = 0;
  private timer: NodeJS.Timeout | null = null;
  readonly tally: DatagramTally;
  constructor(
    readonly total: number,
    readonly window: number,
    private readonly sendOne: (seq: number) => void,
    private readonly done: (ms: number) => void,
    /** The stall time (the DTLS bench's 100 peers, each with a window of 3, take a longer one). */
    private readonly stallMs = STALL_MS,
  ) {
    this.tally = new DatagramTally(total);
  }
  begin(): void {
    this.start = process.hrtime.bigint();
    this.fill();
    this.timer = setInterval(() => this.watch(), this.stallMs);
  }
  /** An echo arrived. */
  echo(b: Uint8Array, len: number): void {
    this.tally.take(b, len, this.sent);
    if (this.finished()) return;
    if (this.sent < this.total) this.sendOne(this.sent++);
  }
  private fill(): void {
    while (this.sent < this.total && this.sent - this.tally.got - this.lost < this.window) this.sendOne(this.sent++);
  }
  private finished(): boolean {
    if (this.tally.got + this.lost < this.total) return false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.done(msSince(this.start));
    return true;
  }
  private watch(): void {
    if (this.tally.got === this.lastGot) {
      this.lost += this.sent - this.tally.got - this.lost; // nothing for the stall time: the window is gone
      if (!this.finished()) this.fill();
    }
    this.lastGot = this.tally.got;
  }
}

export function report(io: PeerIo, pump: Pump, ms: number): void {
  const t = pump.tally;
  if (pump.lost > 0) io.error(`${pump.lost} datagrams lost (no echo within ${STALL_MS} ms)`);
  if (t.bad > 0 || t.dup > 0) io.error(`${t.bad} wrong and ${t.dup} duplicated echoes`);
  io.result({ ms, datagrams: t.got, lost: pump.lost });
}
