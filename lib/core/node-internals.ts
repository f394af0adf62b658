// Every private internal of Node.js the library leans on, in one place (issue #16, #17).
//
// Each entry says which Node function it mirrors, on which Node lines it was proven, how it is
// detected at run time (once, then cached) and what the library does where it is not there:
// the fallback, always through Node's public API, never a break. The fast paths are taken only
// on the Node lines where spec/core/node-internals.spec.ts ran and passed (PROVEN_NODE_LINES)
// and where the detection finds the internal as expected. Which path each entry took is
// written once to the package log and kept in `internalPaths()`. docs/node-internals.md lists
// the entries with their fallbacks.
//
// The werift-dtls internals are not here: they stay in transports/dtls-engine.ts, the one
// module that touches werift ("one file per library"), in a section built the same way.
import type { SocketOptions as DgramOptions } from 'node:dgram';
import type { LookupOneOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { isIPv6, Socket } from 'node:net';
import { LogFlag } from '../api';
import { getDefaultLog } from './log';

/**
 * The Node major lines on which `spec/core/node-internals.spec.ts` ran and passed. A fast path
 * that rests on a private internal (or on a behaviour no public API promises) is taken only on
 * these lines; any other line (a new major, an odd line) takes the fallback until the canary
 * spec has been run there and the line added.
 */
export const PROVEN_NODE_LINES: readonly number[] = [20, 22, 24, 26];

/** `SOCKET_PROVIDER_NODE_INTERNALS=off` turns every fast path below off (each takes its fallback). */
export const INTERNALS_ENV = 'SOCKET_PROVIDER_NODE_INTERNALS';

/** The entries of this file, by name. */
export type InternalName = 'onread' | 'tlsParent' | 'tlsWritesThrough' | 'dgramLookup';

/** Which path an entry takes: decided at its first use (`undecided` before). */
export interface InternalPath {
  path: 'fast' | 'fallback' | 'undecided';
  /** Why, in a few words (what the detection found). */
  why: string;
}

const FLAG_OF: Record<InternalName, LogFlag> = {
  onread: LogFlag.Tcp,
  tlsParent: LogFlag.Tls,
  tlsWritesThrough: LogFlag.Tls,
  dgramLookup: LogFlag.Udp,
};

const decided = new Map<InternalName, InternalPath>();
const overrides = new Map<InternalName, boolean>();

/** The major line of a Node version string (`process.versions.node`). */
export function nodeLineOf(version: string): number {
  return Number.parseInt(version, 10);
}

/** Whether the running Node line is one the canary spec proved (see {@link PROVEN_NODE_LINES}). */
export function onProvenLine(version: string = process.versions.node): boolean {
  return PROVEN_NODE_LINES.includes(nodeLineOf(version));
}

/** What {@link gate} found for each entry (the environment and the line do not change). */
const gates = new Map<InternalName, string | null>();

/**
 * The gate every fast path passes first: a test override, then the environment switch, then
 * the Node line. Returns null when the fast path may be taken, else why not. Cached.
 */
function gate(name: InternalName): string | null {
  let closed = gates.get(name);
  if (closed !== undefined) return closed;
  const forced = overrides.get(name);
  if (forced !== undefined) closed = forced ? null : 'turned off by a test override';
  else if ((process.env[INTERNALS_ENV] ?? '').trim().toLowerCase() === 'off') closed = `${INTERNALS_ENV}=off`;
  else closed = onProvenLine() ? null : `Node ${process.version} is not a line the canary spec proved (${PROVEN_NODE_LINES.join(', ')})`;
  gates.set(name, closed);
  return closed;
}

/** Records (once) and logs which path `name` takes. */
function decide(name: InternalName, fast: boolean, why: string): boolean {
  if (!decided.has(name)) {
    decided.set(name, { path: fast ? 'fast' : 'fallback', why });
    const log = getDefaultLog();
    const flag = FLAG_OF[name];
    if (log.isEnabled(flag)) log.log(flag, `Node internals: ${name} takes the ${fast ? 'fast path' : 'fallback'} (${why})`);
  }
  return fast;
}

/** The path each entry took in this process, for logs, support and the canary spec. */
export function internalPaths(): Record<InternalName, InternalPath> {
  const of = (name: InternalName): InternalPath => decided.get(name) ?? { path: 'undecided', why: 'not used yet' };
  return { onread: of('onread'), tlsParent: of('tlsParent'), tlsWritesThrough: of('tlsWritesThrough'), dgramLookup: of('dgramLookup') };
}

/**
 * Test use only: forces an entry's fast path off (`false`), back on where the gate allows it
 * (`true`), or back to detection (`undefined`); forgets what was decided for it.
 * @internal
 */
export function overrideInternal(name: InternalName, enabled: boolean | undefined): void {
  if (enabled === undefined) overrides.delete(name);
  else overrides.set(name, enabled);
  decided.delete(name);
  gates.delete(name);
  if (name === 'onread') onreadFields = undefined;
  if (name === 'tlsWritesThrough') writesThrough = undefined;
  if (name === 'tlsParent') tlsParentFound = undefined;
  if (name === 'dgramLookup') dgramLookupSync = undefined;
}

/**
 * Counts of how connections read, per process: `onread` reads (Node read into the shared
 * scratch buffer) and 'data' events (the Readable stream path: a socket that was not switched,
 * or a socket pair end). A documented stat of which read path is taken.
 */
export const readPathStats = { onread: 0, data: 0 };

// ---- 1. onread for sockets Node made without it ---------------------------------------------

/** The private symbols under which a Node socket keeps its `onread` settings. */
export interface OnreadFields {
  buffer: symbol;
  callback: symbol;
}

/**
 * Detection of entry 1: the symbols `kBuffer` and `kBufferCb` among the own properties of a
 * Node socket made without `onread`, both holding null. Null when they are not there as
 * expected (renamed, moved to a private class field, or not null-initialised).
 */
export function findOnreadFields(sock: object): OnreadFields | null {
  let buffer: symbol | undefined;
  let callback: symbol | undefined;
  for (const s of Object.getOwnPropertySymbols(sock)) {
    if (s.description === 'kBuffer') buffer = s;
    else if (s.description === 'kBufferCb') callback = s;
  }
  if (!buffer || !callback) return null;
  const fields = sock as Record<symbol, unknown>;
  return fields[buffer] === null && fields[callback] === null ? { buffer, callback } : null;
}

/** The fields found by the first use: a symbol pair (fast path), or null (fallback). */
let onreadFields: OnreadFields | null | undefined;

function onreadFieldsOnce(): OnreadFields | null {
  if (onreadFields !== undefined) return onreadFields;
  const closed = gate('onread');
  // A socket with no handle yet: the constructor sets the fields, nothing else happens.
  const found = closed === null ? findOnreadFields(new Socket()) : null;
  onreadFields = found;
  decide('onread', found !== null, closed ?? (found ? 'kBuffer/kBufferCb found on net.Socket' : 'kBuffer/kBufferCb not found on net.Socket'));
  return found;
}

/** Node's socket internals entry 1 touches besides the two symbols. */
interface HandleInternals {
  _handle?: { useUserBuffer?: (buffer: Uint8Array) => void; reading?: boolean } | null;
}

/**
 * **Entry 1: `onread` for a socket Node made without it** (accepted connections, and the
 * TLSSocket a `tls.Server` or STARTTLS wraps around a plain socket).
 *
 * - Mirrors: `lib/net.js` `Socket` constructor (`options.onread`: sets `this[kBuffer]`,
 *   `this[kBufferCb]`) and `initSocketHandle()` (`_handle.useUserBuffer(kBuffer)`), read back by
 *   `lib/internal/stream_base_commons.js` `onStreamRead()`; `_handle.reading` as
 *   `tryReadStart()` sets it. Node's server has no `onread` option for the sockets it makes.
 * - Since: Node 12, with the `onread` option (nodejs/node#25436); proven on {@link PROVEN_NODE_LINES}.
 * - Detected: once, on a fresh `net.Socket` ({@link findOnreadFields}); per socket, that it has
 *   a handle with `useUserBuffer`, both fields still null and no byte buffered in the stream.
 * - Fallback: returns false and changes nothing; the socket is read through 'data' events
 *   (a Buffer per read, the Readable stream's buffering). Slower, same bytes.
 *
 * `whileReading`: a TLS socket whose handshake already read (its TLS layer did) may be switched
 * between two reads, as long as no decrypted byte waits in the stream (`readableLength` 0).
 */
export function setOnread(
  sock: Socket,
  buffer: Uint8Array,
  callback: (this: Socket, bytes: number, buffer: Uint8Array) => boolean,
  whileReading: boolean,
): boolean {
  const fields = onreadFieldsOnce();
  if (fields === null) return false;
  const internals = sock as unknown as HandleInternals & Record<symbol, unknown>;
  const handle = internals._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function' || (handle.reading && !whileReading) || sock.readableLength > 0) return false;
  if (internals[fields.buffer] !== null || internals[fields.callback] !== null) return false;
  internals[fields.buffer] = buffer;
  internals[fields.callback] = callback;
  handle.useUserBuffer(buffer);
  return true;
}

// ---- 2. the plain socket under a server-side TLSSocket --------------------------------------

/** What the detection learned from the first server-side handshake: undefined before it. */
let tlsParentFound: boolean | undefined;

/**
 * Detection of entry 2: `tlsSocket._parent` is the plain socket `raw` that was handed to the
 * `tls.Server` (by `emit('connection', raw)`).
 */
export function detectTlsParent(tlsSocket: object, raw: object): boolean {
  return (tlsSocket as { _parent?: unknown })._parent === raw;
}

/**
 * **Entry 2: the plain socket under a server-side TLSSocket** (`tlsSocket._parent`).
 *
 * - Mirrors: `lib/_tls_wrap.js` `TLSSocket.prototype._init()` (`this._parent = socket`), for
 *   the TLSSocket that `tlsConnectionListener()` makes around the socket a `tls.Server` is fed
 *   by `emit('connection')`; `secureConnection` and `tlsClientError` give only the TLSSocket.
 * - Since: Node 0.11; proven on {@link PROVEN_NODE_LINES}.
 * - Detected: on the first server-side handshake, which takes the fallback path and so knows
 *   its plain socket: {@link learnTlsParent} compares (both `secureConnection` and
 *   `tlsClientError` count). Until then, and where it did not hold, this returns false.
 * - Fallback: one `tls.Server` per handshake (a secure context built per connection) instead
 *   of one shared per context version, so the TLSSocket it emits needs no lookup.
 */
export function tlsParentUsable(): boolean {
  const closed = gate('tlsParent');
  if (closed === null) return tlsParentFound === true;
  decide('tlsParent', false, closed);
  return false;
}

/** The fallback path's handshake tells whether `_parent` holds (entry 2); decided once. */
export function learnTlsParent(tlsSocket: object, raw: object): void {
  if (tlsParentFound !== undefined || gate('tlsParent') !== null) return;
  tlsParentFound = detectTlsParent(tlsSocket, raw);
  decide(
    'tlsParent',
    tlsParentFound,
    tlsParentFound ? 'TLSSocket._parent is the socket handed to the tls.Server' : 'TLSSocket._parent is not the socket handed to the tls.Server',
  );
}

/** The plain socket under a server-side TLSSocket: only where {@link tlsParentUsable} said so. */
export function tlsParentOf(tlsSocket: object): Socket | undefined {
  const parent = (tlsSocket as { _parent?: unknown })._parent;
  return typeof parent === 'object' && parent !== null ? (parent as Socket) : undefined;
}

// ---- 3. TLS writes that do not keep the caller's memory -------------------------------------

/** Entry 3's decision, once made. */
let writesThrough: boolean | undefined;

/**
 * **Entry 3: a TLS write with nothing queued is consumed before `write()` returns** (a
 * behaviour, not a field: no public API promises it).
 *
 * - Mirrors: `src/crypto/crypto_tls.cc` `TLSWrap::DoWrite()`: the cleartext goes through
 *   `SSL_write()` into the encrypted-output BIO, and what OpenSSL cannot take yet (handshake not
 *   done) is copied into `pending_cleartext_input_`; the caller's bytes are not read after the
 *   call. `lib/_tls_wrap.js` passes the write down at once when nothing is queued.
 * - Since: long before Node 20; proven on {@link PROVEN_NODE_LINES} by the canary (a buffer
 *   overwritten right after each write reaches the peer unchanged).
 * - Detected: cannot be probed cheaply at run time: the Node line is the detection.
 * - Fallback: false: every TLS send is copied (from the send pool), as plain TCP sends are.
 */
export function tlsWritesThrough(): boolean {
  if (writesThrough !== undefined) return writesThrough; // a send's hot path: one compare
  const closed = gate('tlsWritesThrough');
  writesThrough = decide('tlsWritesThrough', closed === null, closed ?? `proven on Node ${nodeLineOf(process.versions.node)}`);
  return writesThrough;
}

// ---- 4. dgram's lookup answered at once -----------------------------------------------------

/** Whether dgram called `lookup` synchronously inside `send()`: undefined until a send showed it. */
let dgramLookupSync: boolean | undefined;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | { address: string; family: number }[], family?: number) => void;

