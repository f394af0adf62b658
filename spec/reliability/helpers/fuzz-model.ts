/**
 * The model the fuzzers check every call against: from what a socket has been asked and what
 * it has reported so far, which calls must throw, and what (docs/errors.md, "The order of the
 * checks"). A call the model says is fine must not throw; a call it says must throw must throw
 * exactly that.
 */
import { ISocket, SocketErrorCode } from '../../../lib';

/** What `thrown()` of spec/helpers/stream-harness.ts reports: 'none', an error name, or `SocketStateError:<code>`. */
export type Outcome = string;

export const NONE: Outcome = 'none';
const state = (code: SocketErrorCode): Outcome => `SocketStateError:${code}`;
export const TAKEN_OVER = state(SocketErrorCode.TakenOver);
export const WRONG_MODE = state(SocketErrorCode.WrongMode);
export const ALREADY_CONNECTED = state(SocketErrorCode.AlreadyConnected);
export const ALREADY_BOUND = state(SocketErrorCode.AlreadyBound);
export const NOT_BOUND = state(SocketErrorCode.NotBound);
export const ALREADY_LISTENING = state(SocketErrorCode.AlreadyListening);
export const NOT_CONNECTED = state(SocketErrorCode.NotConnected);
export const SHUT_DOWN = state(SocketErrorCode.ShutDown);
export const OUTSIDE_LISTEN_RESULT = state(SocketErrorCode.AcceptOutsideListenResult);
export const ALREADY_ACCEPTED = state(SocketErrorCode.AlreadyAccepted);
export const RECV_PENDING = state(SocketErrorCode.RecvPending);
export const NOT_SUPPORTED = state(SocketErrorCode.NotSupported);

/** A call the fuzzer makes. Bad arguments are part of the mix: they must throw and change nothing. */
export type FuzzCall =
  | { op: 'connect' }
  | { op: 'bind'; badPort: boolean }
  | { op: 'listen' }
  | { op: 'accept' }
  | { op: 'send'; len: number; extra: number; explicitLen: boolean }
  | { op: 'sendTo'; len: number }
  | { op: 'recv'; len: number; extra: number; partial: boolean; omitLen: boolean }
  | { op: 'recvCancel' }
  | { op: 'setUser' }
  | { op: 'shutdown' }
  | { op: 'upgrade'; viaTls: boolean }
  | { op: 'badSend'; kind: 'string' | 'zeroLen' | 'tooLong' | 'fraction' | 'arrayBuffer' }
  | { op: 'badRecv'; kind: 'tooLong' | 'zeroLen' | 'empty' | 'array' }
  | { op: 'badSetUser' };

/** What the model knows about one socket at the moment of a call. */
export interface SocketFacts {
  transport: 'tcp' | 'tls' | 'local' | 'udp';
  mode: 'none' | 'client' | 'server';
  /** Stream sockets: listen() was accepted. */
  listening: boolean;
  takenOver: boolean;
  shutdownCalled: boolean;
  /** socketShutdown was delivered. */
  ended: boolean;
  /** Stream: the connection is up (connect/accept/upgrade complete). UDP: bound or connected. */
  ready: boolean;
  recvPending: boolean;
  /** Only stream listeners take accept() — and only inside socketListenResult, never here. */
}

function argOutcome(call: FuzzCall): Outcome | null {
  switch (call.op) {
    case 'badSend':
      return call.kind === 'string' || call.kind === 'arrayBuffer' ? 'TypeError' : 'RangeError';
    case 'badRecv':
      return call.kind === 'array' ? 'TypeError' : 'RangeError';
    default:
      return null;
  }
}

/** `connect()` and `bind()`, the calls that choose the mode: the same rules on every transport. */
function predictModeChoice(f: SocketFacts, call: { op: 'connect' } | { op: 'bind'; badPort: boolean }): Outcome {
  const other = call.op === 'connect' ? 'server' : 'client';
  if (f.mode === other) return WRONG_MODE;
  if (f.mode !== 'none') return call.op === 'connect' ? ALREADY_CONNECTED : ALREADY_BOUND;
  if (call.op === 'bind' && call.badPort) return 'RangeError';
  return f.shutdownCalled ? SHUT_DOWN : NONE;
}

