import { Dispatcher } from './dispatcher';

/** What the IoMux needs of a socket to shut it down. */
export interface Terminable {
  shutdown(): void;
}

/**
 * Groups sockets: their callbacks share one dispatch queue (so their relative order is kept)
 * and `terminate()` shuts them all down. Sockets made without an `iomux` option use the
 * process-wide one from {@link getDefaultIoMux}.
 */
export class IoMux {
  /** @internal Runs the callbacks of every socket on this IoMux. */
  readonly dispatcher = new Dispatcher();
  private readonly sockets = new Set<Terminable>();
  private terminated = false;

  /** True once {@link IoMux.terminate} was called. */
  get isTerminated(): boolean {
    return this.terminated;
  }

  /**
   * Shuts down every socket created with this IoMux, as if `shutdown()` was called on each
   * (each reports `SOCKET_SHUTDOWN_NORMAL` once). Afterwards the IoMux makes no more sockets.
   */
  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    for (const socket of [...this.sockets]) socket.shutdown();
  }

  /** @internal */
  register(socket: Terminable): void {
    this.sockets.add(socket);
  }

  /** @internal */
  unregister(socket: Terminable): void {
    this.sockets.delete(socket);
  }

  /** @internal Live sockets on this IoMux (for tests and stats). */
  get size(): number {
    return this.sockets.size;
  }
}

let defaultIoMux: IoMux | undefined;

/** The process-wide IoMux used when a socket's options name none. */
export function getDefaultIoMux(): IoMux {
  defaultIoMux ??= new IoMux();
  return defaultIoMux;
}
