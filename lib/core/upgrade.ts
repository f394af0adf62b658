import type { ISocket, UpgradeOptions, USocket } from '../api';
import type { DatagramGate, DatagramSession } from './datagram-session';
import type { StreamTransport } from './stream/transport';

/**
 * The internal hand-over of `upgradeToTls`: every socket kind implements it under this symbol
 * (so it is no part of the public `ISocket`), and the TLS provider calls it
 * (`socket[kUpgradeTo](offer)`) without knowing the socket's class. The socket checks that it
 * can be taken over, makes its successor from what the offer gives it, and hands itself over.
 */
export const kUpgradeTo: unique symbol = Symbol('socket-provider.upgradeTo');

/**
 * What the TLS provider offers a socket that `upgradeToTls` was called on. The socket takes what
 * fits its kind: a stream socket the secure stream transport (STARTTLS), a UDP socket a DTLS
 * session. The provider knows no socket class; the socket knows no transport and no context.
 */
export interface UpgradeOffer {
  readonly user: USocket;
  /** The app's options (an object); the successor's options are the socket's hand-over options overridden by these. */
  readonly options: UpgradeOptions;
  readonly serverSide: boolean;
  /** STARTTLS: the secure transport the successor of a stream socket runs on. */
  readonly streamTransport: StreamTransport;
  /**
   * DTLS: checks that the options allow a DTLS upgrade (a context on which `enableDtls()` was
   * called, a server certificate for the server side, …) and makes the session, which does
   * nothing until the successor starts it. Called before anything of the socket is checked.
   * @throws SocketStateError when the options do not allow it
   */
  dtlsSession(gated?: boolean): DatagramSession;
  /**
   * DTLS listener: the stateless cookie gate its new peers pass first; `dtlsSession(true)` then
   * makes the session of a peer the gate admitted (its first ClientHello carries our cookie).
   */
  dtlsGate(): DatagramGate;
}

/** A socket that `upgradeToTls` may be asked of: every socket the providers make. */
export interface Upgradable {
  /**
   * Takes this socket over for `offer` and returns the successor; throws, changing nothing, when
   * the socket cannot be upgraded (SocketStateError) or the options are malformed.
   */
  [kUpgradeTo](offer: UpgradeOffer): ISocket;
}

/** Whether `socket` is one of ours (has the hand-over hook). */
export function isUpgradable(socket: unknown): socket is Upgradable {
  return typeof socket === 'object' && socket !== null && typeof (socket as Partial<Upgradable>)[kUpgradeTo] === 'function';
}
