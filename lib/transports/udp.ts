// The dgram adapter: a DatagramHandle over one Node dgram socket. The UDP socket's state machine
// is core/datagram-socket.ts; this file opens, binds, connects, sends and closes the handle,
// and keeps dgram's per-datagram name lookup out of the way of a sendTo to an IP literal
// (core/node-internals.ts, entry 4: a public option, with assumptions checked at run time).
import { createSocket, RemoteInfo, Socket as DgramSocket } from 'node:dgram';
import { DgramLookup } from '../core/node-internals';
import { DatagramHandle, DatagramSink, DatagramTransport, GroupOptions, HandleSettings, HostPort, SendDone } from '../core/datagram-path';

/** Opens Node dgram sockets for the UDP provider. */
export const udpTransport: DatagramTransport = {
  open: (settings, sink) => new UdpHandle(settings, sink),
};

class UdpHandle implements DatagramHandle {
  private readonly dgram: DgramSocket;
  private sink: DatagramSink | null;
  /** Answers dgram's lookup of a checked IP literal at once, where that fast path is on. */
  private readonly lookup = new DgramLookup();
  /** The bind completed: dgram sends at once (to a checked IP literal, see `lookup`). */
  private bound = false;
  /** Sends to an address made before the bind completed and not done yet: dgram sends those itself once bound. */
  private deferred = 0;
  /** In a cluster worker, bind through the primary's shared handle (the app's bind() without reusePort). */
  private readonly shared: boolean;

  constructor(settings: HandleSettings, sink: DatagramSink) {
    const { ipv6, reuseAddr, recvBufferSize, sendBufferSize } = settings;
    const reusePort = settings.reusePort === true;
    this.shared = settings.shared === true && !reusePort;
    this.dgram = createSocket({
      type: ipv6 ? 'udp6' : 'udp4',
      reuseAddr,
      recvBufferSize,
      sendBufferSize,
      lookup: this.lookup.option,
      ...(reusePort ? { reusePort } : {}),
    });
    this.sink = sink;
    this.dgram.on('message', this.onMessage);
    this.dgram.on('error', this.onError);
  }

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => this.sink?.datagramArrived(msg, rinfo.address, rinfo.port);
  private readonly onError = (err: NodeJS.ErrnoException): void => this.sink?.pathError(err);

  bind(address: string, port: number, done: () => void): void {
    // exclusive only matters in a cluster worker: false binds through the primary, whose one
    // handle every worker then reads (docs/multicore.md); Node makes a reusePort bind exclusive.
    this.dgram.bind({ address, port, exclusive: !this.shared }, () => {
      this.bound = true;
      done();
    });
  }

  connect(port: number, host: string, done: (err?: Error) => void): void {
    this.dgram.connect(port, host, done);
  }

  /**
   * dgram completes a socket's sends in the order they were made (a send made while earlier
   * ones wait in libuv's queue is queued behind them; the others complete on the next tick, in
   * call order), so one shared `done` serves every datagram.
   */
  send(data: Buffer, port: number | undefined, address: string | undefined, done?: SendDone): void {
    const d = this.dgram;
    if (port === undefined) {
      // dgram reports a send only through a callback it runs on the next tick: none, none asked.
      if (done) d.send(data, done);
      else d.send(data);
      return;
    }
    // The address is an IP literal the socket checked: resolved at once (see `lookup`), so dgram
    // hands the datagram to the OS inside this call instead of a tick later. Not while sends made
    // before the bind completed are still on their way: dgram sends those itself once bound,
    // each a lookup tick later, and this one must not overtake them. Nor where the fast path is
    // off: every send then takes dgram's own lookup, in call order.
    if (!this.bound || this.deferred > 0 || !this.lookup.arm()) {
      this.deferred++;
      d.send(data, port, address, (err) => {
        this.deferred--;
        done?.(err);
      });
      return;
    }
    let sent = false;
    try {
      if (done) d.send(data, port, address, done);
      else d.send(data, port, address);
      sent = true;
    } finally {
      this.lookup.disarm(sent);
    }
  }

  setSink(sink: DatagramSink | null): void {
    this.sink = sink;
  }

  localAddress(): HostPort {
    const { address, port } = this.dgram.address();
    return { address, port };
  }

  remoteAddress(): HostPort {
    const { address, port } = this.dgram.remoteAddress();
    return { address, port };
  }

  applyGroupOptions(options: GroupOptions, receiving: boolean, refused: (what: string, err: unknown) => void): void {
    const d = this.dgram;
    const attempt = (what: string, apply: () => void): void => {
      try {
        apply();
      } catch (err) {
        refused(what, err);
      }
    };
    if (options.broadcast) attempt('broadcast', () => d.setBroadcast(true));
    if (!receiving) return; // group membership is about receiving, on bound sockets
    for (const group of options.multicastGroups ?? []) attempt(`multicast group ${group}`, () => d.addMembership(group));
    const loopback = options.multicastLoopback;
    if (loopback !== undefined) attempt('multicastLoopback', () => d.setMulticastLoopback(loopback));
  }

  close(): void {
    this.sink = null;
    try {
      this.dgram.close();
    } catch {
      // not running yet (a bind that failed), or closed already: nothing to close
    }
  }
}