/** The outcome of `call` on a stream socket (TCP, TLS, local). */
export function predictStream(f: SocketFacts, call: FuzzCall): Outcome {
  const ignored = f.shutdownCalled || f.ended;
  if (call.op === 'upgrade') {
    if (!call.viaTls) return NOT_SUPPORTED; // the TCP and local providers upgrade nothing
    if (f.transport === 'tls') return NOT_SUPPORTED;
    if (f.takenOver) return TAKEN_OVER;
    if (f.mode === 'server') return WRONG_MODE;
    if (f.mode === 'none') return NOT_CONNECTED;
    if (ignored) return SHUT_DOWN;
    if (!f.ready) return NOT_CONNECTED;
    return f.recvPending ? RECV_PENDING : NONE;
  }
  if (f.takenOver) return TAKEN_OVER;
  switch (call.op) {
    case 'connect':
    case 'bind':
      return predictModeChoice(f, call);
    case 'listen':
      if (f.mode === 'client') return WRONG_MODE;
      if (f.mode === 'none') return NOT_BOUND;
      return f.listening ? ALREADY_LISTENING : NONE;
    case 'accept':
      return OUTSIDE_LISTEN_RESULT;
    case 'send':
    case 'badSend':
    case 'recv':
    case 'badRecv': {
      if (f.mode === 'server') return WRONG_MODE;
      const bad = argOutcome(call);
      if (bad) return bad;
      if (ignored) return NONE;
      if (f.mode === 'none') return NOT_CONNECTED;
      return call.op === 'recv' && f.recvPending ? RECV_PENDING : NONE;
    }
    case 'recvCancel':
      return f.mode === 'server' ? WRONG_MODE : NONE;
    case 'sendTo':
    case 'shutdown':
    case 'setUser':
      return NONE;
    case 'badSetUser':
      return 'TypeError';
  }
}

/** The outcome of `call` on a UDP socket. */
export function predictUdp(f: SocketFacts, call: FuzzCall): Outcome {
  const ignored = f.shutdownCalled || f.ended;
  if (call.op === 'upgrade') return NOT_SUPPORTED; // no DTLS context: nothing to upgrade to
  if (f.takenOver) return TAKEN_OVER;
  switch (call.op) {
    case 'connect':
    case 'bind':
      return predictModeChoice(f, call);
    case 'listen':
      // A bound socket (explicitly, or by a first sendTo) becomes a datagram listener (§7).
      if (f.mode === 'client') return WRONG_MODE;
      if (f.mode === 'none') return NOT_BOUND;
      if (f.listening) return ALREADY_LISTENING;
      if (ignored) return NONE;
      return f.recvPending ? RECV_PENDING : NONE;
    case 'accept':
      return OUTSIDE_LISTEN_RESULT;
    case 'send':
    case 'badSend': {
      if (f.mode === 'server') return WRONG_MODE;
      const bad = argOutcome(call);
      if (bad) return bad;
      if (ignored) return NONE;
      return f.mode === 'none' ? NOT_CONNECTED : NONE;
    }
    case 'sendTo':
      // A listener's peers talk through their accepted sockets.
      return f.mode === 'client' || f.listening ? WRONG_MODE : NONE;
    case 'recv':
    case 'badRecv': {
      if (f.listening) return WRONG_MODE;
      const bad = argOutcome(call);
      if (bad) return bad;
      if (ignored) return NONE;
      if (f.mode === 'none') return NOT_CONNECTED;
      return f.recvPending ? RECV_PENDING : NONE;
    }
    case 'recvCancel':
    case 'shutdown':
    case 'setUser':
      return NONE;
    case 'badSetUser':
      return 'TypeError';
  }
}

/** Whether a call that did not throw was carried out (not ignored after shutdown or the end). */
export function takesEffect(f: SocketFacts): boolean {
  return !f.shutdownCalled && !f.ended && !f.takenOver;
}

/** Makes one of the bad-argument calls on `s` (they must throw: see the predictions above). */
export function performBadCall(s: ISocket, call: Extract<FuzzCall, { op: 'badSend' | 'badRecv' | 'badSetUser' }>): void {
  const loose = s as unknown as { send(d: unknown, l?: unknown): void; recv(d: unknown, l?: unknown): void; setUser(u: unknown): void };
  if (call.op === 'badSetUser') {
    loose.setUser({ socketShutdown: 'no' });
  } else if (call.op === 'badSend') {
    if (call.kind === 'string') loose.send('text');
    else if (call.kind === 'arrayBuffer') loose.send(new ArrayBuffer(4));
    else loose.send(Buffer.alloc(4), call.kind === 'zeroLen' ? 0 : call.kind === 'tooLong' ? 5 : 1.5);
  } else if (call.kind === 'array') {
    loose.recv([1, 2, 3]);
  } else if (call.kind === 'empty') {
    loose.recv(new Uint8Array(0));
  } else {
    loose.recv(new Uint8Array(4), call.kind === 'zeroLen' ? 0 : 5);
  }
}
