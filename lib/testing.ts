/**
 * Helpers for tests, examples and first experiments: `import { makeTestPki, createSocketPair }
 * from 'socket-provider/testing'`.
 *
 * - {@link makeTestPki} makes a throw-away certificate authority and certificates for
 *   `localhost` at run time, so TLS and DTLS code can run with verification on and nothing
 *   private ever lands in a repository.
 * - {@link createSocketPair} is the in-process socket pair of the main export, here too so
 *   that a test imports its tools from one place.
 * - {@link createRudpSocketPair} is the same for rudp: two connected rudp sockets (type
 *   `'rudp'`) with no network.
 *
 * Nothing here is needed in production, and nothing here is loaded by `socket-provider`
 * itself: the main export does not import this module. It uses no package beyond Node's own
 * `node:crypto`.
 *
 * @packageDocumentation
 */
import { createHash, generateKeyPair, KeyObject, randomBytes, sign } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

import { ISocket, SocketOptions, USocket } from './api';
import { createRudpPair } from './core/rudp/pair';

export { createSocketPair } from './public-api';

/**
 * Two connected rudp sockets in this process, with no network: a stand-in for an rudp
 * connection in an app's tests. They are real rudp sockets (`type === 'rudp'`) whose datagrams
 * cross an in-process link instead of UDP, so everything docs/rudp.md describes holds: one
 * message per `send` and per `recv` (0 bytes allowed, a longer message is never lost),
 * `socketSendResult` once the other end acknowledged it, `stats()`, `shutdown()` (the other end
 * then sees `SOCKET_SHUTDOWN_BY_PEER`), the idle time-out, the options, and `simulate` (loss,
 * delay, a bottleneck) to test the app under a bad network.
 *
 * `userA` gets `socketConnectComplete` (the client's view), `userB` `socketAcceptComplete`
 * (an accepted socket's view), both on a later tick. Both ends have mode `'client'` and no
 * addresses (`''`, port 0). docs/socket-pairs.md has an example.
 *
 * ```ts
 * import { ISocket, USocket } from 'socket-provider';
 * import { createRudpSocketPair } from 'socket-provider/testing';
 *
 * class Client extends USocket {
 *   override socketConnectComplete(s: ISocket) { s.send(Buffer.from('hello')); }
 *   override socketShutdown() {}
 * }
 * class Server extends USocket {
 *   override socketAcceptComplete(s: ISocket) { s.recv(new Uint8Array(64)); }
 *   override socketShutdown() {}
 * }
 * const [client, server] = createRudpSocketPair(new Client(), new Server(), { simulate: { lossPercent: 5 } });
 * ```
 *
 * @param options rudp socket options applied to both ends (`lanes`, `maxMessageSize`, `idleTimeoutMs`, `keepAliveMs`, `mtu`, `simulate`, `iomux`, `log`, …)
 * @returns `[a, b]`: the socket of `userA` and the socket of `userB`
 * @throws TypeError if a user has no `socketShutdown` method or options are malformed; RangeError for an option out of range
 * @throws SocketStateError `ERR_IOMUX_TERMINATED` if the IoMux was terminated
 */
export function createRudpSocketPair(userA: USocket, userB: USocket, options: SocketOptions = {}): [ISocket, ISocket] {
  return createRudpPair(userA, userB, options);
}

/**
 * The certificates {@link makeTestPki} makes, as PEM text. Each certificate with a key is
 * the certificate followed by its private key (PKCS #8), the form
 * `ISocketContext.setServerCertificate` and `setClientCertificate` take. Node's own
 * `tls.createServer({ cert, key })` takes the same text for both options.
 */
