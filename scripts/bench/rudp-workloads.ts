// The rudp section of `npm run bench` (issue #20): the workloads, the paths they run over, the
// implementations side by side, and the targets. rudp-bench.ts runs them; rudp-report.ts
// turns the runs into the table. Raw dgram is the unreliable workload's baseline, and the ceiling
// of the reliable ones (rudp-ceiling.ts): what Node itself does per datagram with no reliability.
import type { Message } from './runner';

const MiB = 1 << 20;

/** rudp; ENet (enet-peer.c); the framework's TCP message socket; raw Node dgram. */
export type Impl = 'rudp' | 'enet' | 'tcp' | 'dgram';

export const IMPL_TITLE: Record<Impl, string> = { rudp: 'rudp', enet: 'ENet', tcp: 'TCP message socket', dgram: 'raw dgram' };

export interface RudpPath {
  name: string;
  title: string;
  /** Drop share of the relay in each direction (percent); -1: no relay, plain loopback. */
  relayLoss: number;
}

export const PATHS: RudpPath[] = [
  { name: 'loopback', title: 'loopback', relayLoss: -1 },
  { name: 'relay0', title: 'relay, 0 % loss', relayLoss: 0 },
  { name: 'relay1', title: 'relay, 1 % loss', relayLoss: 1 },
  { name: 'relay5', title: 'relay, 5 % loss', relayLoss: 5 },
];

/** How one implementation runs a workload: its two peers (rudp-peer.ts names) and the transport. */
export interface ImplPeers {
  server: string;
  client: string;
  kind: 'udp' | 'tcp';
  /** Sizes added for this implementation only (the unreliable echo). */
  size?: Record<string, number>;
  /** What this implementation does when it differs from the workload's `sizeText` (the bulk ceiling). */
  sizeText?: string;
}

/** The target for one workload on one path, against ENet in the same run. */
export interface RudpTarget {
  text: string;
  /** rudp/ENet of the rate, median of the pair ratios, at least this. */
  minRatio?: number;
  /** rudp's p99 round trip at most ENet's (median of the pair ratios of p99 ≤ 1). */
  p99?: boolean;
  /** Not one message lost in any rudp run. */
  noLoss?: boolean;
}

export interface RudpWorkload {
  name: string;
  title: string;
  size: Record<string, number>;
  sizeText: string;
  unit: string;
  figure(r: Message): number;
  /** The framework's own baseline beside rudp and ENet. */
  baseline: 'tcp' | 'dgram';
  peers: Partial<Record<Impl, ImplPeers>>;
  /** Implementations that cannot run on a path with a relay (a relay forwards datagrams, not TCP). */
  loopbackOnly: Impl[];
  /** Implementations that recover no loss: loopback and the relay at 0 % only. */
  losslessOnly: Impl[];
  /** Shown as the ceiling, not a competitor: raw dgram without reliability (rudp-ceiling.ts). */
  ceiling: Impl | null;
  targets: Partial<Record<string, RudpTarget>>;
  timeoutMs: number;
}

/** Whether `impl` runs `w` on `path`. */
export function runsOn(w: RudpWorkload, impl: Impl, path: RudpPath): boolean {
  if (path.relayLoss >= 0 && w.loopbackOnly.includes(impl)) return false;
  return !(path.relayLoss > 0 && w.losslessOnly.includes(impl));
}

/** Payload bytes per datagram of the bulk ceiling: rudp's default mtu. */
export const CEILING_DATAGRAM = 1200;
/** Datagrams the bulk ceiling's sender sends per turn of its event loop. */
export const CEILING_BURST = 64;

const per =
  (key: string, scale = 1) =>
  (r: Message): number =>
    Number(r[key]) / scale / (Number(r.ms) / 1000);

/**
 * `api`: how the rudp peers carry reliable messages: 1, a message socket as over TCP; 0, the
 * rudp socket's own send/recv (one message each), for an engine whose message socket does not
 * carry rudp messages whole (rudp-probe.ts). Unreliable messages exist only on the message socket.
 */
export function rudpWorkloads(quick: boolean, api = 0): RudpWorkload[] {
  const q = <T>(full: T, short: T): T => (quick ? short : full);
  const bytes = q(256 * MiB, 32 * MiB);
  const rounds = q(10_000, 3000);
  const warmup = q(1000, 300);
  const messages = q(200_000, 20_000);
  const timeoutMs = q(180_000, 90_000);
  const fw = (server: string, client: string, size?: Record<string, number>): ImplPeers => ({ server, client, kind: 'udp', size });
  return [
    {
      name: 'rudp-bulk',
      title: 'reliable bulk',
      size: { bytes, window: 16 },
      sizeText: `${bytes / MiB} MiB in 64 KiB messages, 16 unacknowledged`,
      unit: 'MiB/s',
      figure: per('bytes', MiB),
      baseline: 'tcp',
      peers: {
        rudp: fw('fw-sink', 'fw-bulk', { api }),
        enet: fw('enet-bulk', 'enet-bulk'),
        tcp: { ...fw('fw-sink', 'fw-bulk'), kind: 'tcp' },
        dgram: {
          ...fw('dgram-sink', 'dgram-flood', { datagram: CEILING_DATAGRAM, burst: CEILING_BURST }),
          sizeText: `${bytes / MiB} MiB one way in ${CEILING_DATAGRAM} B datagrams, ${CEILING_BURST} per turn of the event loop, losses allowed`,
        },
      },
      loopbackOnly: ['tcp'],
      losslessOnly: ['dgram'],
      ceiling: 'dgram',
      targets: {
        loopback: { text: '≥ 1.0× ENet', minRatio: 1.0 },
        relay1: { text: '≥ 1.5× ENet', minRatio: 1.5 },
        relay5: { text: '≥ 2.5× ENet', minRatio: 2.5 },
      },
      timeoutMs,
    },
    {
      name: 'rudp-pingpong',
      title: 'reliable ping-pong',
      size: { rounds, warmup },
      sizeText: `64 B, ${rounds} round trips (+${warmup} warm-up)`,
      unit: 'round trips/s',
      figure: per('rounds'),
      baseline: 'tcp',
      peers: {
        rudp: fw('fw-echo', 'fw-pingpong', { api }),
        enet: fw('enet-pingpong', 'enet-pingpong'),
        tcp: { ...fw('fw-echo', 'fw-pingpong'), kind: 'tcp' },
        dgram: fw('dgram-echo', 'dgram-pingpong'),
      },
      loopbackOnly: ['tcp'],
      losslessOnly: ['dgram'],
      ceiling: 'dgram',
      targets: {
        loopback: { text: '≥ 0.8× ENet', minRatio: 0.8 },
        relay1: { text: 'p99 ≤ ENet p99', p99: true },
      },
      timeoutMs,
    },
    {
      name: 'rudp-unrel',
      title: 'unreliable 512 B',
      size: { messages, window: 256 },
      sizeText: `${messages} × 512 B echoed unreliably, credit window 256`,
      unit: 'messages/s',
      figure: per('messages'),
      baseline: 'dgram',
      peers: {
        rudp: fw('fw-echo', 'fw-unrel', { unreliable: 1, api: 1 }),
        enet: fw('enet-unrel', 'enet-unrel'),
        dgram: fw('dgram-echo', 'dgram-unrel'),
      },
      loopbackOnly: [],
      losslessOnly: [],
      ceiling: null,
      targets: { loopback: { text: '≥ 0.8× ENet, 0 lost', minRatio: 0.8, noLoss: true } },
      timeoutMs,
    },
  ];
}
