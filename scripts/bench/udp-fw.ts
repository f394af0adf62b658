// UDP datagram rate with the framework's public API: a bound echo server (recv, sendTo, recv),
// a connected client that keeps a credit window of datagrams in flight (udp.ts).
import { createUdpSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { DGRAM, PeerArgs, PeerIo, UDP_BUFFER, fillDatagram } from './common';
import { Pump, report } from './udp';

export function fwServer(_args: PeerArgs, io: PeerIo): void {
  const udp = createUdpSocketProvider();
  class Echo extends USocket {
    private readonly buf = new Uint8Array(2048);
    override socketBindResult(s: ISocket, _a: string, port: number): void {
      s.recv(this.buf);
      io.ready({ port });
    }
    override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number, addr: string, port: number): void {
      s.sendTo(b, n, addr, port); // copies
      s.recv(b);
    }
    override socketShutdown(): void {}
  }
  const s = udp.createSocket(new Echo(), { recvBufferSize: UDP_BUFFER, sendBufferSize: UDP_BUFFER });
  s.bind('127.0.0.1', 0);
  io.onQuit(() => {
    s.shutdown();
    return { dropped: s.droppedDatagrams ?? 0 };
  });
}

export function fwClient(args: PeerArgs, io: PeerIo): void {
  const udp = createUdpSocketProvider();
  const out = new Uint8Array(DGRAM);
  let ended = false;
  const pump = new Pump(
    args.size.datagrams,
    args.size.window,
    (seq) => {
      fillDatagram(out, seq);
      sock.send(out); // copies: `out` is free again at once
    },
    (ms) => {
      report(io, pump, ms);
      sock.shutdown();
    },
  );
  class Client extends USocket {
    private readonly buf = new Uint8Array(2048);
    override socketConnectComplete(s: ISocket): void {
      s.recv(this.buf);
      pump.begin();
    }
    override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
      pump.echo(b, n);
      s.recv(b);
    }
    override socketShutdown(_s: ISocket, r: ShutdownReason): void {
      ended = true;
      if (r !== ShutdownReason.Normal) io.error(`client ended: ${r}`);
    }
  }
  const sock = udp.createSocket(new Client(), { recvBufferSize: UDP_BUFFER, sendBufferSize: UDP_BUFFER });
  sock.connect(`127.0.0.1:${args.target.port}`);
  io.onQuit(() => ({ ended, dropped: sock.droppedDatagrams ?? 0 }));
}