export interface TestPki {
  /** The CA certificate alone (no key): give it to `setCertificateAuthority` to trust the others. */
  ca: string;
  /**
   * The server: subject `CN=localhost`, subjectAltName `DNS:localhost`, `IP:127.0.0.1`, `IP:::1`
   * (or the `serverNames` option), extended key usage serverAuth; signed by the CA.
   */
  server: string;
  /** A second server, `CN=other.test` with `DNS:other.test` (for SNI); signed by the CA. */
  other: string;
  /**
   * A client: subject `CN=client, L=Springfield, O=Clients Inc`, extended key usage
   * clientAuth; signed by the CA. For `setClientCertificate` when the server calls
   * `requireClientCertificate()`.
   */
  client: string;
  /** A server for the same names as `server`, but self-signed: a server nobody should trust (verification fails). */
  rogue: string;
}

/** Options for {@link makeTestPki}. */
export interface TestPkiOptions {
  /**
   * The names of the `server` (and `rogue`) certificate: host names (also `*.example.test`
   * wildcards) and IP addresses. The first one is the subject's CN. Default
   * `['localhost', '127.0.0.1', '::1']`.
   */
  serverNames?: readonly string[];
  /** How many days the certificates are valid, from an hour ago. Default 7. */
  days?: number;
}

/**
 * Makes a fresh test PKI: a CA and certificates signed by it, for `localhost` and the loopback
 * addresses by default. Keys are ECDSA P-256, signatures ECDSA with SHA-256, certificates X.509
 * v3 with the extensions TLS checks (basicConstraints, keyUsage, extendedKeyUsage,
 * subjectAltName, key identifiers). Everything is made in memory on each call (a few
 * milliseconds), valid from an hour ago for `days` days, and never written anywhere: keep it in
 * memory for the life of a test run.
 *
 * These certificates are for tests. The CA's private key is thrown away, so nothing else can be
 * signed with it; a real service uses certificates from its own CA or a public one.
 *
 * ```ts
 * import { createTlsSocketProvider } from 'socket-provider';
 * import { makeTestPki } from 'socket-provider/testing';
 *
 * const tls = createTlsSocketProvider();
 * makeTestPki().then((pki) => {
 *   const serverContext = tls.createSocketContext();
 *   serverContext.setServerCertificate(pki.server); // certificate and key
 *   const clientContext = tls.createSocketContext();
 *   clientContext.setCertificateAuthority(pki.ca); // trust the test CA only
 * });
 * ```
 *
 * @throws TypeError for a `serverNames` entry that is neither a host name nor an IP address,
 *   or an empty list; RangeError for `days` that is not a whole number from 1 to 36500.
 */
export async function makeTestPki(options: TestPkiOptions = {}): Promise<TestPki> {
  const serverNames = options.serverNames ?? ['localhost', '127.0.0.1', '::1'];
  if (!Array.isArray(serverNames) || serverNames.length === 0) throw new TypeError('makeTestPki: serverNames must be a non-empty array of names');
  const names = serverNames.map(generalName);
  const days = options.days ?? 7;
  if (!Number.isInteger(days) || days < 1 || days > 36500)
    throw new RangeError(`makeTestPki: days must be a whole number from 1 to 36500, got ${String(days)}`);
  const now = Date.now();
  const validity = { from: new Date(now - 3600_000), to: new Date(now + days * 24 * 3600_000) };

  const [caKeys, serverKeys, otherKeys, clientKeys, rogueKeys] = await Promise.all([newKeys(), newKeys(), newKeys(), newKeys(), newKeys()]);
  const caName = distinguishedName([['CN', 'socket-provider test CA']]);
  const issuer: Issuer = { name: caName, keys: caKeys };
  const ca = certificate({
    subject: caName,
    keys: caKeys,
    issuer: null,
    validity,
    extensions: [basicConstraints(true), keyUsage(KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN)],
  });
  const serverCn = serverNames[0];
  const leaf = (subject: Buffer, keys: KeyPair, by: Issuer | null, eku: string, altNames: Buffer[]): string => {
    const der = certificate({
      subject,
      keys,
      issuer: by,
      validity,
      extensions: [basicConstraints(false), keyUsage(KU_DIGITAL_SIGNATURE), extendedKeyUsage(eku), subjectAltName(altNames)],
    });
    return pem('CERTIFICATE', der) + keys.privateKeyPem;
  };
  return {
    ca: pem('CERTIFICATE', ca),
    server: leaf(distinguishedName([['CN', serverCn]]), serverKeys, issuer, OID.serverAuth, names),
    other: leaf(distinguishedName([['CN', 'other.test']]), otherKeys, issuer, OID.serverAuth, [generalName('other.test')]),
    client: leaf(
      distinguishedName([
        ['CN', 'client'],
        ['L', 'Springfield'],
        ['O', 'Clients Inc'],
      ]),
      clientKeys,
      issuer,
      OID.clientAuth,
      [generalName('client')],
    ),
    rogue: leaf(distinguishedName([['CN', serverCn]]), rogueKeys, null, OID.serverAuth, names),
  };
}

