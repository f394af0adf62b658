// The one module that touches werift-dtls, the DTLS 1.2 engine. Its package `main` points at
// a file that does not exist, so we import its entry directly; a fix upstream changes the
// paths here and nothing else.
import { createPrivateKey } from 'node:crypto';
import type { DtlsClient, DtlsSocket as Engine } from 'werift-dtls/lib/dtls/src/index.js';

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
    send: (data: Buffer) => transport.send(data),
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
  return options.server ? new DtlsServer(engineOptions as never) : new DtlsClient(engineOptions as never);
}

/** The engine needs the signature algorithm of our key: ECDSA or RSA, with SHA-256. */
function signatureHashOf(keyPem: string): { hash: 4; signature: 1 | 3 } {
  const type = createPrivateKey(keyPem).asymmetricKeyType;
  return { hash: 4, signature: type === 'ec' ? 3 : 1 };
}

/** Starts the client's handshake; the promise settles when its first flight is done. */
export function startClient(engine: Engine): Promise<void> {
  return (engine as DtlsClient).connect();
}

/** Sends a close_notify alert (the engine's own close() only drops its transport). */
export async function sendCloseNotify(engine: Engine): Promise<void> {
  const dtls = engine.dtls;
  const [record] = builder().createPlaintext(dtls)(
    [{ type: 21 /* alert */, fragment: Buffer.from([1 /* warning */, 0 /* close_notify */]) }],
    ++dtls.recordSequenceNumber,
  );
  await engine.transport.send(engine.cipher.encryptPacket(record).serialize());
}

/**
 * Stops the engine's retransmission loop: it ends after its current wait (at most a few
 * seconds) instead of resending an abandoned flight for half a minute.
 */
export function stopRetransmissions(engine: Engine): void {
  engine.dtls.flight = Number.MAX_SAFE_INTEGER;
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

/**
 * A protected (epoch > 0) alert record, decrypted: `{ level, description }`, or null when it is
 * not one or does not decrypt (a forgery). We read these ourselves: the engine first parses the
 * ciphertext as a plaintext alert and, when a byte happens to look like a known alert, drops the
 * record undecrypted — so a peer's close_notify was sometimes never seen.
 */
export function readProtectedAlert(engine: Engine, data: Buffer): { level: number; description: number } | null {
  if (data[0] !== 21 || (data[3] === 0 && data[4] === 0)) return null;
  try {
    const record = plaintext().DtlsPlaintext.deSerialize(data);
    const body = engine.cipher.decryptPacket(record);
    return body.length >= 2 ? { level: body[0], description: body[1] } : null;
  } catch {
    return null;
  }
}

/** The negotiated SRTP profile's name and keying-material length, if any. */
export function srtpProfileOf(engine: Engine): { name: string; keyingLength: number } | null {
  const id = engine.srtp?.srtpProfile;
  return SRTP_PROFILES.find((p) => p.id === id) ?? null;
}
