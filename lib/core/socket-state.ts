/**
 * A socket's life as data: the states, and for each kind of socket the transitions it may
 * make. {@link SocketBase.setState} is the only writer of a socket's state and checks every
 * transition against its kind's table; a transition that is not in the table is a bug of the
 * library, never of the app (see {@link refuseTransition}). docs/architecture.md draws the
 * tables; spec/core/socket-state.spec.ts checks them.
 */

/** Every state a socket can be in. `closed`: `socketShutdown` has been posted; `takenOver`: `upgradeToTls` moved the connection to a new socket. */
export const SOCKET_STATES = [
  'idle',
  'resolving',
  'connecting',
  'handshaking',
  'connected',
  'binding',
  'bound',
  'listening',
  'closing',
  'closed',
  'takenOver',
] as const;

export type SocketState = (typeof SOCKET_STATES)[number];

/** For each state, the states a socket of one kind may go to from it. */
export type TransitionTable = { readonly [S in SocketState]: readonly SocketState[] };

/**
 * Stream sockets (TCP, TLS, local, socket-pair ends). `idle -> connecting`: a connection made by
 * `accept()` or a socket pair; `idle -> handshaking`: an accepted TLS connection, or a STARTTLS
 * successor. Only stream sockets pass through `closing` (the flush and FIN of `shutdown()`).
 */
export const STREAM_TRANSITIONS: TransitionTable = {
  idle: ['resolving', 'connecting', 'handshaking', 'binding', 'closed'],
  resolving: ['connecting', 'closed'],
  connecting: ['handshaking', 'connected', 'closed'],
  handshaking: ['connected', 'closed'],
  connected: ['closing', 'closed', 'takenOver'],
  binding: ['bound', 'closed'],
  bound: ['listening', 'closed'],
  listening: ['closed'],
  closing: ['closed'],
  closed: [],
  takenOver: [],
};

/**
 * UDP sockets. `idle -> binding` also for the implicit bind of a first `sendTo`. A connected or
 * bound socket may be taken over by a DTLS upgrade. No `closing`: the end is posted once the
 * datagrams in flight were handed to the OS. `bound -> listening`: `listen()` made it a datagram
 * listener;
 * `idle -> connected`: a per-peer socket made by a listener's `accept()`.
 */
export const UDP_TRANSITIONS: TransitionTable = {
  idle: ['resolving', 'binding', 'connected', 'closed'],
  resolving: ['connecting', 'closed'],
  connecting: ['connected', 'closed'],
  handshaking: [],
  connected: ['closed', 'takenOver'],
  binding: ['bound', 'closed'],
  bound: ['listening', 'closed', 'takenOver'],
  listening: ['closed', 'takenOver'],
  closing: [],
  closed: [],
  takenOver: [],
};

/**
 * DTLS sockets: made by `upgradeToTls` of a UDP socket, they start their handshake at once.
 * `idle -> listening`: the DTLS listener, made by `upgradeToTls` of a listening UDP socket.
 */
export const DTLS_TRANSITIONS: TransitionTable = {
  idle: ['handshaking', 'listening', 'closed'],
  resolving: [],
  connecting: [],
  handshaking: ['connected', 'closed'],
  connected: ['closed'],
  binding: [],
  bound: [],
  listening: ['closed'],
  closing: [],
  closed: [],
  takenOver: [],
};

/** Whether `table` allows `from -> to`. */
export function isAllowed(table: TransitionTable, from: SocketState, to: SocketState): boolean {
  return table[from].includes(to);
}

/**
 * Whether a transition the table refuses throws. On in test runs (jest sets `NODE_ENV=test`) and
 * with `SOCKET_PROVIDER_CHECK_STATES=1`; elsewhere the transition is logged and made (see
 * docs/decisions.md: a bookkeeping bug must not crash a server out of a Node event handler).
 */
export const STRICT_TRANSITIONS = process.env.NODE_ENV === 'test' || process.env.SOCKET_PROVIDER_CHECK_STATES === '1';

let warned = false;

/**
 * A transition the table refuses: a bug of the library. Throws an internal assertion error
 * (`code: 'ERR_INTERNAL_ASSERTION'`) when `strict`; otherwise emits one process warning (the
 * first time only) and returns, and the caller makes the transition as asked.
 */
export function refuseTransition(message: string, strict = STRICT_TRANSITIONS): void {
  if (strict) throw Object.assign(new Error(`socket-provider internal error: ${message}`), { code: 'ERR_INTERNAL_ASSERTION' });
  if (warned) return;
  warned = true;
  process.emitWarning(`socket-provider internal error: ${message} (reported once per process; please file an issue)`, { code: 'SOCKET_PROVIDER_STATE' });
}
