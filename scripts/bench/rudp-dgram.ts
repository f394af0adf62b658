// The rudp bench's ceiling for the unreliable workload: raw Node dgram, 512 B datagrams with the
// same credit window and loss bookkeeping as the rudp client (rudp-pump.ts). The server is the
// UDP workload's echo (udp-raw.ts rawServer), with the same 1 MiB socket buffers.
import { PeerArgs, PeerIo } from './common';
import { UnrelPump } from './rudp-pump';
import { pumpClient } from './udp-raw';

export function dgramClient(args: PeerArgs, io: PeerIo): void {
  pumpClient(
    args,
    io,
    (send, done) => new UnrelPump(args.size.messages, args.size.window, send, done),
    (pump, ms) => pump.report(io, ms),
  );
}
