/** The rudp parts of {@link SocketOptions} and {@link SocketStats} (kept apart to keep `api.ts` short). */
import type { RudpSimulate } from './core/rudp/simulate';

/** Options of rudp sockets (a listener's apply to the connections it accepts); other sockets ignore them. */
export interface RudpOptions {
  /** rudp: the largest message in bytes; a larger `send` throws `RangeError`. Default 512 KiB. */
  maxMessageSize?: number;
  /** rudp: a PING after this many ms without sending anything. Default `idleTimeoutMs / 3`; 0 disables. */
  keepAliveMs?: number;
  /** rudp: bytes per datagram, header included. Default 1200; at least 576. */
  mtu?: number;
  /** rudp: fault injection on every datagram the socket sends and receives (tests and demos). */
  simulate?: RudpSimulate;
}

/** What `stats()` adds on a rudp connection (absent on other sockets). */
export interface RudpStats {
  /** Smoothed round-trip time in ms (RFC 9002); null before the first sample. */
  rttMs?: number | null;
  /** Round-trip time variation in ms. */
  rttVarMs?: number;
  /** Fragments sent again after a loss or a probe time-out. */
  retransmits?: number;
  /** Datagrams sent (handshake, data, acks, probes, close). */
  packetsSent?: number;
  /** Datagrams received for this connection. */
  packetsReceived?: number;
  /** Packets the sender's loss detection declared lost. */
  packetsLost?: number;
  /** What congestion control allows now (cwnd / srtt), bytes per second. */
  sendRateBytesPerSec?: number;
  /** Bytes sent and not yet acknowledged (in flight). */
  unackedBytes?: number;
  /** Per lane (only lane 0 so far): messages not yet acknowledged, bytes not yet sent. */
  lanes?: RudpLaneStats[];
}

/** One lane's queue, in {@link RudpStats.lanes}. */
export interface RudpLaneStats {
  /** Messages not yet acknowledged. */
  queuedMessages: number;
  /** Bytes not yet sent. */
  queuedBytes: number;
}
