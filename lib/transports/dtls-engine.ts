// The one module that touches werift-dtls, the DTLS 1.2 engine. Its package `main` points at
// a file that does not exist, so we import its entry directly; a fix upstream changes the
// paths here and nothing else. werift's internals (fields and modules beyond the engine's
// events and methods) are gathered in one section at the end, "werift-dtls internals", each
// with its detection and fallback, like core/node-internals.ts for Node's.
import { createPrivateKey } from 'node:crypto';
import type { DtlsClient, DtlsSocket as Engine } from 'werift-dtls/lib/dtls/src/index.js';
import { LogFlag } from '../api';
import { getDefaultLog } from '../core/log';

export type { Engine };

// Loaded on first use: the engine costs ~150 ms of start-up that apps without DTLS never pay.
type EngineModule = typeof import('werift-dtls/lib/dtls/src/index.js');
type BuilderModule = typeof import('werift-dtls/lib/dtls/src/record/builder.js');
type PlaintextModule = typeof import('werift-dtls/lib/dtls/src/record/message/plaintext.js');
let engineModule: EngineModule | undefined;
let builderModule: BuilderModule | undefined;
/* eslint-disable @typescript-eslint/no-require-imports */
const engines = (): EngineModule => (engineModule ??= require('werift-dtls/lib/dtls/src/index.js') as EngineModule);
const builder = (): BuilderModule => (builderModule ??= require('werift-dtls/lib/dtls/src/record/builder.js') as BuilderModule);
let plaintextModule: PlaintextModule | undefined;
const plaintext = (): PlaintextModule => (plaintextModule ??= require('werift-dtls/lib/dtls/src/record/message/plaintext.js') as PlaintextModule);
/* eslint-enable @typescript-eslint/no-require-imports */

/** The SRTP protection profiles we offer and accept (RFC 5764 / RFC 7714 numbers). */
export const SRTP_PROFILES: ReadonlyArray<{ id: number; name: string; keyingLength: number }> = [
  // 2 × (16-byte key + 14-byte salt)
  { id: 1, name: 'SRTP_AES128_CM_SHA1_80', keyingLength: 60 },
  // 2 × (16-byte key + 12-byte salt)
  { id: 7, name: 'SRTP_AEAD_AES_128_GCM', keyingLength: 56 },
];

/** How the engine moves datagrams: ours, over the UDP socket we own. */
export interface EngineTransport {
  send(data: Buffer): Promise<void>;
  /** Filled in by the engine: where received datagrams go. */
  onData: (data: Buffer) => void;
}

export interface EngineOptions {
  server: boolean;
  cert?: string;
  key?: string;
  srtp: boolean;
  /** Server: ask the client for its certificate. */
  certificateRequest: boolean;
}

/** Makes a client or server engine over `transport`. */
export function createEngine(transport: EngineTransport, options: EngineOptions): Engine {
  const sequencer = new RecordSequencer();
  let engine: Engine | null = null;
  const wrapped = {
    type: 'udp',
    closed: false,
    address: { address: '', family: 'IPv4', port: 0 },
    get onData(): (data: Buffer) => void {
      return transport.onData;
    },
    set onData(handler: (data: Buffer) => void) {
      transport.onData = handler;
    },
    send: (data: Buffer) => transport.send(engine ? sequencer.stamp(engine, data) : data),
    close: async () => {
      wrapped.closed = true;
    },
  };
  const engineOptions = {
    transport: wrapped,
    cert: options.cert,
    key: options.key,
    signatureHash: options.key ? signatureHashOf(options.key) : undefined,
    srtpProfiles: options.srtp ? SRTP_PROFILES.map((p) => p.id) : undefined,
    certificateRequest: options.certificateRequest,
    extendedMasterSecret: true,
  };
  // The engine's typings want its own transport class; ours has the same shape.
  const { DtlsClient, DtlsServer } = engines();
  const made = options.server ? new DtlsServer(engineOptions as never) : new DtlsClient(engineOptions as never);
  internalsOnce(made);
  sequencers.set(made, sequencer);
  engine = made;
  return made;
}

/** Keys seen (at most {@link MAX_KEY_TYPES}): parsing one took about 2 ms of every DTLS listener's new peer. */
const keyTypes = new Map<string, 1 | 3>();
const MAX_KEY_TYPES = 16;

