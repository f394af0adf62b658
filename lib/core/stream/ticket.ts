/** What a listener counts of a connection: the bytes of the socket that has it. */
export interface Counted {
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

/**
 * An accepted connection as its listener counts it. The socket that has the connection tells it
 * when the connection ends; a STARTTLS successor takes it over, and the bytes counted so far
 * (and those of sends still in flight on its predecessors) stay counted.
 */
export class ConnectionTicket {
  /** The sockets that had this connection before `holder` (STARTTLS predecessors); made on the first take-over. */
  private previous: Counted[] | null = null;
  private holder: Counted | null = null;

  constructor(private readonly onEnded: (ticket: ConnectionTicket) => void) {}

  get bytesSent(): number {
    let n = this.holder?.bytesSent ?? 0;
    if (this.previous) for (const p of this.previous) n += p.bytesSent;
    return n;
  }

  get bytesReceived(): number {
    let n = this.holder?.bytesReceived ?? 0;
    if (this.previous) for (const p of this.previous) n += p.bytesReceived;
    return n;
  }

  /** `socket` has the connection now: the accepted socket, then each STARTTLS successor. */
  heldBy(socket: Counted): void {
    if (this.holder) (this.previous ??= []).push(this.holder);
    this.holder = socket;
  }

  /** The connection ended. */
  ended(): void {
    this.onEnded(this);
  }
}
