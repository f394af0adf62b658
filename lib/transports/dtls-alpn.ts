// ALPN (RFC 7301) over DTLS 1.2. werift has no ALPN of its own, so this file adds it: the
// client's offer goes into werift's ClientHello through the engine's extension list, the
// server's choice into werift's ServerHello through a hook on the flight werift builds, and
// each side reads the peer's hello from the engine's handshake cache. Those are werift
// internals, numbered after dtls-engine.ts's entries 1–5 and written the same way (what werift
// function each mirrors, its detection, its fallback); they reach werift only through the
// engine object dtls-engine.ts made. The rest is pure: the extension's bytes, the server's
// choice, the alert record.
import { ShutdownReason } from '../api';
import { Engine, PROVEN_WERIFT_VERSIONS, weriftInternals } from './dtls-engine';

/** The application_layer_protocol_negotiation extension's type. */
export const ALPN_EXTENSION = 16;
/** The fatal alert a server sends when it shares no protocol with the client (RFC 7301 §3.2). */
export const ALERT_NO_APPLICATION_PROTOCOL = 120;
/** The fatal alert for an ALPN extension that cannot be read. */
export const ALERT_DECODE_ERROR = 50;

const CLIENT_HELLO = 1;
const SERVER_HELLO = 2;

// ==== the extension's bytes, the choice, the alert: pure ==================================

/** The extension's data: a 2-byte length, then each name as a 1-byte length and its UTF-8 bytes. */
export function encodeAlpnList(protocols: readonly string[]): Buffer {
  const names = protocols.map((p) => Buffer.from(p, 'utf8'));
  const out = Buffer.alloc(2 + names.reduce((n, b) => n + 1 + b.length, 0));
  out.writeUInt16BE(out.length - 2, 0);
  let at = 2;
  for (const name of names) {
    out[at++] = name.length;
    at += name.copy(out, at);
  }
  return out;
}

/** The names in an extension's data, or null when it is malformed (wrong lengths, an empty name, no name). */
export function decodeAlpnList(data: Uint8Array): string[] | null {
  if (data.length < 2 || ((data[0] << 8) | data[1]) !== data.length - 2) return null;
  const names: string[] = [];
  for (let at = 2; at < data.length;) {
    const n = data[at++];
    if (n === 0 || at + n > data.length) return null;
    names.push(Buffer.from(data.buffer, data.byteOffset + at, n).toString('utf8'));
    at += n;
  }
  return names.length > 0 ? names : null;
}

/**
 * The data of extension `type` in the body of a ClientHello or ServerHello, or null when the
 * hello has no such extension (or no extensions, or lengths that do not fit).
 */
export function helloExtension(body: Uint8Array, hello: 'client' | 'server', type: number): Uint8Array | null {
  let at = 34; // version (2) and random (32)
  /** Steps over a vector whose length takes `bytes` bytes; false when it does not fit. */
  const skip = (bytes: 1 | 2): boolean => {
    if (at + bytes > body.length) return false;
    at += bytes + (bytes === 1 ? body[at] : (body[at] << 8) | body[at + 1]);
    return at <= body.length;
  };
  if (!skip(1)) return null; // session_id
  if (hello === 'client') {
    if (!skip(1) || !skip(2) || !skip(1)) return null; // cookie, cipher_suites, compression_methods
  } else {
    at += 3; // cipher_suite, compression_method
  }
  if (at + 2 > body.length) return null;
  const end = at + 2 + ((body[at] << 8) | body[at + 1]);
  if (end > body.length) return null;
  for (at += 2; at + 4 <= end;) {
    const t = (body[at] << 8) | body[at + 1];
    const n = (body[at + 2] << 8) | body[at + 3];
    at += 4;
    if (at + n > end) return null;
    if (t === type) return body.subarray(at, at + n);
    at += n;
  }
  return null;
}

/** The server's choice: the first of its own protocols the client offers (as our TLS server), or null. */
export function selectAlpn(ours: readonly string[], offered: readonly string[]): string | null {
  return ours.find((p) => offered.includes(p)) ?? null;
}

/** An unprotected (epoch 0) fatal alert record, DTLS 1.2, with record sequence number `seq`. */
export function fatalAlertRecord(description: number, seq: number): Buffer {
  const out = Buffer.alloc(15);
  out[0] = 21; // alert
  out[1] = 0xfe;
  out[2] = 0xfd;
  out.writeUIntBE(seq, 5, 6); // after the epoch, 0 (bytes 3–4)
  out.writeUInt16BE(2, 11);
  out[13] = 2; // fatal
  out[14] = description;
  return out;
}