/**
 * The answer for an IP literal the caller checked, in the form dgram asked for: dgram passes
 * the family as a number (`lookup4`/`lookup6` in `lib/internal/dgram.js`), though the public
 * signature is `dns.lookup`'s (an options object, maybe with `all`).
 */
export function answerAtOnce(host: string, options: unknown, cb: LookupCallback): void {
  const asked = typeof options === 'number' ? options : (options as { family?: unknown } | null)?.family;
  const family = asked === 4 || asked === 6 ? asked : isIPv6(host) ? 6 : 4;
  if (typeof options === 'object' && options !== null && (options as { all?: unknown }).all === true) cb(null, [{ address: host, family }]);
  else cb(null, host, family);
}

/**
 * **Entry 4: dgram's `lookup` answered at once for a checked IP literal.** Not a private
 * internal: `lookup` is a public option of `dgram.createSocket()`. What it assumes beyond the
 * docs, and so treats like an internal, with a canary:
 *
 * - Mirrors: `lib/dgram.js` `Socket.prototype.send()`, which calls `state.handle.lookup()`
 *   (`lookup4`/`lookup6` of `lib/internal/dgram.js`, family as a number) synchronously for a
 *   bound, unconnected socket and runs `doSend()` inside the callback: answered at once, the
 *   datagram reaches the OS inside `send()` instead of a `dns.lookup` tick later.
 * - Since: the `lookup` option since Node 8.6; the synchronous call since then; proven on
 *   {@link PROVEN_NODE_LINES}. Node 26.7 made the *default* lookup skip `dns.lookup()` for an
 *   IP literal (still a tick later) and still consults a custom one (nodejs/node#64133); a
 *   later line that stops consulting it is caught by the detection.
 * - Detected: the gate; then each armed send checks that dgram did call `lookup` inside it
 *   ({@link DgramLookup.disarm}); the first send that shows it did not turns the fast path off.
 * - Fallback: no `lookup` option (dgram's own `dns.lookup`): a tick and a closure per datagram.
 *
 * One per dgram socket (no module-global flag).
 */
