// The rudp bench's framework peers (issue #20), written as a user would with the public API.
// Two ways to carry messages (size.api): 1, a message socket (createMessageSocket, autoReceive)
// over an rudp connection, or over TCP for the reliable baseline (target.kind 'tcp'); 0, the
// rudp socket's own send/recv, where each send is one reliable message and each recv one
// message. Bulk: 64 KiB messages, at most `size.window` not yet reported sent (acknowledged by
// the peer on rudp, handed to the OS on TCP); ping-pong: 64 B, one at a time, each round trip
// timed; unreliable: 512 B sent with `{ reliable: false }` (message socket only), echoed the
// same way, with the UDP workload's credit window.
import { createMessageSocket, createRudpSocketProvider, IMessageSocket, ISocket, ShutdownReason, UMessageSocket, USocket } from '../../lib';
import { BLOCK, DGRAM, PeerArgs, PeerIo, fillDatagram, makeBlock, msSince, stampBlock, waitUntil } from './common';
import { PingPong, UnrelPump } from './rudp-pump';
import { checkEnd, FwTransport, fwListen, fwTransport } from './stream-fw';

/** `sendMessage` with the options of issue #20, typed here for engines whose type does not have them yet. */
type SendWithOptions = (message: Uint8Array, options?: { reliable?: boolean; lane?: number }) => void;
const UNRELIABLE = { reliable: false };

/**
 * Why `sendMessage(m, { reliable: false })` cannot be measured on this engine, or null if it
 * can. An engine with the option checks it (a wrong type throws TypeError and sends nothing,
 * as every option of the API does); one without ignores the argument and would send the
 * message reliably, which is not the workload.
 */
export function unreliableMissing(ms: IMessageSocket): string | null {
  try {
    (ms.sendMessage as SendWithOptions).call(ms, new Uint8Array(DGRAM), { reliable: 'no' as unknown as boolean });
  } catch (err) {
    if (err instanceof TypeError) return null;
    return `sendMessage(m, { reliable: 'no' }) threw ${String(err)}`;
  }
  return 'sendMessage ignores its options (no { reliable: false } in this engine): unreliable messages are not available';
}

/** A connection as the workloads see it, over either API. */
interface Link {
  readonly socket: ISocket;
  send(m: Uint8Array, unreliable?: boolean): void;
  close(): void;
}

/** A workload's side of a connection. `m` is valid during the call only. */
interface Handler {
  start?(link: Link): void;
  received(link: Link, m: Uint8Array): void;
  sent?(link: Link): void;
  ended(r: ShutdownReason): void;
}

/** The rudp socket's own messages: one send, one message; one recv, one message (64 KiB fit). */
class SocketLink extends USocket implements Link {
  private readonly buf = new Uint8Array(BLOCK);
  socket!: ISocket;
  constructor(private readonly h: Handler) {
    super();
  }
  private begin(s: ISocket): void {
    this.socket = s;
    s.recv(this.buf);
    this.h.start?.(this);
  }
  override socketConnectComplete(s: ISocket): void {
    this.begin(s);
  }
  override socketAcceptComplete(s: ISocket): void {
    this.begin(s);
  }
  send(m: Uint8Array): void {
    this.socket.send(m); // copies
  }
  close(): void {
    this.socket.shutdown();
  }
  override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
    this.h.received(this, b.subarray(0, n));
    s.recv(this.buf);
  }
  override socketSendResult(): void {
    this.h.sent?.(this);
  }
  override socketShutdown(_s: ISocket, r: ShutdownReason): void {
    this.h.ended(r);
  }
}

/** A message socket over the connection, made once it is connected or accepted. */
class MessageLink extends UMessageSocket implements Link {
  private ms!: IMessageSocket;
  constructor(private readonly h: Handler) {
    super();
  }
  get socket(): ISocket {
    return this.ms.socket;
  }
  /** The connected socket's user until the message socket takes over. */
  connector(): USocket {
    const wrap = (s: ISocket): void => {
      this.ms = createMessageSocket(s, this, { autoReceive: true });
      this.h.start?.(this);
    };
    const h = this.h;
    return new (class extends USocket {
      override socketConnectComplete(s: ISocket): void {
        wrap(s);
      }
      override socketAcceptComplete(s: ISocket): void {
        wrap(s);
      }
      override socketShutdown(_s: ISocket, r: ShutdownReason): void {
        h.ended(r); // it never connected
      }
    })();
  }
  send(m: Uint8Array, unreliable = false): void {
    if (unreliable) (this.ms.sendMessage as SendWithOptions).call(this.ms, m, UNRELIABLE);
    else this.ms.sendMessage(m);
  }
  close(): void {
    this.ms.shutdown();
  }
  /** See {@link unreliableMissing}. */
  unreliableMissing(): string | null {
    return unreliableMissing(this.ms);
  }
  override messageReceived(_ms: IMessageSocket, m: Uint8Array): void {
    this.h.received(this, m);
  }
  override messageSendResult(): void {
    this.h.sent?.(this);
  }
  override messageSocketShutdown(_ms: IMessageSocket, r: ShutdownReason): void {
    this.h.ended(r);
  }
}