/** Whether `data` is an unprotected (epoch 0) alert record with this description. */
export function isPlainAlert(data: Uint8Array, description: number): boolean {
  return data.length >= 15 && data[0] === 21 && data[3] === 0 && data[4] === 0 && data[11] === 0 && data[12] === 2 && data[14] === description;
}

// ==== werift entries 6–8 =====================================================================

/** A server's refusal of the client's ALPN offer: the alert record to send, and how the socket ends. */
export interface AlpnRefusal {
  record: Buffer;
  why: string;
  reason: ShutdownReason;
}

/**
 * The ALPN side of one DTLS session with an ALPN list (`ours`, in order of preference). A client
 * offers `ours` and, once the handshake is done, checks the server's choice; a server chooses
 * while werift builds its ServerHello, or refuses (`refuse`: no protocol in common, a list it
 * cannot read) and werift's flight is abandoned.
 */
export class DtlsAlpn {
  private chosen: string | null = null;
  /** Client: the server's no_application_protocol alert came during the handshake (unauthenticated). */
  peerRefused = false;

  constructor(
    private readonly ours: readonly string[],
    private readonly server: boolean,
    private readonly refuse: (refusal: AlpnRefusal) => void,
  ) {}

  /** The protocol chosen (server) or accepted (client), or null: the peer took no part. */
  get protocol(): string | null {
    return this.chosen;
  }

  /** Hooks into `engine` before its handshake starts; false when werift's internals are not found. */
  attach(engine: Engine): boolean {
    if (!alpnInternalsOnce(engine)) return false;
    if (this.server) hookServerHello(engine, (extensions) => this.answer(engine, extensions));
    else offerAlpn(engine, this.ours);
    return true;
  }

  /**
   * Server: werift builds its ServerHello for the ClientHello it answers. Our choice goes into
   * `extensions`; with none possible, the alert is handed to `refuse` and the throw makes werift
   * abandon the flight (its ServerHello is never sent).
   */
  private answer(engine: Engine, extensions: Array<{ type: number; data: Buffer }>): void {
    this.chosen = null;
    const hello = peerHello(engine, CLIENT_HELLO);
    const data = hello ? helloExtension(hello, 'client', ALPN_EXTENSION) : null;
    if (!data) return; // the client takes no part in ALPN
    const offered = decodeAlpnList(data);
    const chosen = offered ? selectAlpn(this.ours, offered) : null;
    if (chosen === null) {
      const why = offered
        ? `ALPN: no protocol in common (the client offers ${JSON.stringify(offered)}, this server ${JSON.stringify(this.ours)}): no_application_protocol alert sent`
        : 'ALPN: the client’s protocol list is malformed: decode_error alert sent';
      const description = offered ? ALERT_NO_APPLICATION_PROTOCOL : ALERT_DECODE_ERROR;
      this.refuse({
        record: fatalAlertRecord(description, ++engine.dtls.recordSequenceNumber),
        why,
        reason: offered ? ShutdownReason.AlpnSelectionFailed : ShutdownReason.TlsHandshakeFailed,
      });
      throw new Error('ServerHello abandoned (ALPN refusal)');
    }
    this.chosen = chosen;
    extensions.push({ type: ALPN_EXTENSION, data: encodeAlpnList([chosen]) });
  }

  /** Client, the handshake done: takes the server's choice; a reason to fail when it is not one we offered. */
  settle(engine: Engine): string | null {
    this.chosen = null;
    const hello = peerHello(engine, SERVER_HELLO);
    const data = hello ? helloExtension(hello, 'server', ALPN_EXTENSION) : null;
    if (!data) return null; // the server takes no part in ALPN
    const list = decodeAlpnList(data);
    if (!list || list.length !== 1 || !this.ours.includes(list[0])) {
      return `ALPN: the server selected ${list ? JSON.stringify(list) : 'a malformed list'}, not one protocol of ${JSON.stringify(this.ours)}`;
    }
    this.chosen = list[0];
    return null;
  }
}

/** The engine fields entries 6–8 use. */
interface AlpnEngineFields {
  extensions?: unknown;
  dtls?: { handshakeCache?: unknown; recordSequenceNumber?: unknown };
}

/**
 * Whether entries 6–8 can be used on engines shaped like `engine`: a proven werift version,
 * the extension list, the handshake cache, the sequence number, and `lastFlight` a plain
 * writable field (entry 8 replaces it with an accessor).
 */