// ---- keys ----------------------------------------------------------------------------------

interface KeyPair {
  privateKey: KeyObject;
  privateKeyPem: string;
  /** The DER SubjectPublicKeyInfo. */
  spki: Buffer;
  /** The subject key identifier: SHA-1 of the public key's bits (RFC 5280, 4.2.1.2, method 1). */
  keyId: Buffer;
}

interface Issuer {
  name: Buffer;
  keys: KeyPair;
}

function newKeys(): Promise<KeyPair> {
  return new Promise((resolve, reject) => {
    generateKeyPair('ec', { namedCurve: 'prime256v1' }, (err, publicKey, privateKey) => {
      if (err) return reject(err);
      const spki = publicKey.export({ type: 'spki', format: 'der' });
      // An EC P-256 SubjectPublicKeyInfo ends with the BIT STRING of the 65-byte point, after
      // its one "unused bits" byte: the key identifier hashes the point.
      const point = spki.subarray(spki.length - 65);
      resolve({
        privateKey,
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        spki,
        keyId: createHash('sha1').update(point).digest(),
      });
    });
  });
}

// ---- the certificate -----------------------------------------------------------------------

interface CertificateSpec {
  subject: Buffer;
  keys: KeyPair;
  /** Null: self-signed. */
  issuer: Issuer | null;
  validity: { from: Date; to: Date };
  extensions: Buffer[];
}

/** A DER X.509 v3 certificate (RFC 5280, 4.1), signed with ECDSA-SHA256 by its issuer's key. */
function certificate(spec: CertificateSpec): Buffer {
  const signer = spec.issuer ?? { name: spec.subject, keys: spec.keys };
  const algorithm = sequence(oid(OID.ecdsaWithSha256)); // no parameters (RFC 5758, 3.2)
  const extensions = [...spec.extensions, subjectKeyIdentifier(spec.keys.keyId), authorityKeyIdentifier(signer.keys.keyId)];
  const tbs = sequence(
    tagged(0xa0, integer(Buffer.from([2]))), // version v3
    integer(serialNumber()),
    algorithm,
    signer.name,
    sequence(time(spec.validity.from), time(spec.validity.to)),
    spec.subject,
    spec.keys.spki,
    tagged(0xa3, sequence(...extensions)),
  );
  // node:crypto signs ECDSA in DER (r, s) form, which is what X.509 carries.
  const signature = sign('sha256', tbs, signer.keys.privateKey);
  return sequence(tbs, algorithm, bitString(signature));
}

/** 16 random bytes, positive and without a leading zero byte (RFC 5280: at most 20 octets). */
function serialNumber(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x40;
  return serial;
}

const ATTRIBUTE_OIDS = { CN: '2.5.4.3', L: '2.5.4.7', O: '2.5.4.10' } as const;

/** A Name: one RDN per attribute, each a UTF8String. */
function distinguishedName(attributes: Array<[keyof typeof ATTRIBUTE_OIDS, string]>): Buffer {
  return sequence(...attributes.map(([type, value]) => set(sequence(oid(ATTRIBUTE_OIDS[type]), tlv(0x0c, Buffer.from(value, 'utf8'))))));
}

