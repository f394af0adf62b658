/**
 * A datagram handle with no network, for tests of the datagram core (`lib/core/datagram-*.ts`):
 * binds and connects on the next turn, keeps every send until the test completes it, and lets
 * the test deliver datagrams and errors as a listener (or Node) would.
 */
import { DatagramHandle, DatagramSink, DatagramTransport, GroupOptions, HandleSettings, HostPort, SendDone } from '../../lib/core/datagram-path';

export class FakeHandle implements DatagramHandle {
  /** Sends handed to the handle and not completed yet, oldest first. */
  readonly inFlight: Array<{ data: Buffer; port: number | undefined; address: string | undefined; done: SendDone }> = [];
  closed = false;

  constructor(
    readonly settings: HandleSettings,
    public sink: DatagramSink | null,
    readonly local: HostPort = { address: '127.0.0.1', port: 40000 },
    readonly remote: HostPort = { address: '127.0.0.1', port: 40001 },
  ) {}

  bind(address: string, port: number, done: () => void): void {
    setImmediate(done);
  }

  connect(port: number, host: string, done: (err?: Error) => void): void {
    setImmediate(() => done());
  }

  send(data: Buffer, port: number | undefined, address: string | undefined, done: SendDone): void {
    this.inFlight.push({ data: Buffer.from(data), port, address, done });
  }

  /** Completes the oldest `n` sends (all by default), as the OS taking them. */
  complete(n = this.inFlight.length, err: Error | null = null): void {
    for (const s of this.inFlight.splice(0, n)) s.done(err);
  }

  /** Delivers one datagram to the socket, as a listener demultiplexing by peer would. */
  deliver(data: Buffer, from: HostPort = this.remote): void {
    this.sink?.datagramArrived(data, from.address, from.port);
  }

  setSink(sink: DatagramSink | null): void {
    this.sink = sink;
  }

  localAddress(): HostPort {
    return this.local;
  }

  remoteAddress(): HostPort {
    return this.remote;
  }

  applyGroupOptions(options: GroupOptions, receiving: boolean, refused: (what: string, err: unknown) => void): void {}

  close(): void {
    this.closed = true;
    this.sink = null;
  }
}

/** A transport that opens {@link FakeHandle}s; `handles` lists them in order. */
export function fakeTransport(): DatagramTransport & { handles: FakeHandle[] } {
  const handles: FakeHandle[] = [];
  return {
    handles,
    open(settings: HandleSettings, sink: DatagramSink): DatagramHandle {
      const h = new FakeHandle(settings, sink);
      handles.push(h);
      return h;
    },
  };
}
