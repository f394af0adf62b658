// The one module that touches werift-dtls, the DTLS 1.2 engine. Its package `main` points at
// a file that does not exist, so we import its entry directly; a fix upstream changes the
// paths here and nothing else. werift's internals (fields and modules beyond the engine's
// events and methods) are gathered in one section at the end, "werift-dtls internals", each
// with its detection and fallback, like core/node-internals.ts for Node's.
import { createPrivateKey, createSign, KeyObject } from 'node:crypto';
import type { DtlsClient, DtlsSocket as Engine } from 'werift-dtls/lib/dtls/src/index.js';
import { LogFlag } from '../api';
import { getDefaultLog } from '../core/log';
import * as kx from './dtls-kx';
import type { RecordKeys } from './dtls-record';
import { RecordSequencer } from './dtls-sequence';

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
  const sequencer = new RecordSequencer((e) => internalsOnce(e).closeNotify);
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
  const signatureHash = options.key ? signatureHashOf(options.key) : undefined;
  const identityKey = options.cert && options.key ? `${options.cert}\n${options.key}` : null;
  const identity = identityKey === null ? undefined : parsedIdentities.get(identityKey);
  const engineOptions = {
    transport: wrapped,
    cert: options.cert,
    key: options.key,
    // Without it werift parses nothing (entry 12 sets what it would have parsed).
    signatureHash: identity ? undefined : signatureHash,
    srtpProfiles: options.srtp ? SRTP_PROFILES.map((p) => p.id) : undefined,
    certificateRequest: options.certificateRequest,
    extendedMasterSecret: true,
  };
  // The engine's typings want its own transport class; ours has the same shape.
  const { DtlsClient, DtlsServer } = engines();
  const made = options.server ? new DtlsServer(engineOptions as never) : new DtlsClient(engineOptions as never);
  internalsOnce(made);
  sequencers.set(made, sequencer);
  nativeKeyExchangeOnce(made);
  if (identityKey !== null) reuseIdentity(made, identityKey, identity, signatureHash!);
  if (options.key) signWithParsedKey(made, options.key);
  engine = made;
  return made;
}

/** The engine needs the signature algorithm of our key: ECDSA or RSA, with SHA-256. */
function signatureHashOf(keyPem: string): { hash: 4; signature: 1 | 3 } {
  const type = privateKeyOf(keyPem).asymmetricKeyType;
  return { hash: 4, signature: type === 'ec' ? 3 : 1 };
}

/** Parsed private keys by PEM text: parsing one costs ~0.5 ms here, and every handshake of a server needs its key. */
const parsedKeys = new Map<string, KeyObject>();
/** Entries kept at most in each cache of parsed keys (a server has one or a few; more means contexts come and go, so start afresh). */
const PARSED_MAX = 16;

/** `map`'s entry for `key`, made by `make` if missing; the map starts afresh when full. */
function remember<V>(map: Map<string, V>, key: string, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    if (map.size >= PARSED_MAX) map.clear();
    value = make();
    map.set(key, value);
  }
  return value;
}