function transport(args: PeerArgs): FwTransport {
  if (args.target.kind === 'tcp') return fwTransport(args.target);
  const port = args.target.port;
  return {
    provider: createRudpSocketProvider(),
    serverOptions: {},
    clientOptions: {},
    bind: (s) => s.bind('127.0.0.1', port),
    connect: (s) => s.connect(`127.0.0.1:${port}`),
  };
}

/** The message socket unless the peer runs rudp with `size.api` 0 (TCP needs the message socket's framing). */
const useMessages = (args: PeerArgs): boolean => args.target.kind === 'tcp' || args.size.api !== 0;

function userFor(args: PeerArgs, h: Handler): USocket {
  return useMessages(args) ? new MessageLink(h).connector() : new SocketLink(h);
}

/** The rudp facts of a client connection, for the RESULT line. */
function rudpFacts(s: ISocket): Record<string, unknown> {
  if (s.type !== 'rudp') return {};
  const st = s.stats();
  return { rudp: { rttMs: st.rttMs, retransmits: st.retransmits, packetsSent: st.packetsSent, packetsLost: st.packetsLost } };
}

function serve(args: PeerArgs, io: PeerIo, makeHandler: () => Omit<Handler, 'ended'>): void {
  fwListen(io, transport(args), () => userFor(args, { ...makeHandler(), ended: (r) => checkEnd(io, 'accepted connection', r) }));
}

/** Connects once; the client quits once its connection ended (bounded). */
function dial(args: PeerArgs, io: PeerIo, h: Omit<Handler, 'ended'>): void {
  const t = transport(args);
  let ended = false;
  const handler: Handler = {
    ...h,
    ended: (r) => {
      ended = true;
      if (r !== ShutdownReason.Normal) io.error(`client ended: ${r}`);
    },
  };
  t.connect(t.provider.createSocket(userFor(args, handler), t.clientOptions));
  io.onQuit(async () => {
    await waitUntil(() => ended, 3000);
    return {};
  });
}

// ---- servers ------------------------------------------------------------------------------

/** Bulk: checks each 64 KiB message's stamp; after `size.bytes`, one 1-byte message (1: all correct). */
export function sinkServer(args: PeerArgs, io: PeerIo): void {
  const blocks = args.size.bytes / BLOCK;
  serve(args, io, () => {
    let got = 0;
    let bad = 0;
    return {
      received(link: Link, m: Uint8Array): void {
        const index = m[4] | (m[5] << 8) | (m[6] << 16) | (m[7] << 24);
        if (m.byteLength !== BLOCK || index !== got || m[BLOCK - 1] !== (got & 0xff)) {
          if (bad++ === 0) io.error(`message ${got}: ${m.byteLength} bytes, header says block ${index}`);
        }
        if (++got === blocks) link.send(Uint8Array.of(bad === 0 ? 1 : 2));
      },
    };
  });
}

/** Echoes every message; unreliably when `size.unreliable` is 1. */
export function echoServer(args: PeerArgs, io: PeerIo): void {
  const unreliable = args.size.unreliable === 1;
  serve(args, io, () => ({ received: (link: Link, m: Uint8Array) => link.send(m, unreliable) }));
}

// ---- clients ------------------------------------------------------------------------------

export function bulkClient(args: PeerArgs, io: PeerIo): void {
  const { bytes, window } = args.size;
  const blocks = bytes / BLOCK;
  const block = makeBlock();
  let next = 0;
  let inFlight = 0;
  let start = 0n;
  const pump = (link: Link): void => {
    for (; inFlight < window && next < blocks; next++, inFlight++) {
      stampBlock(block, 0, next);
      link.send(block); // copied
    }
  };
  dial(args, io, {
    start(link) {
      start = process.hrtime.bigint();
      pump(link);
    },
    sent(link) {
      inFlight--;
      pump(link);
    },
    received(link, m) {
      if (m.byteLength !== 1 || m[0] !== 1) io.error(`the server reported wrong data (ack ${m[0]})`);
      io.result({ ms: msSince(start), bytes, ...rudpFacts(link.socket) });
      link.close();
    },
  });
}

export function pingpongClient(args: PeerArgs, io: PeerIo): void {
  let link: Link | null = null;
  const loop = new PingPong(args.size.rounds, args.size.warmup, io, (m) => link!.send(m)); // send copies
  dial(args, io, {
    start(l) {
      link = l;
      loop.begin();
    },
    received(l, m) {
      const figures = loop.echo(m);
      if (!figures) return;
      io.result({ ...figures, ...rudpFacts(l.socket) });
      l.close();
    },
  });
}

export function unrelClient(args: PeerArgs, io: PeerIo): void {
  const out = new Uint8Array(DGRAM);
  let link: MessageLink | null = null;
  const pump = new UnrelPump(
    args.size.messages,
    args.size.window,
    (seq) => {
      fillDatagram(out, seq);
      link!.send(out, true);
    },
    (ms) => {
      pump.report(io, ms, rudpFacts(link!.socket));
      link!.close();
    },
  );
  dial(args, io, {
    start(l) {
      link = l as MessageLink;
      const missing = link.unreliableMissing();
      if (missing === null) return pump.begin();
      io.result({ ms: 0, unavailable: missing });
      link.close();
    },
    received: (_l, m) => pump.echo(m, m.byteLength),
  });
}
