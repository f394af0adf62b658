// UDP datagram rate in plain Node (dgram): the same echo server and credit-window client as
// udp-fw.ts, with the same 1 MiB socket buffers.
import * as dgram from 'node:dgram';
import { DGRAM, PeerArgs, PeerIo, UDP_BUFFER, fillDatagram } from './common';
import { Pump, report } from './udp';

/** A udp4 socket with the bench's 1 MiB buffers. */
export function udpSocket(): dgram.Socket {
  return dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_BUFFER, sendBufferSize: UDP_BUFFER });
}

/** A server socket on 127.0.0.1 that reports READY with its port and closes on quit; the caller adds its 'message' listener. */
export function udpServer(io: PeerIo): dgram.Socket {
  const s = udpSocket();
  s.on('error', (err) => io.error(`server: ${err.message}`));
  s.bind(0, '127.0.0.1', () => io.ready({ port: s.address().port }));
  io.onQuit(() => {
    s.close();
    return {};
  });
  return s;
}

export function rawServer(_args: PeerArgs, io: PeerIo): void {
  const s = udpServer(io);
  s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
}

export function rawClient(args: PeerArgs, io: PeerIo): void {
  pumpClient(
    args,
    io,
    (send, done) => new Pump(args.size.datagrams, args.size.window, send, done),
    (pump, ms) => report(io, pump, ms),
  );
}

/** A connected dgram client around a credit-window pump (udp.ts's, or the rudp bench's unreliable one). */
export function pumpClient<P extends { begin(): void; echo(b: Uint8Array, len: number): void }>(
  args: PeerArgs,
  io: PeerIo,
  make: (sendOne: (seq: number) => void, done: (ms: number) => void) => P,
  finish: (pump: P, ms: number) => void,
): void {
  const s = udpSocket();
  const pump = make(
    (seq) => {
      const out = Buffer.allocUnsafe(DGRAM); // dgram does not copy: one buffer per datagram (pooled)
      fillDatagram(out, seq);
      s.send(out);
    },
    (ms) => {
      finish(pump, ms);
      s.close();
    },
  );
  s.on('message', (msg) => pump.echo(msg, msg.length));
  s.on('error', (err) => io.error(`client: ${err.message}`));
  s.connect(args.target.port, '127.0.0.1', () => pump.begin());
  io.onQuit(() => ({}));
}
