import { USocket } from '../api';

/**
 * Which of the two recv callbacks a user implements, so that a completed recv reaches the one it
 * has: a stream socket's data goes to `socketRecvResult`, or to `socketRecvFromResult` (with the
 * peer's address) if only that one is there; a datagram goes to `socketRecvFromResult`, or to
 * `socketRecvResult` (without the source) if only that one is there. With neither, the recv
 * completes and a warning is logged (docs/guide.md "Receiving").
 *
 * "Implements" means: the user object, or its prototype chain below `USocket.prototype`, has
 * its own function of that name; `USocket`'s default no-ops do not count. Read once per user
 * (`createSocket`, `setUser`, `accept`), the prototype chain's answer cached per prototype: a
 * method added to a user or its class later is not seen.
 */

/** The user implements `socketRecvResult`. */
export const RECV_PLAIN = 1;
/** The user implements `socketRecvFromResult`. */
export const RECV_FROM = 2;

const byPrototype = new WeakMap<object, number>();

/** {@link RECV_PLAIN} | {@link RECV_FROM}: the recv callbacks `user` implements. */
export function recvCallbacksOf(user: object): number {
  const own = ownCallbacks(user);
  const proto: object | null = Object.getPrototypeOf(user);
  if (proto === null) return own;
  let chain = byPrototype.get(proto);
  if (chain === undefined) {
    chain = 0;
    for (let p: object | null = proto; p !== null && p !== USocket.prototype && p !== Object.prototype; p = Object.getPrototypeOf(p)) chain |= ownCallbacks(p);
    byPrototype.set(proto, chain);
  }
  return own | chain;
}

function ownCallbacks(o: object): number {
  return (hasOwnFunction(o, 'socketRecvResult') ? RECV_PLAIN : 0) | (hasOwnFunction(o, 'socketRecvFromResult') ? RECV_FROM : 0);
}

function hasOwnFunction(o: object, name: string): boolean {
  const d = Object.getOwnPropertyDescriptor(o, name);
  return d !== undefined && typeof d.value === 'function';
}

let warnedProcess = false;

/** The text of the warning for a recv result that no callback of the user takes. */
export function unhandledRecvText(user: object, bytes: number, datagram: boolean): string {
  const name = (user as { constructor?: { name?: string } }).constructor?.name || 'Object';
  const want = datagram ? 'socketRecvFromResult (UDP, DTLS)' : 'socketRecvResult (TCP, TLS, local)';
  return (
    `a recv completed with ${bytes} bytes, but the user (${name}) implements neither socketRecvResult nor socketRecvFromResult: ` +
    `the bytes are in the recv's buffer and no callback was told. Implement ${want}`
  );
}

/** Once per process: a process warning, which is loud where the socket's log is off (the default). */
export function warnUnhandledRecvOnce(text: string): void {
  if (warnedProcess) return;
  warnedProcess = true;
  process.emitWarning(`socket-provider: ${text} (warned once per process)`, { code: 'SOCKET_PROVIDER_UNHANDLED_RECV' });
}
