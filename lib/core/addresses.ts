/** An address and port as the API reports them (local sockets: a path, or `''`; port 0). */
export interface HostPort {
  address: string;
  port: number;
}

/** Where a socket's local address comes from when it is read late (a connection asks Node: `getsockname`). */
export interface LocalAddressSource {
  readLocalAddress(): HostPort | null;
}

/**
 * A socket's addresses, one value per socket: the local end (a listener's bound address, a
 * connection's own end, a UDP socket's bound port) and the remote end (the connected peer).
 * `localAddress`, `localPort`, `remoteAddress`, `remotePort` and `getLocalAddress()` of every
 * socket read it (`SocketBase`). `null`: not known (yet).
 */
export class Addresses {
  /** The connected peer. */
  remote: HostPort | null = null;
  private known: HostPort | null = null;
  private source: LocalAddressSource | null = null;

  /** The local end; read from its source the first time it is asked for (see {@link Addresses.readLocalLater}). */
  get local(): HostPort | null {
    const source = this.source;
    if (source !== null) {
      this.source = null;
      this.known = source.readLocalAddress();
    }
    return this.known;
  }

  set local(value: HostPort | null) {
    this.known = value;
    this.source = null;
  }

  /**
   * The local address is read from `source` when first asked for, not now: a connection would
   * otherwise pay a `getsockname` per connect and accept for an address nobody uses.
   */
  readLocalLater(source: LocalAddressSource): void {
    this.source = source;
  }
}