export function detectAlpnInternals(engine: unknown, version: string | null): boolean {
  const e = (engine ?? {}) as AlpnEngineFields;
  const dtls = e.dtls;
  if (version === null || !PROVEN_WERIFT_VERSIONS.includes(version) || typeof dtls !== 'object' || dtls === null) return false;
  const lastFlight = Object.getOwnPropertyDescriptor(dtls, 'lastFlight');
  return (
    Array.isArray(e.extensions) &&
    typeof dtls.handshakeCache === 'object' &&
    dtls.handshakeCache !== null &&
    typeof dtls.recordSequenceNumber === 'number' &&
    lastFlight !== undefined &&
    lastFlight.writable === true &&
    lastFlight.configurable === true &&
    Array.isArray(lastFlight.value)
  );
}

let alpnInternals: boolean | undefined;

/** Detects on the first engine with ALPN, and keeps the result. */
function alpnInternalsOnce(engine: Engine): boolean {
  return (alpnInternals ??= detectAlpnInternals(engine, weriftInternals()?.version ?? null));
}

/**
 * Test use only: replaces what was detected (`undefined`: detect again on the next engine).
 * @internal
 */
export function overrideAlpnInternals(value: boolean | undefined): void {
  alpnInternals = value;
}

/**
 * **werift entry 6: the client's offer in its ClientHello.**
 *
 * - Mirrors: `socket.js` `DtlsSocket.setupExtensions`, whose `extensions` list
 *   `client.js` `DtlsClient.connect` hands to `flight/client/flight1.js` `Flight1.exec` for the
 *   ClientHello (and `Flight3` resends that same ClientHello with the cookie).
 * - Detected: `engine.extensions` an array, a proven version ({@link detectAlpnInternals}).
 * - Fallback (for entries 6–8 alike): a session with an ALPN list fails its handshake at once
 *   (`SOCKET_TLS_HANDSHAKE_FAILED`, logged) rather than run without the list it was given.
 */
function offerAlpn(engine: Engine, protocols: readonly string[]): void {
  engine.extensions.push({ type: ALPN_EXTENSION, data: encodeAlpnList(protocols) });
}

/**
 * **werift entry 7: the peer's hello, from the handshake cache**: the body of the assembled
 * ClientHello (server) or ServerHello (client) werift is answering or answered.
 *
 * - Mirrors: `context/dtls.js` `DtlsContext.bufferHandshakeCache`: `Flight4.exec` caches the
 *   ClientHello before it builds the ServerHello; `Flight5.handleHandshake` caches the
 *   server's flight, ServerHello first. Entries are `FragmentedHandshake`s (`msg_type`, `fragment`).
 * - Detected: `dtls.handshakeCache` an object.
 */
function peerHello(engine: Engine, msgType: number): Buffer | null {
  for (const entry of Object.values(engine.dtls.handshakeCache)) {
    const found = entry.data.find((h) => h.msg_type === msgType);
    if (found) return found.fragment;
  }
  return null;
}

/**
 * **werift entry 8: the server's choice in its ServerHello.** werift builds the ServerHello's
 * extension list itself (`Flight4.sendServerHello`: SRTP, extended master secret, renegotiation
 * info), so `dtls.lastFlight` becomes an accessor that sees each flight werift builds: when it
 * holds the ServerHello, `onServerHello` may add to its extensions, before it is serialized.
 *
 * - Mirrors: `record/builder.js` `createFragments(dtls)`, which sets `dtls.lastFlight` to the
 *   messages and then serializes each (`toFragment()`), as `Flight.createPacket` calls it.
 * - Detected: `lastFlight` a writable, configurable data property of `engine.dtls` holding an
 *   array; `dtls.recordSequenceNumber` a number (a refusal's alert takes the next one).
 */
function hookServerHello(engine: Engine, onServerHello: (extensions: Array<{ type: number; data: Buffer }>) => void): void {
  const dtls = engine.dtls;
  let flight = dtls.lastFlight;
  Object.defineProperty(dtls, 'lastFlight', {
    configurable: true,
    enumerable: true,
    get: () => flight,
    set: (messages: typeof flight) => {
      flight = messages;
      const hello = messages[0] as { msgType?: number; extensions?: Array<{ type: number; data: Buffer }> } | undefined;
      if (hello?.msgType === SERVER_HELLO) onServerHello((hello.extensions ??= []));
    },
  });
}