/** The engine needs the signature algorithm of our key: ECDSA or RSA, with SHA-256. */
function signatureHashOf(keyPem: string): { hash: 4; signature: 1 | 3 } {
  let signature = keyTypes.get(keyPem);
  if (signature === undefined) {
    signature = createPrivateKey(keyPem).asymmetricKeyType === 'ec' ? 3 : 1;
    if (keyTypes.size >= MAX_KEY_TYPES) keyTypes.clear();
    keyTypes.set(keyPem, signature);
  }
  return { hash: 4, signature };
}

/** Starts the client's handshake; the promise settles when its first flight is done. */
export function startClient(engine: Engine): Promise<void> {
  return (engine as DtlsClient).connect();
}

/**
 * Whether `data` starts with a plausible DTLS record: content type 20–23, DTLS 1.0 or 1.2
 * version, a length that fits. Anything else is noise to drop before the engine sees it (it
 * takes an unknown content type for an alert).
 */
export function isDtlsRecord(data: Uint8Array): boolean {
  if (data.byteLength < 13) return false;
  const type = data[0];
  if (type < 20 || type > 23) return false;
  if (data[1] !== 0xfe || (data[2] !== 0xff && data[2] !== 0xfd)) return false;
  return 13 + ((data[11] << 8) | data[12]) <= data.byteLength;
}

/**
 * After the handshake: an unprotected (epoch 0) alert or ClientHello. Genuine alerts are then
 * protected, and a ClientHello would be a renegotiation we do not support, so these are
 * forgeries to ignore (RFC 6347 §4.1.2.7). Other epoch-0 records still pass: a peer whose last
 * flight was lost retransmits it, and the engine must see it to answer.
 */
export function isForgedAfterHandshake(data: Uint8Array): boolean {
  if (data[3] !== 0 || data[4] !== 0) return false;
  return data[0] === 21 || (data[0] === 22 && data[13] === 1); /* client_hello */
}

// ==== werift-dtls internals =================================================================
//
// What the library reaches inside werift-dtls beyond the engine's events (onConnect, onData,
// onError, onClose) and methods (connect, send, exportKeyingMaterial, remoteCertificate).
// Every entry says which werift function it mirrors, how it is detected (once, on the first
// engine: the fields are made by its constructor) and its fallback. The fast paths are taken
// only with a werift version the canary spec (spec/core/node-internals.spec.ts) proved: the
// dependency is pinned to it in package.json. The deep imports of the modules (the `engines`,
// `builder` and `plaintext` loaders above) are internals too: without the engine module there
// is no DTLS (the require fails at the first upgrade); `builder`/`plaintext` are detected below.

/** The werift-dtls versions the canary spec proved (package.json pins the dependency to one). */
export const PROVEN_WERIFT_VERSIONS: readonly string[] = ['0.5.8'];

/** Which of werift's internals this process uses: decided on the first engine. */
export interface WeriftInternals {
  /** The version found, and whether it is one of {@link PROVEN_WERIFT_VERSIONS}. */
  version: string | null;
  /** {@link sendCloseNotify}'s fast path (werift entry 1). */
  closeNotify: boolean;
  /** {@link stopRetransmissions}'s fast path (werift entry 2). */
  stopRetransmissions: boolean;
  /** {@link readProtectedAlert}'s fast path (werift entry 3). */
  protectedAlerts: boolean;
  /** {@link srtpProfileOf}'s fast path (werift entry 4). */
  srtpProfile: boolean;
  /** {@link seedCookie}'s fast path (werift entry 5). */
  cookie: boolean;
}

/** The shape of the engine fields the entries read or write. */
interface EngineInternals {
  dtls?: { recordSequenceNumber?: unknown; flight?: unknown; cookie?: unknown };
  cipher?: { encryptPacket?: unknown; decryptPacket?: unknown };
  transport?: { send?: unknown };
  srtp?: unknown;
}

/** The version of the installed werift-dtls, or null if it cannot be read. */
function weriftVersion(): string | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return String((require('werift-dtls/package.json') as { version: unknown }).version);
  } catch {
    return null;
  }
}

/** `load()`'s result, or undefined if it throws (a module that moved). */
function tryLoad<T>(load: () => T): T | undefined {
  try {
    return load();
  } catch {
    return undefined;
  }
}

