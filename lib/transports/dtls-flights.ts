// The handshake records the engine sends in one go (a flight, or its retransmission) leave
// packed into as few datagrams as fit in FLIGHT_DATAGRAM_BYTES, as OpenSSL does (RFC 6347
// §4.1.1 allows several records in one datagram). werift sends one datagram per record: a
// client's flight 5 was 3 datagrams, a server's flight 4 was 4. Under load each datagram costs a
// send, a receive event and about 1 KB of the receiver's socket buffer (the kernel's accounting
// of a small loopback datagram), and the DTLS listener's one socket holds every peer's.

/** A packed datagram stays under the IPv6 minimum MTU less the headers; a record larger than this goes alone. */
export const FLIGHT_DATAGRAM_BYTES = 1200;

/** Gathers records until the end of the current run of the engine (a microtask), then sends them packed. */
export class FlightPacker {
  private records: Buffer[] = [];
  private bytes = 0;
  private waiters: Array<() => void> = [];
  private scheduled = false;

  /** `out` sends one datagram and calls `done` once it was handed to the OS or refused (logged there). */
  constructor(private readonly out: (datagram: Buffer, done: () => void) => void) {}

  /** Adds a handshake-phase record (handshake, change_cipher_spec, alert); settles once its datagram went. */
  add(record: Buffer): Promise<void> {
    if (this.records.length > 0 && this.bytes + record.length > FLIGHT_DATAGRAM_BYTES) this.flush();
    this.records.push(record);
    this.bytes += record.length;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.flush();
      });
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Sends what was gathered (before an application record, which must not overtake it). */
  flush(): void {
    if (this.records.length === 0) return;
    const datagram = this.records.length === 1 ? this.records[0] : Buffer.concat(this.records, this.bytes);
    const waiters = this.waiters;
    this.records = [];
    this.bytes = 0;
    this.waiters = [];
    this.out(datagram, () => {
      for (const w of waiters) w();
    });
  }

  /** Drops what was gathered (the session stopped); the waiting promises settle. */
  drop(): void {
    const waiters = this.waiters;
    this.records = [];
    this.bytes = 0;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
