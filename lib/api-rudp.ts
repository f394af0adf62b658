/** The rudp parts of {@link SocketOptions} and {@link SocketStats} (kept apart to keep `api.ts` short). */
import type { RudpSimulate } from './core/rudp/simulate';

/** Options of rudp sockets (a listener's apply to the connections it accepts); other sockets ignore them. */
export interface RudpOptions {
  /**
   * rudp: the lanes of the messages this end sends, by index (`send`'s and `sendMessage`'s
   * `lane`). A lane of a lower `priority` number is served strictly first; lanes of one priority
   * share the bandwidth in proportion to `weight` (as GameNetworkingSockets' lanes). Reliable
   * messages arrive in order per lane. Default one lane, `[{ priority: 0, weight: 1 }]`; at most 255.
   */
  lanes?: RudpLane[];
  /** rudp: the largest message in bytes; a larger `send` throws `RangeError`. Default 512 KiB. */
  maxMessageSize?: number;
  /** rudp: a PING after this many ms without sending anything. Default `idleTimeoutMs / 3`; 0 disables. */
  keepAliveMs?: number;
  /** rudp: bytes per datagram, header included. Default 1200; at least 576. */
  mtu?: number;
  /** rudp: fault injection on every datagram the socket sends and receives (tests and demos). */
  simulate?: RudpSimulate;
}

/** One lane of the `lanes` option. */
export interface RudpLane {
  /** Any integer: lanes of a lower number are served strictly first. */
  priority: number;
  /** Greater than 0: the lane's share of the bandwidth among the lanes of its priority. */
  weight: number;
}

/**
 * How one message is sent (`ISocket.send`'s and `IMessageSocket.sendMessage`'s options). rudp
 * honours both; TCP, TLS and local sockets send every message reliably, in call order, on one
 * lane; UDP and DTLS send every message as one datagram. Elsewhere they are checked and ignored.
 */
export interface SendOptions {
  /** rudp: false sends the message unreliably (it may be lost; never duplicated or corrupted). Default true. */
  reliable?: boolean;
  /** rudp: the index of the lane in the socket's `lanes` option; a bad index throws `RangeError`. Default 0. */
  lane?: number;
}

/**
 * What `stats()` adds on a rudp connection (absent on other sockets). A client that is not
 * connected yet has them too: no RTT (null), counters at 0, and no `sendRateBytesPerSec`.
 */
export interface RudpStats {
  /** Smoothed round-trip time in ms (RFC 9002); null before the first sample. */
  rttMs?: number | null;
  /** Round-trip time variation in ms; null before the first sample. */
  rttVarMs?: number | null;
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
  /** Per lane of the `lanes` option: its messages not done yet and bytes not sent yet. */
  lanes?: RudpLaneStats[];
  /** Unreliable messages dropped at `send` because the send queue was full. */
  unreliableSendDropped?: number;
  /**
   * Unreliable messages from the peer dropped: incomplete when their fragments timed out or
   * the reassembly memory was full, or complete while the receive queue was full.
   */
  unreliableRecvDropped?: number;
}

/** One lane's queue, in {@link RudpStats.lanes}. */
export interface RudpLaneStats {
  /** Messages not done yet: reliable ones not yet acknowledged, unreliable ones not yet sent. */
  queuedMessages: number;
  /** Bytes not yet sent. */
  queuedBytes: number;
}
