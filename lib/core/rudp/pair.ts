/**
 * A pair of connected rudp sockets in this process (`createRudpSocketPair` of
 * `socket-provider/testing`): two real {@link RudpSocket}s whose datagrams cross an in-process
 * link instead of the network. Everything rudp does holds (messages, options, lanes, stats,
 * `simulate`, shutdown and the end rules); there is no handshake, port or address.
 */
import { ISocket, SocketOptions, USocket } from '../../api';
import { DatagramTransport } from '../datagram-path';
import { checkUser } from '../validate';
import { PeerLink, RudpSocket } from './rudp-socket';
import { newConnectionId, readHeader } from './wire';

/** Datagrams in flight on one direction of the link; more are dropped, as a full socket buffer would (rudp sends them again). */
export const PAIR_LINK_DATAGRAMS = 4096;

/** A pair end never opens a UDP handle. */
const noTransport: DatagramTransport = {
  open: () => {
    throw new Error('a rudp socket-pair end has no UDP handle');
  },
};

/** One direction: datagrams copied (as the kernel would) and handed to the other end on a later turn of the event loop. */
class PairLink implements PeerLink {
  private queue: Buffer[] = [];
  private scheduled = false;
  private released = false;
  peer: RudpSocket | null = null;
  /** The other end's connection ID: what its packets must carry. */
  peerCid = 0;

  send(data: Buffer): void {
    if (this.released || this.queue.length >= PAIR_LINK_DATAGRAMS) return;
    this.queue.push(Buffer.from(data));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.deliver());
    }
  }

  private deliver(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const buf of batch) {
      const h = readHeader(buf);
      if (h && h.dcid === this.peerCid) this.peer?.packet(h.type, buf);
    }
  }

  /** The sending end ended: what it sent (its close packet too) still arrives, nothing more is taken. */
  release(): void {
    this.released = true;
  }
}

/**
 * Two connected rudp sockets: `userA` gets `socketConnectComplete`, `userB`
 * `socketAcceptComplete`, both later. `options` apply to both ends (rudp's options: `lanes`,
 * `maxMessageSize`, `idleTimeoutMs`, `simulate`, …; also `iomux`, `log`).
 * @throws TypeError for a user without `socketShutdown` or malformed options; RangeError for an out-of-range option
 */
export function createRudpPair(userA: USocket, userB: USocket, options: SocketOptions = {}): [ISocket, ISocket] {
  if (typeof options !== 'object' || options === null) throw new TypeError('createRudpSocketPair: options must be an object');
  checkUser('createRudpSocketPair', userA);
  checkUser('createRudpSocketPair', userB);
  const a = new RudpSocket(noTransport, userA, options);
  const b = new RudpSocket(noTransport, userB, options);
  const cidA = newConnectionId();
  const cidB = newConnectionId();
  const toB = new PairLink();
  const toA = new PairLink();
  toB.peer = b;
  toB.peerCid = cidB;
  toA.peer = a;
  toA.peerCid = cidA;
  a.startPaired(toB, cidA, cidB, true);
  b.startPaired(toA, cidB, cidA, false);
  return [a, b];
}