function privateKeyOf(keyPem: string): KeyObject {
  return remember(parsedKeys, keyPem, () => createPrivateKey(keyPem));
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

const sequencers = new WeakMap<Engine, RecordSequencer>();

/**
 * The gated server's first records: RFC 6347 §4.2.1 numbers a HelloVerifyRequest with its
 * ClientHello's record sequence number, so (as OpenSSL's `DTLSv1_listen`) the ServerHello
 * flight starts at the number of the ClientHello that returned the cookie, above every
 * HelloVerifyRequest the gate sent to that peer.
 */
export function startSequenceAt(engine: Engine, seq: number): void {
  sequencers.get(engine)?.startAt(engine, 0, seq);
}

/** The AEAD cipher fields entry 9 reads (werift's `cipher/suites/aead.js` `AEADCipher`). */
interface AeadFields {
  blockAlgorithm?: unknown;
  nonceImplicitLength?: unknown;
  nonceExplicitLength?: unknown;
  authTagLength?: unknown;
  clientWriteKey?: unknown;
  serverWriteKey?: unknown;
  clientNonce?: unknown;
  serverNonce?: unknown;
}

/**
 * **werift entry 9: the keys of the established session**, for our own record protection of
 * application data (`transports/dtls-record.ts`), which costs a fraction of werift's record path.
 * Read once the handshake is done: the fields exist only then, so it is detected at that moment
 * rather than on the first engine, and a session that does not qualify keeps werift's path.
 *
 * - Mirrors: `cipher/suites/aead.js` `AEADCipher.encrypt`/`decrypt` (AES-GCM, a 4-byte implicit
 *   nonce at the start of `clientNonce`/`serverNonce`, an 8-byte explicit nonce of epoch and
 *   sequence number, a 16-byte tag, the additional data of RFC 5246 §6.2.3.3) and `socket.js`
 *   `DtlsSocket.send` (`++dtls.recordSequenceNumber`, `dtls.epoch`, `dtls.version`).
 * - Detected: a proven version; `cipher.cipher` with `blockAlgorithm` `aes-128-gcm` or
 *   `aes-256-gcm`, nonce lengths 4 and 8, tag length 16, the two keys of the algorithm's length
 *   and the two 12-byte nonces as Buffers; `dtls.epoch` and `dtls.recordSequenceNumber` numbers,
 *   `dtls.version` with `major`/`minor`.
 * - Fallback: null: werift protects and opens every record, as before (slower, same bytes).
 */
export function recordKeysOf(engine: Engine, server: boolean): RecordKeys | null {
  if (!PROVEN_WERIFT_VERSIONS.includes(internalsOnce(engine).version ?? '')) return null;
  const c = (engine.cipher as { cipher?: AeadFields } | undefined)?.cipher;
  const dtls = engine.dtls as { epoch?: unknown; recordSequenceNumber?: unknown; version?: { major?: unknown; minor?: unknown } } | undefined;
  if (!c || !dtls) return null;
  const algorithm = c.blockAlgorithm;
  if (algorithm !== 'aes-128-gcm' && algorithm !== 'aes-256-gcm') return null;
  if (c.nonceImplicitLength !== 4 || c.nonceExplicitLength !== 8 || c.authTagLength !== 16) return null;
  const keyLength = algorithm === 'aes-128-gcm' ? 16 : 32;
  const key = (v: unknown): v is Buffer => Buffer.isBuffer(v) && v.byteLength === keyLength;
  const nonce = (v: unknown): v is Buffer => Buffer.isBuffer(v) && v.byteLength === 12;
  if (!key(c.clientWriteKey) || !key(c.serverWriteKey) || !nonce(c.clientNonce) || !nonce(c.serverNonce)) return null;
  const { epoch, recordSequenceNumber, version } = dtls;
  if (typeof epoch !== 'number' || typeof recordSequenceNumber !== 'number' || typeof version?.major !== 'number' || typeof version.minor !== 'number')
    return null;
  const ours = server ? { key: c.serverWriteKey, salt: c.serverNonce } : { key: c.clientWriteKey, salt: c.clientNonce };
  const theirs = server ? { key: c.clientWriteKey, salt: c.clientNonce } : { key: c.serverWriteKey, salt: c.serverNonce };
  const counter = engine.dtls;
  const sequencer = sequencers.get(engine); // looked up once: nextSequence runs for every record
  return {
    algorithm,
    // Copies: werift writes into its nonce buffers on every record it protects or opens itself.
    writeKey: Buffer.from(ours.key),
    writeSalt: Buffer.from(ours.salt.subarray(0, 4)),
    readKey: Buffer.from(theirs.key),
    readSalt: Buffer.from(theirs.salt.subarray(0, 4)),
    epoch,
    version: (version.major << 8) | version.minor,
    // Through entry 13's sequencer when there is one: it renumbers werift's repeated records
    // above every number it knows of, so it must know the numbers our own records take too.
    nextSequence: sequencer ? () => sequencer.take(engine, epoch) : () => ++counter.recordSequenceNumber,
  };
}

/**
 * **werift entry 10: sign with the key parsed once.** werift signs its ServerKeyExchange
 * (server) and CertificateVerify (client with a certificate) by handing the key's PEM text to
 * `createSign().sign()`, which parses it again at every signature (~0.6 ms here); the same
 * signature with the key parsed once ({@link privateKeyOf}) costs ~0.05 ms.
 *
 * - Mirrors: `context/cipher.js` `CipherContext.generateKeySignature`, which calls
 *   `localPrivateKey.sign(data, hash)` (@fidm/x509 `PrivateKey.sign`: for EC and RSA keys
 *   `createSign(hash).update(data).sign(pem)`), and `CipherContext.signatureData(data, hash)`
 *   (`createSign(hash).update(data).sign(pem)`). Same signature scheme (ECDSA with a DER
 *   signature, RSA PKCS#1 v1.5), same key, so the same kind of signature.
 * - Detected: a proven version, `cipher.signatureData` and `cipher.localPrivateKey.sign`
 *   functions (set by werift's constructor from our key), our key EC or RSA.
 * - Fallback: werift signs as before (the PEM parsed at every signature).
 */
function signWithParsedKey(engine: Engine, keyPem: string): void {
  if (!PROVEN_WERIFT_VERSIONS.includes(internalsOnce(engine).version ?? '')) return;
  const cipher = engine.cipher as unknown as { signatureData?: unknown; localPrivateKey?: { sign?: unknown } } | undefined;
  if (typeof cipher?.signatureData !== 'function' || typeof cipher.localPrivateKey?.sign !== 'function') return;
  const key = privateKeyOf(keyPem);
  if (key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'rsa') return;
  const sign = (data: Buffer, hash: string): Buffer => createSign(hash).update(data).sign(key);
  cipher.localPrivateKey.sign = sign;
  cipher.signatureData = sign;
}

type CurveModule = { generateKeyPair?: (curve: number) => kx.KeyPair };
type PrfModule = { prfPreMasterSecret?: (publicKey: Buffer, privateKey: Buffer, curve: number) => Buffer };
/** Whether entry 11 was installed (null: not decided yet). */
let nativeKx: boolean | null = null;

/**
 * **werift entry 11: the handshake's ECDHE in OpenSSL** (`transports/dtls-kx.ts`) instead of
 * werift's pure-JS curves, which took about 2 ms of CPU per handshake and side (tweetnacl's
 * X25519, the curve werift's client offers first and our peers pick). Installed once for the
 * process, on the first engine: werift's two module functions are replaced by wrappers that
 * make and use native keys and hand anything else (another curve, a key they did not make)
 * to werift's own function.
 *
 * - Mirrors: `cipher/namedCurve.js` `generateKeyPair(namedCurve)` (`{ curve, privateKey,
 *   publicKey }`, raw keys; P-256 public keys uncompressed) and `cipher/prf.js`
 *   `prfPreMasterSecret(publicKey, privateKey, curve)` (the raw shared secret: X25519's 32
 *   bytes, P-256's x coordinate), which werift's flights call through the module objects
 *   (`flight/server/flight2.js`, `flight6.js`, `flight/client/flight5.js`).
 * - Detected: a proven version, both modules loadable with both functions.
 * - Fallback: werift's curves, as before (slower, same results).
 */
function nativeKeyExchangeOnce(engine: Engine): void {
  if (nativeKx !== null) return;
  nativeKx = false;
  if (!PROVEN_WERIFT_VERSIONS.includes(internalsOnce(engine).version ?? '')) return;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const curves = tryLoad(() => require('werift-dtls/lib/dtls/src/cipher/namedCurve.js') as CurveModule);
  const prf = tryLoad(() => require('werift-dtls/lib/dtls/src/cipher/prf.js') as PrfModule);
  /* eslint-enable @typescript-eslint/no-require-imports */
  const ownGenerate = curves?.generateKeyPair;
  const ownSecret = prf?.prfPreMasterSecret;
  if (!curves || !prf || typeof ownGenerate !== 'function' || typeof ownSecret !== 'function') return;
  curves.generateKeyPair = (curve) => kx.generateKeyPair(curve) ?? ownGenerate(curve);
  prf.prfPreMasterSecret = (publicKey, privateKey, curve) => kx.sharedSecret(publicKey, privateKey, curve) ?? ownSecret(publicKey, privateKey, curve);
  nativeKx = true;
}

/** Whether the handshake's key exchange runs in OpenSSL (werift entry 11); null before the first engine. */
export function nativeKeyExchange(): boolean | null {
  return nativeKx;
}

/** What werift parsed from our certificate and key (entry 12), by the PEM texts. */
interface ParsedIdentity {
  localCert: Buffer;
  localPrivateKey: object;
}
const parsedIdentities = new Map<string, ParsedIdentity>();

/**
 * **werift entry 12: our certificate and key parsed once.** werift's `CipherContext` parses both
 * PEM texts with @fidm/x509 (pure-JS ASN.1) for every engine, so at every handshake of a
 * server. The first engine of a certificate and key parses them as usual and what it made is
 * kept; later engines are made without the `signatureHash` option, which makes werift skip the
 * parsing, and get the kept objects and the signature algorithm set instead.
 *
 * - Mirrors: `context/cipher.js` `CipherContext` constructor → `parseX509` (`localCert`: the
 *   certificate's DER, `localPrivateKey`: @fidm/x509's `PrivateKey`,
 *   `signatureHashAlgorithm`), read by `flight/server/flight4.js`, `flight/client/flight5.js`
 *   and `generateKeySignature`/`signatureData`; the options' `signatureHash` is read only
 *   there (and by `renegotiation()`, which makes a new context from the options: set back too).
 * - Detected: a proven version; after the first engine, `cipher.localCert` a Buffer and
 *   `cipher.localPrivateKey` an object.
 * - Fallback: werift parses the PEM texts for every engine.
 */
function reuseIdentity(engine: Engine, key: string, identity: ParsedIdentity | undefined, signatureHash: { hash: 4; signature: 1 | 3 }): void {
  const cipher = engine.cipher as unknown as { localCert?: unknown; localPrivateKey?: unknown; signatureHashAlgorithm?: unknown };
  if (identity) {
    cipher.localCert = identity.localCert;
    cipher.localPrivateKey = identity.localPrivateKey;
    cipher.signatureHashAlgorithm = signatureHash;
    (engine as unknown as { options: { signatureHash?: unknown } }).options.signatureHash = signatureHash;
    return;
  }
  if (!PROVEN_WERIFT_VERSIONS.includes(internalsOnce(engine).version ?? '')) return;
  const { localCert, localPrivateKey } = cipher;
  if (Buffer.isBuffer(localCert) && typeof localPrivateKey === 'object' && localPrivateKey !== null) {
    remember(parsedIdentities, key, () => ({ localCert, localPrivateKey }));
  }
}