export class DgramLookup {
  private armed = false;
  /** dgram's `lookup` option: undefined (dgram's own `dns.lookup`) where the fast path is off. */
  readonly option: DgramOptions['lookup'];

  constructor() {
    const closed = gate('dgramLookup');
    if (closed !== null) decide('dgramLookup', false, closed);
    // Typed as Node's typings have it (options object, one address); dgram passes a number.
    this.option = closed === null ? (this.lookup as DgramOptions['lookup']) : undefined;
  }

  private readonly lookup = (host: string, options: LookupOneOptions | number, cb: LookupCallback): void => {
    if (this.armed) {
      this.armed = false;
      answerAtOnce(host, options, cb);
    } else {
      dnsLookup(
        host,
        (typeof options === 'number' ? { family: options } : options) as LookupOneOptions,
        cb as (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
      );
    }
  };

  /**
   * Before handing dgram a datagram for an IP literal the caller checked: the next lookup is
   * answered at once. False (nothing armed) where the fast path is off.
   */
  arm(): boolean {
    if (this.option === undefined || dgramLookupSync === false) return false;
    this.armed = true;
    return true;
  }

  /** After that `send()` returned (`sent`: it did not throw): notes whether dgram used the answer. */
  disarm(sent: boolean): void {
    const unused = this.armed;
    this.armed = false;
    if (!sent || dgramLookupSync !== undefined) return;
    dgramLookupSync = !unused;
    decide('dgramLookup', dgramLookupSync, dgramLookupSync ? 'dgram called lookup inside send()' : 'dgram did not call lookup inside send()');
  }
}
