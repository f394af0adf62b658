// One side of one rudp bench run, in its own process (as peer.ts is for the other workloads):
// `node rudp-peer.js '<PeerArgs as JSON>'`. `workload` names the peer: fw-* (the framework's
// message socket over rudp, or over TCP when target.kind is 'tcp'), dgram-* (raw Node: the
// unreliable baseline, rudp-dgram.ts, and the ceilings, rudp-ceiling.ts), enet-*
// (the C peer, rudp-enet.ts). A client with `size.relayLoss` ≥ 0 talks through a relay (relay.ts).
import { PeerArgs, PeerIo } from './common';
import { clientPort } from './relay';

type Peer = (args: PeerArgs, io: PeerIo) => void;

/** The Node peers by name, loaded on demand. */
const PEERS: Record<string, () => Promise<Peer>> = {
  'fw-sink': async () => (await import('./rudp-fw')).sinkServer,
  'fw-echo': async () => (await import('./rudp-fw')).echoServer,
  'fw-bulk': async () => (await import('./rudp-fw')).bulkClient,
  'fw-pingpong': async () => (await import('./rudp-fw')).pingpongClient,
  'fw-unrel': async () => (await import('./rudp-fw')).unrelClient,
  'dgram-echo': async () => (await import('./udp-raw')).rawServer,
  'dgram-unrel': async () => (await import('./rudp-dgram')).dgramClient,
  'dgram-pingpong': async () => (await import('./rudp-ceiling')).pingpongClient,
  'dgram-sink': async () => (await import('./rudp-ceiling')).sinkServer,
  'dgram-flood': async () => (await import('./rudp-ceiling')).floodClient,
};

if (require.main === module) {
  const args = JSON.parse(process.argv[2]) as PeerArgs;
  const [family, workload] = args.workload.split(/-(.*)/);
  if (family === 'enet') void import('./rudp-enet').then((m) => m.runEnetPeer(args, workload));
  else {
    const load = PEERS[args.workload];
    if (!load) throw new Error(`no rudp bench peer ${args.workload}`);
    void load().then((peer) => {
      const io = new PeerIo();
      if (args.role === 'server') peer(args, io);
      else
        io.onGo((port) => {
          void clientPort(args.size, port).then(
            (p) => peer({ ...args, target: { ...args.target, port: p } }, io),
            (err: Error) => {
              io.error(`relay: ${err.message}`);
              io.result({});
            },
          );
        });
    });
  }
}