/**
 * The detection of every werift entry on one engine (or a stub of one): each fast path needs a
 * proven version and the fields and functions it uses, with the shapes it expects.
 */
export function detectWeriftInternals(engine: unknown, version: string | null, modules: { builder?: unknown; plaintext?: unknown } = {}): WeriftInternals {
  const e = (engine ?? {}) as EngineInternals;
  const proven = version !== null && PROVEN_WERIFT_VERSIONS.includes(version);
  const createPlaintext = (modules.builder as { createPlaintext?: unknown } | undefined)?.createPlaintext;
  const deSerialize = (modules.plaintext as { DtlsPlaintext?: { deSerialize?: unknown } } | undefined)?.DtlsPlaintext?.deSerialize;
  return {
    version,
    closeNotify:
      proven &&
      typeof e.dtls?.recordSequenceNumber === 'number' &&
      typeof e.cipher?.encryptPacket === 'function' &&
      typeof e.transport?.send === 'function' &&
      typeof createPlaintext === 'function',
    stopRetransmissions: proven && typeof e.dtls?.flight === 'number',
    protectedAlerts: proven && typeof e.cipher?.decryptPacket === 'function' && typeof deSerialize === 'function',
    srtpProfile: proven && typeof e.srtp === 'object' && e.srtp !== null,
    cookie: proven && typeof e.dtls === 'object' && e.dtls !== null && 'cookie' in e.dtls,
  };
}

let internals: WeriftInternals | undefined;

/** Detects on the first engine, logs which paths are taken, and keeps the result. */
function internalsOnce(engine: unknown): WeriftInternals {
  if (internals) return internals;
  internals = detectWeriftInternals(engine, weriftVersion(), { builder: tryLoad(builder), plaintext: tryLoad(plaintext) });
  const log = getDefaultLog();
  if (log.isEnabled(LogFlag.Tls)) {
    const { version, ...paths } = internals;
    const list = Object.entries(paths).map(([name, fast]) => `${name} ${fast ? 'fast path' : 'fallback'}`);
    log.log(LogFlag.Tls, `werift-dtls ${version ?? '(version unknown)'} internals: ${list.join(', ')}`);
  }
  return internals;
}

/** Which werift internals this process uses (null before the first engine). */
export function weriftInternals(): WeriftInternals | null {
  return internals ?? null;
}

/**
 * Test use only: replaces what was detected (`undefined`: detect again on the next engine).
 * @internal
 */
export function overrideWeriftInternals(value: WeriftInternals | undefined): void {
  internals = value;
}

/**
 * **werift entry 1: a close_notify alert.** The engine's own `close()` only drops its
 * transport, so we build the alert the way it builds its records.
 *
 * - Mirrors: `record/builder.js` `createPlaintext(dtls)(fragments, ++dtls.recordSequenceNumber)`
 *   as `flight/flight.js` `Flight.createPacket` uses it, then `CipherContext.encryptPacket`
 *   (the record's epoch and sequence number from `DtlsContext`).
 * - Detected: `dtls.recordSequenceNumber` a number, `cipher.encryptPacket`,
 *   `transport.send` and `createPlaintext` functions, a proven version.
 * - Fallback: no alert is sent (the promise rejects, and the caller logs "close_notify not
 *   sent"); the peer learns of the end by its own time-out or its next send.
 */
export async function sendCloseNotify(engine: Engine): Promise<void> {
  if (!internalsOnce(engine).closeNotify) throw new Error('werift-dtls internals for the alert not found (recordSequenceNumber, encryptPacket)');
  const dtls = engine.dtls;
  const [record] = builder().createPlaintext(dtls)(
    [{ type: 21 /* alert */, fragment: Buffer.from([1 /* warning */, 0 /* close_notify */]) }],
    ++dtls.recordSequenceNumber,
  );
  await engine.transport.send(engine.cipher.encryptPacket(record).serialize());
}

/**
 * **werift entry 2: stop the retransmission loop.** It ends after its current wait (at most a
 * few seconds) instead of resending an abandoned flight for half a minute.
 *
 * - Mirrors: `flight/flight.js` `Flight.transmit`, which stops once
 *   `dtls.flight >= this.nextFlight` after each wait (0.5 s, 1 s, … up to `RetransmitCount` 10).
 * - Detected: `dtls.flight` a number, a proven version.
 * - Fallback: nothing is changed: the loop runs out on its own (about 30 s, holding a timer);
 *   the session drops every record it sends meanwhile (`DtlsSession.sendRecord` once stopped).
 */
