// One side of one bench run, in its own process: `node peer.js '<PeerArgs as JSON>'`.
// The orchestrator (index.ts) starts the server and the client together (so that both load
// their code at the same time); the client waits on stdin for `GO {"port": N}`, sent once the
// server printed READY. See common.ts for the rest of the line protocol.
import { PeerArgs, PeerIo } from './common';

type Peer = (args: PeerArgs, io: PeerIo) => void;

/**
 * The peer functions by name, for each implementation. Loaded on demand: a raw Node peer never
 * loads the framework (whose import alone takes ~0.2 s here) and vice versa.
 */
const PEERS: Record<string, { module: string; fw: string; raw: string }> = {
  sink: { module: 'stream', fw: 'sinkServer', raw: 'sinkServer' },
  bulk: { module: 'stream', fw: 'bulkClient', raw: 'bulkClient' },
  echo64: { module: 'stream', fw: 'echo64Server', raw: 'echo64Server' },
  pingpong: { module: 'stream', fw: 'pingpongClient', raw: 'pingpongClient' },
  'pingpong-many': { module: 'stream', fw: 'pingpongManyClient', raw: 'pingpongManyClient' },
  'udp-echo': { module: 'udp', fw: 'fwServer', raw: 'rawServer' },
  'udp-pump': { module: 'udp', fw: 'fwClient', raw: 'rawClient' },
  'accept-server': { module: 'conn', fw: 'acceptServer', raw: 'acceptServer' },
  'accept-client': { module: 'conn', fw: 'acceptClient', raw: 'acceptClient' },
  'idle-server': { module: 'conn', fw: 'idleServer', raw: 'idleServer' },
  'idle-client': { module: 'conn', fw: 'idleClient', raw: 'idleClient' },
  'starttls-server': { module: 'conn', fw: 'starttlsServer', raw: 'starttlsServer' },
  'starttls-client': { module: 'conn', fw: 'starttlsClient', raw: 'starttlsClient' },
  // Issue #18: the framework side through the async layer / toDuplex; the raw side is stream-raw's.
  'sink-async': { module: 'async', fw: 'sinkServerAsync', raw: 'sinkServer' },
  'bulk-async': { module: 'async', fw: 'bulkClientAsync', raw: 'bulkClient' },
  'sink-duplex': { module: 'async', fw: 'sinkServerDuplex', raw: 'sinkServer' },
  'bulk-duplex': { module: 'async', fw: 'bulkClientDuplex', raw: 'bulkClient' },
  // Issue #19: DTLS has no raw Node side (Node has no DTLS).
  'dtls-echo': { module: 'dtls', fw: 'dtlsServer', raw: '' },
  'dtls-pump': { module: 'dtls', fw: 'dtlsEchoClient', raw: '' },
  'dtls-handshake': { module: 'dtls', fw: 'dtlsHandshakeClient', raw: '' },
};

/** The modules of the peers, loaded on demand. */
const MODULES: Record<string, Record<'fw' | 'raw', () => Promise<object>>> = {
  stream: { fw: () => import('./stream-fw'), raw: () => import('./stream-raw') },
  udp: { fw: () => import('./udp-fw'), raw: () => import('./udp-raw') },
  conn: { fw: () => import('./conn-fw'), raw: () => import('./conn-raw') },
  async: { fw: () => import('./async-fw'), raw: () => import('./stream-raw') },
  dtls: { fw: () => import('./dtls-fw'), raw: () => import('./dtls-fw') },
};

async function load(name: string, impl: 'fw' | 'raw'): Promise<Peer> {
  const entry = PEERS[name];
  if (!entry) throw new Error(`no peer ${name}`);
  const mod = (await MODULES[entry.module][impl]()) as Record<string, Peer>;
  const peer = mod[entry[impl]];
  if (!peer) throw new Error(`peer ${name} has no ${impl} implementation`);
  return peer;
}

if (require.main === module) {
  const args = JSON.parse(process.argv[2]) as PeerArgs;
  // A peer that cannot be loaded is an unhandled rejection: the process fails, as with a throw.
  if (args.role === 'server' && args.size.workers) {
    // A server of several processes (`cluster`): this process is its primary or one of its workers.
    void Promise.all([load(args.workload, args.impl), import('./multicore')]).then(([peer, mc]) => mc.serveClustered(args, peer));
  } else
    void load(args.workload, args.impl).then((peer) => {
      const io = new PeerIo();
      if (args.role === 'server') peer(args, io);
      else io.onGo((port) => peer({ ...args, target: { ...args.target, port } }, io));
    });
}