/** UTCTime until 2049, GeneralizedTime from 2050 on (RFC 5280, 4.1.2.5), to the second. */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2025-01-31T12:34:56.789Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z'; // 20250131123456Z
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}

// ---- extensions ----------------------------------------------------------------------------

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

// KeyUsage bits, numbered from the most significant bit of the first byte (RFC 5280, 4.2.1.3).
const KU_DIGITAL_SIGNATURE = 1 << 0;
const KU_KEY_CERT_SIGN = 1 << 5;
const KU_CRL_SIGN = 1 << 6;

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), octetString(value));
}

function basicConstraints(isCa: boolean): Buffer {
  // cA defaults to FALSE, and DER leaves defaults out: an end entity's value is an empty SEQUENCE.
  return extension(OID.basicConstraints, true, isCa ? sequence(tlv(0x01, Buffer.from([0xff]))) : sequence());
}

function keyUsage(bits: number): Buffer {
  // A named bit list in DER: bit n of the list is bit (7 - n) of the first byte, trailing zero bits dropped.
  let byte = 0;
  for (let n = 0; n < 8; n++) if (bits & (1 << n)) byte |= 0x80 >> n;
  let unused = 0;
  while (unused < 7 && (byte & (1 << unused)) === 0) unused++;
  return extension(OID.keyUsage, true, tlv(0x03, Buffer.from([unused, byte])));
}

function extendedKeyUsage(purpose: string): Buffer {
  return extension(OID.extKeyUsage, false, sequence(oid(purpose)));
}

function subjectAltName(names: Buffer[]): Buffer {
  return extension(OID.subjectAltName, false, sequence(...names));
}

function subjectKeyIdentifier(keyId: Buffer): Buffer {
  return extension(OID.subjectKeyIdentifier, false, octetString(keyId));
}

function authorityKeyIdentifier(keyId: Buffer): Buffer {
  return extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, keyId))); // [0] keyIdentifier
}

/** A GeneralName: iPAddress [7] for an IP literal, else dNSName [2] (IA5String). */
function generalName(name: string): Buffer {
  if (typeof name !== 'string') throw new TypeError(`makeTestPki: a server name must be a string, got ${typeof name}`);
  if (isIPv4(name)) return tlv(0x87, Buffer.from(name.split('.').map(Number)));
  if (isIPv6(name)) return tlv(0x87, ipv6Bytes(name));
  if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(name)) {
    throw new TypeError(`makeTestPki: ${JSON.stringify(name)} is neither a host name nor an IP address`);
  }
  return tlv(0x82, Buffer.from(name, 'ascii'));
}

/** The 16 bytes of an IPv6 literal (already checked by isIPv6), with `::` and a dotted IPv4 tail expanded. */
function ipv6Bytes(text: string): Buffer {
  let address = text.replace(/%.*$/, ''); // a zone index is not part of the address
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    address = address.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const groups = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const front = groups(head);
  const back = groups(tail);
  const all = tail === undefined ? front : [...front, ...new Array<string>(8 - front.length - back.length).fill('0'), ...back];
  const out = Buffer.alloc(16);
  all.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}

// ---- DER -----------------------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else if (n < 0x100) length = Buffer.from([0x81, n]);
  else if (n < 0x10000) length = Buffer.from([0x82, n >> 8, n & 0xff]);
  else length = Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items));
}

function tagged(tag: number, content: Buffer): Buffer {
  return tlv(tag, content);
}

/** An INTEGER from unsigned big-endian bytes (a zero byte in front if the top bit is set). */
function integer(bytes: Buffer): Buffer {
  return tlv(0x02, bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function octetString(content: Buffer): Buffer {
  return tlv(0x04, content);
}

function bitString(content: Buffer): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([0]), content]));
}

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) base128.unshift((v & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