export function stopRetransmissions(engine: Engine): void {
  if (internalsOnce(engine).stopRetransmissions) engine.dtls.flight = Number.MAX_SAFE_INTEGER;
}

/**
 * **werift entry 3: a protected (epoch > 0) alert record, decrypted:** `{ level, description }`,
 * or null when it is not one or does not decrypt (a forgery). We read these ourselves: the
 * engine first parses the ciphertext as a plaintext alert and, when a byte happens to look like
 * a known alert, drops the record undecrypted — so a peer's close_notify was sometimes never seen.
 *
 * - Mirrors: `record/message/plaintext.js` `DtlsPlaintext.deSerialize` and
 *   `context/cipher.js` `CipherContext.decryptPacket`, as `record/receive.js` parses a record.
 * - Detected: both functions, a proven version.
 * - Fallback: null: the record goes to the engine as any other, which sees most close_notify
 *   alerts; one it misses ends the session by its time-out instead.
 */
export function readProtectedAlert(engine: Engine, data: Buffer): { level: number; description: number } | null {
  if (data[0] !== 21 || (data[3] === 0 && data[4] === 0)) return null;
  if (!internalsOnce(engine).protectedAlerts) return null;
  try {
    const record = plaintext().DtlsPlaintext.deSerialize(data);
    const body = engine.cipher.decryptPacket(record);
    return body.length >= 2 ? { level: body[0], description: body[1] } : null;
  } catch {
    return null;
  }
}

/**
 * **werift entry 4: the negotiated SRTP profile's name and keying-material length**, if any.
 *
 * - Mirrors: `context/srtp.js` `SrtpContext.srtpProfile`, set by the handshake's `use_srtp`
 *   extension (werift has no method that returns it).
 * - Detected: `engine.srtp` an object, a proven version.
 * - Fallback: null: `getSrtpKeyingMaterial()` returns null (no profile known).
 */
export function srtpProfileOf(engine: Engine): { name: string; keyingLength: number } | null {
  if (!internalsOnce(engine).srtpProfile) return null;
  const id = engine.srtp?.srtpProfile;
  return SRTP_PROFILES.find((p) => p.id === id) ?? null;
}

/**
 * **werift entry 5: the server's cookie, seeded with the one our stateless gate made**
 * (`transports/dtls-cookie.ts`), so that the peer's ClientHello carrying it is werift's
 * second ClientHello and no second HelloVerifyRequest round trip is needed.
 *
 * - Mirrors: `server.js` `DtlsServer.handleHandshakes`: a ClientHello with an empty cookie runs
 *   `flight/server/flight2.js` (suite, curve, SRTP profile, key pair, then a HelloVerifyRequest
 *   with `dtls.cookie ||= randomBytes(20)`); one whose cookie equals `dtls.cookie` runs Flight4.
 * - Detected: a `cookie` field on `engine.dtls`, a proven version.
 * - Fallback: false: the caller lets werift send its own HelloVerifyRequest (one more round trip).
 */
export function seedCookie(engine: Engine, cookie: Buffer): boolean {
  if (!internalsOnce(engine).cookie) return false;
  engine.dtls.cookie = cookie;
  return true;
}

/**
 * **werift entry 9: every record we send has a sequence number of its own** (RFC 6347 §4.1:
 * unique within its epoch, retransmissions included). werift breaks this twice: it resets its
 * counter to 0 after its Finished, the first record of epoch 1, so its application data repeats
 * 1, 2, … and one record repeats the Finished's number; and it retransmits a flight as the same
 * bytes, sequence numbers included. A peer with an anti-replay window (OpenSSL) drops those
 * records as replays, and `openssl s_client` then blocks in its read: it printed 6 echoes and
 * stopped, or stopped after a late retransmitted flight 5 made us resend flight 6. Each
 * outgoing record is checked here: one whose number is not above the last one sent in its epoch
 * gets the next number (epoch 0: the header rewritten; a protected record: opened with our own
 * write key and sealed again under the new number, a fresh AES-GCM nonce), and werift's counter
 * is moved past it, so its next records are new numbers.
 *
 * - Mirrors: `record/builder.js` `createPlaintext` (`++dtls.recordSequenceNumber`), the resets
 *   in `flight/server/flight2.js`, `flight/client/flight5.js` and `flight/server/flight6.js`
 *   `sendFinished`, `flight/flight.js` `transmit` (the same buffers resent), and
 *   `cipher/suites/aead.js` `encrypt`/`decrypt` (epoch and sequence number in nonce and AAD).
 * - Detected: with entry 1 (`dtls.recordSequenceNumber` a number, a proven version); the
 *   cipher's `encrypt`/`decrypt` at the time of use.
 * - Fallback: the records go as werift made them (OpenSSL peers may stall as described).
 */
