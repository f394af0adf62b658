import type { PeerCertificate, ShutdownReason } from '../api';
import type { DatagramPath, HostPort, SendDone } from './datagram-path';

/*
 * The seam between a secure datagram socket (`core/datagram-secure.ts`) and the protocol that
 * secures it (DTLS, `transports/dtls.ts`): the socket runs the socket, the session speaks the
 * protocol over the socket's path.
 */

/** What a secure datagram socket starts its session with. */
export interface SessionStart {
  /** Where the session's records go. */
  path: DatagramPath;
  /** The path is connected to its peer: records go without an address. */
  connected: boolean;
  /** The connected peer, if any. */
  peer: HostPort | null;
  /** The host the UDP socket's connect() named, as written (a client verifies it). */
  hostAsWritten: string | undefined;
}

/** What a session reports to its socket. */
export interface SessionEvents {
  /**
   * The handshake is done and the peer verified. `peer`: whom it was done with (a bound server
   * serves this peer only from now on); `detail`: for the log line.
   */
  sessionSecured(peer: HostPort | null, detail: string): void;
  /**
   * The handshake failed for good: `reason`, by default `SOCKET_TLS_HANDSHAKE_FAILED` (the peer's
   * certificate was refused); `SOCKET_ALPN_SELECTION_FAILED` when ALPN found no protocol.
   */
  sessionFailed(why: string, reason?: ShutdownReason): void;
  /** One decrypted datagram of the peer. */
  sessionData(data: Buffer): void;
  /** The peer closed the session (close_notify, or a fatal alert), or, during the handshake, claims to. */
  sessionPeerClosed(): void;
  /** A line for this socket's log. */
  sessionTrace(message: string): void;
  /** An error's code for a log line (recorded as the socket's last error, see `stats()`). */
  sessionErrorCode(err: unknown): string;
}

/**
 * A security protocol over a datagram path (DTLS, `transports/dtls.ts`): it speaks the
 * protocol; the secure datagram socket runs the socket (states, time-out, queues, rules).
 */
export interface DatagramSession {
  /** Sets up the handshake over `start.path`; reports through `events`. Nothing is sent yet. */
  start(start: SessionStart, events: SessionEvents): void;
  /** Starts the handshake (a client sends its first flight), after the datagrams that came before were fed. */
  begin(): void;
  /** A datagram from the peer (before a peer is locked: from anyone). `secured`: the handshake is done. */
  receive(data: Buffer, address: string, port: number, secured: boolean): void;
  /** Protects and sends one datagram; `done` once it was handed to the OS or refused. */
  send(data: Buffer, done: SendDone): void;
  /** Sends the close alert; `done` once it was handed to the OS (or could not be). */
  close(done: () => void): void;
  /** The socket ended: no more sending or retransmitting. */
  stop(): void;
  peerCertificate(): PeerCertificate | null;
  /** The SRTP keying material, if SRTP was negotiated. */
  keyingMaterial(): { profile: string; material: Uint8Array } | null;
  /** The ALPN protocol of a completed handshake, or null (none negotiated). */
  alpn(): string | null;
  /** How a handshake that ran out of time ends: what the session saw of the peer may say more than "it did not finish". */
  handshakeTimeoutReason(): ShutdownReason;
}

/** What a {@link DatagramGate} decides about a datagram from a peer the listener does not know. */
export type GateVerdict = 'admit' | 'answered' | 'garbage';

/**
 * The DTLS listener's stateless gate (`transports/dtls-cookie.ts`), asked before any state is
 * kept for a new peer: `admit` (a ClientHello with a valid cookie: the peer gets its session),
 * `answered` (a ClientHello without one: `reply` sent a HelloVerifyRequest), `garbage`.
 */
export interface DatagramGate {
  check(data: Buffer, address: string, port: number, reply: (data: Buffer) => void): GateVerdict;
}
