// The rudp bench's ceiling for the unreliable workload: raw Node dgram, 512 B datagrams with the
// same credit window and loss bookkeeping as the rudp client (rudp-pump.ts). The server is the
// UDP workload's echo (udp-raw.ts rawServer), with the same 1 MiB socket buffers.
import * as dgram from 'node:dgram';
import { DGRAM, PeerArgs, PeerIo, UDP_BUFFER, fillDatagram } from './common';
import { UnrelPump } from './rudp-pump';

export function dgramClient(args: PeerArgs, io: PeerIo): void {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_BUFFER, sendBufferSize: UDP_BUFFER });
  const pump = new UnrelPump(
    args.size.messages,
    args.size.window,
    (seq) => {
      const out = Buffer.allocUnsafe(DGRAM); // dgram does not copy: one buffer per datagram (pooled)
      fillDatagram(out, seq);
      s.send(out);
    },
    (ms) => {
      pump.report(io, ms);
      s.close();
    },
  );
  s.on('message', (msg) => pump.echo(msg, msg.length));
  s.on('error', (err) => io.error(`client: ${err.message}`));
  s.connect(args.target.port, '127.0.0.1', () => pump.begin());
  io.onQuit(() => ({}));
}