class RecordSequencer {
  /** The next sequence number of each epoch. */
  private readonly next: number[] = [];

  /** `data` with every record numbered above the last one sent in its epoch (a copy if one changed). */
  stamp(engine: Engine, data: Buffer): Buffer {
    if (!internalsOnce(engine).closeNotify) return data;
    let out = data;
    for (let o = 0; o + 13 <= out.length; o += 13 + out.readUInt16BE(o + 11)) {
      const epoch = out.readUInt16BE(o + 3);
      const seq = out.readUIntBE(o + 5, 6);
      const next = this.next[epoch] ?? 0;
      if (seq >= next) {
        this.next[epoch] = seq + 1;
        continue;
      }
      const end = o + 13 + out.readUInt16BE(o + 11);
      const record = end <= out.length ? renumber(engine, out.subarray(o, end), next) : null;
      if (!record) continue;
      if (out === data) out = Buffer.from(data);
      record.copy(out, o);
      this.next[epoch] = next + 1;
    }
    const dtls = engine.dtls;
    const after = this.next[dtls.epoch];
    if (after !== undefined && dtls.recordSequenceNumber < after - 1) dtls.recordSequenceNumber = after - 1;
    return out;
  }

  /** Our records of `epoch` are numbered from `seq` on (at least). */
  startAt(engine: Engine, epoch: number, seq: number): void {
    this.next[epoch] = Math.max(this.next[epoch] ?? 0, seq);
    const dtls = engine.dtls;
    if (internalsOnce(engine).closeNotify && dtls.epoch === epoch && dtls.recordSequenceNumber < seq - 1) dtls.recordSequenceNumber = seq - 1;
  }
}

const sequencers = new WeakMap<Engine, RecordSequencer>();

/** The same record under sequence number `seq`, or null if it cannot be sealed again. */
function renumber(engine: Engine, record: Buffer, seq: number): Buffer | null {
  const epoch = record.readUInt16BE(3);
  const out = Buffer.from(record);
  out.writeUIntBE(seq, 5, 6);
  if (epoch === 0) return out;
  const own = (engine.cipher as { sessionType?: unknown }).sessionType;
  const aead = engine.cipher.cipher as { encrypt?: unknown; decrypt?: unknown } | undefined;
  if ((own !== 1 && own !== 2) || typeof aead?.encrypt !== 'function' || typeof aead.decrypt !== 'function') return null;
  const header = { type: record[0], version: record.readUInt16BE(1), epoch, sequenceNumber: record.readUIntBE(5, 6) };
  try {
    // decrypt() of the other side's type opens with our own write key.
    const plain = (aead.decrypt as (t: number, d: Buffer, h: object) => Buffer).call(aead, own === 1 ? 2 : 1, record.subarray(13), header);
    const sealed = (aead.encrypt as (t: number, d: Buffer, h: object) => Buffer).call(aead, own, plain, { ...header, sequenceNumber: seq });
    if (sealed.length !== record.length - 13) return null;
    sealed.copy(out, 13);
    return out;
  } catch {
    return null;
  }
}

/**
 * The gated server's first records: RFC 6347 §4.2.1 numbers a HelloVerifyRequest with its
 * ClientHello's record sequence number, so (as OpenSSL's `DTLSv1_listen`) the ServerHello
 * flight starts at the number of the ClientHello that returned the cookie, above every
 * HelloVerifyRequest the gate sent to that peer.
 */
export function startSequenceAt(engine: Engine, seq: number): void {
  sequencers.get(engine)?.startAt(engine, 0, seq);
}
