import type { ISocket, USocket } from '../api';
import type { SendOptions } from '../api-rudp';
import { SocketErrorCode, SocketStateError } from '../errors';

/**
 * Owning a socket: a layer built on the public API (a message socket) claims the socket it
 * wraps. From then on the socket's own `send`, `sendTo`, `recv`, `recvCancel` and `setUser`
 * throw `ERR_SOCKET_OWNED` for everyone but the owner, who calls them through the
 * {@link OwnedSocket} the claim returned; a second claim throws too. `shutdown()` and the facts
 * stay open to all. docs/decisions.md ("Owned sockets") says why this shape.
 */

/** The calls the owner of a claimed socket makes on it (the socket's own methods throw `ERR_SOCKET_OWNED`). */
export interface OwnedSocket {
  /** The socket's `send()`, for the owner. */
  send(data: Uint8Array, len?: number, options?: SendOptions): void;
  /** The socket's `recv()`, for the owner. */
  recv(buffer: Uint8Array, len?: number, recvPartial?: boolean): void;
  /** The socket's `recvCancel()`, for the owner. */
  recvCancel(): void;
  /** The socket's `setUser()`, for the owner: the owner's own user gets the socket's callbacks. */
  setUser(user: USocket): void;
  /** The socket's `shutdown()` (which stays open to everyone). */
  shutdown(): void;
}

/** The internal hook a socket of ours implements: guards its own methods and returns the owner's way in. */
export const kClaim: unique symbol = Symbol('socket-provider.claim');

/** A socket that can be claimed: every socket the providers make. */
export interface Claimable {
  [kClaim](owner: string): OwnedSocket;
}

/** The methods a claim guards. */
export const OWNED_METHODS = ['send', 'sendTo', 'recv', 'recvCancel', 'setUser'] as const;

/** The error of a call on an owned socket, or of a second claim. */
export function ownedError(call: string, owner: string): SocketStateError {
  return new SocketStateError(SocketErrorCode.Owned, `${call}: this socket is owned by ${owner}; call that instead, not the socket`);
}

/** ISockets that this package did not make, and who claimed them: their methods cannot be guarded, a second claim can. */
const foreignClaims = new WeakMap<object, string>();

/**
 * Claims `socket` for `owner` (a phrase for error messages, e.g. `'a message socket
 * (createMessageSocket)'`). Afterwards the socket's `send`, `sendTo`, `recv`, `recvCancel` and
 * `setUser` throw `SocketStateError` `ERR_SOCKET_OWNED`; the returned object makes those calls
 * (and `shutdown()`) for the owner. A claim lasts as long as the socket. For an `ISocket` this
 * package did not make, only a second claim throws: its methods stay as they are.
 *
 * @throws SocketStateError `ERR_SOCKET_OWNED` if the socket is claimed already,
 * `ERR_SOCKET_TAKEN_OVER` if `upgradeToTls` took it over; TypeError for a non-socket or an empty `owner`.
 */
export function claimSocket(socket: ISocket, owner: string): OwnedSocket {
  if (typeof owner !== 'string' || owner === '') throw new TypeError('claimSocket: owner must be a non-empty string');
  if (typeof socket !== 'object' || socket === null) throw new TypeError('claimSocket: expected an ISocket');
  const hook = (socket as Partial<Claimable>)[kClaim];
  if (typeof hook === 'function') return hook.call(socket, owner);
  const by = foreignClaims.get(socket);
  if (by !== undefined) throw ownedError('claimSocket', by);
  foreignClaims.set(socket, owner);
  return {
    send: (data, len, options) => socket.send(data, len, options),
    recv: (buffer, len, recvPartial) => socket.recv(buffer, len, recvPartial),
    recvCancel: () => socket.recvCancel(),
    setUser: (user) => socket.setUser(user),
    shutdown: () => socket.shutdown(),
  };
}
