import type { SocketStats } from '../../api';
import type { Connection } from './connection';
import type { SendLanes } from './send-lanes';

/** A connection's `stats()`: the socket's own figures with the reliability engine's and the lanes'. */
export function connectionStats(base: SocketStats, outgoing: SendLanes, c: Connection | null): SocketStats {
  const lanes = { lanes: outgoing.laneStats(), unreliableSendDropped: outgoing.dropped };
  if (!c) return { ...base, rttMs: null, rttVarMs: null, retransmits: 0, packetsSent: 0, packetsReceived: 0, packetsLost: 0, unackedBytes: 0, ...lanes };
  return {
    ...base,
    rttMs: c.srtt,
    rttVarMs: c.rttvar,
    retransmits: c.retransmits,
    packetsSent: c.packetsSent,
    packetsReceived: c.packetsReceived,
    packetsLost: c.packetsLost,
    sendRateBytesPerSec: c.sendRate,
    unackedBytes: c.unackedBytes,
    ...lanes,
    unreliableRecvDropped: c.inbound.dropped,
  };
}
