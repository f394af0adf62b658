import { constants as cryptoConstants, createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, SecureContext, TlsOptions } from 'node:tls';
import { IInstanceLog, ISocketContext, LogFlag } from './api';
import { getDefaultLog } from './core/log';
import { ContextErrorCode } from './errors';

function pemError(code: ContextErrorCode, message: string): TypeError & { code: ContextErrorCode } {
  return Object.assign(new TypeError(message), { code });
}

/**
 * Cipher suites offered and accepted: TLS 1.3's three, and for TLS 1.2 only ECDHE with an AEAD
 * cipher (Mozilla's "intermediate" list without DHE, for which Node has no parameters by
 * default). Node's own default adds CBC-mode suites through OpenSSL's HIGH, which testssl.sh
 * flags (LUCKY13 "potentially VULNERABLE", obsolete CBC ciphers). TLS 1.3 names must stay in the
 * list: without any, Node turns TLS 1.3 off.
 */
export const CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

const CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_RE = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

/** A certificate chain and its key, checked to belong together. */
export interface CertificateEntry {
  /** The chain, leaf first, as PEM. */
  cert: string;
  /** The private key of the leaf, as PEM. */
  key: string;
  /** SHA-256 of the leaf certificate's DER. */
  fingerprint: Buffer;
  /** The leaf, for subject and name checks. */
  leaf: X509Certificate;
}

/** Parses PEM text holding a certificate chain and its private key; throws a coded TypeError if it cannot be used. */
export function parseCertificatePem(what: string, pem: string | Uint8Array): CertificateEntry {
  if (typeof pem !== 'string' && !(pem instanceof Uint8Array)) {
    throw new TypeError(`${what}: expected PEM text as a string or Uint8Array`);
  }
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
  const certs = text.match(CERT_RE);
  if (!certs) throw pemError(ContextErrorCode.NoCertificate, `${what}: the PEM text holds no certificate`);
  const keyMatch = text.match(KEY_RE);
  if (!keyMatch) throw pemError(ContextErrorCode.NoPrivateKey, `${what}: the PEM text holds no private key (give the certificate and its key together)`);
  let leaf: X509Certificate;
  let matches: boolean;
  try {
    leaf = new X509Certificate(certs[0]);
    matches = leaf.checkPrivateKey(createPrivateKey(keyMatch[0]));
  } catch (err) {
    throw pemError(ContextErrorCode.BadPem, `${what}: cannot read the certificate or key: ${(err as Error).message}`);
  }
  if (!matches)
    throw pemError(ContextErrorCode.KeyMismatch, `${what}: the private key does not belong to the certificate (${leaf.subject.replace(/\n/g, ', ')})`);
  return { cert: certs.join('\n'), key: keyMatch[0], fingerprint: createHash('sha256').update(leaf.raw).digest(), leaf };
}

/** What a DTLS upgrade needs from the context. */
export interface DtlsSettings {
  /** `enableDtls()` was called: upgrades of UDP sockets use DTLS. */
  enabled: boolean;
  /** DTLS-SRTP is to be negotiated (`enableDtls(true)`). */
  srtp: boolean;
  /** The default server certificate and key, if set. */
  serverIdentity?: { cert: string; key: string };
  /** The client certificate and key, unless none is set or it was disabled. */
  clientIdentity?: { cert: string; key: string };
  /** Trust anchors; null: Node's root store. */
  trusted: X509Certificate[] | null;
  /** False after `setVerifyPeer(false)`. */
  verifyPeer: boolean;
  /** `requireClientCertificate()` was called. */
  requireClient: boolean;
  /** ALPN protocols in order of preference. */
  alpn: readonly string[];
}

/** What a TLS client connection needs from the context, fixed when the connection starts. */
export interface ClientTlsSettings {
  /** Node's secure context: minimum version, trusted CAs, our client certificate. */
  secureContext: SecureContext;
  /** Whether the server's chain and name are checked. */
  verifyPeer: boolean;
  /** ALPN protocols offered, in order of preference. */
  alpn: string[];
}

/**
 * What a TLS server side needs from the context, fixed when the connection starts. A new
 * object after every change, so the transport can cache a `tls.Server` per object.
 */
export interface ServerTlsSettings {
  /** Options for a `tls.Server`: default certificate, CA, SNI, client certificates. */
  serverOptions: TlsOptions;
  /** A client certificate is required and must verify. */
  requireClient: boolean;
  /** ALPN protocols, in the server's order of preference. */
  alpn: string[];
}

/**
 * The socket context: certificates, trust, ALPN and DTLS settings, shared by any number of
 * sockets. Node secure contexts are built on first use and rebuilt only after a change, so a
 * change affects connections started after it and sharing a context costs nothing per socket.
 */
export class SocketContext implements ISocketContext {
  private serverDefault: CertificateEntry | null = null;
  private readonly serverByName = new Map<string, CertificateEntry>();
  private client: CertificateEntry | null = null;
  private clientDisabled = false;
  private ca: string[] | null = null;
  private alpn: string[] = [];
  private verifyPeer = true;
  private requireClient = false;
  private dtls = false;
  private srtp = false;
  private clientCache: ClientTlsSettings | null = null;
  private serverCache: ServerTlsSettings | null = null;

  constructor(private readonly log: IInstanceLog = getDefaultLog()) {}

  setServerCertificate(pem: string | Uint8Array, hostName?: string): void {
    const entry = parseCertificatePem('setServerCertificate', pem);
    if (hostName === undefined || hostName === null || hostName === '') {
      this.serverDefault = entry;
    } else if (typeof hostName !== 'string') {
      throw new TypeError('setServerCertificate: hostName must be a string');
    } else {
      this.serverByName.set(hostName.toLowerCase(), entry);
      // The seed's servers call this with their host name and nothing else: that certificate
      // must also serve clients without SNI (or with another name) and give the fingerprint.
      // It stays the default only until a default is set explicitly.
      if (this.serverDefault === null) this.serverDefault = entry;
    }
    this.changed();
  }

  setClientCertificate(pem: string | Uint8Array, hostName?: string): void {
    // hostName is reserved, as in the seed: accepted and ignored.
    this.client = parseCertificatePem('setClientCertificate', pem);
    this.clientDisabled = false;
    this.changed();
  }

  disableClientCertificate(): void {
    this.clientDisabled = true;
    this.changed();
  }

  setAlpnProtocols(protocols: readonly string[]): void {
    if (!Array.isArray(protocols)) throw new TypeError('setAlpnProtocols: expected an array of protocol names');
    for (const p of protocols) {
      if (typeof p !== 'string' || p.length === 0 || Buffer.byteLength(p) > 255) {
        throw Object.assign(new TypeError(`setAlpnProtocols: ${JSON.stringify(p)} is not a protocol name of 1-255 bytes`), { code: ContextErrorCode.BadAlpn });
      }
    }
    this.alpn = [...protocols];
    this.changed();
  }

  getCertificateFingerprint(): Uint8Array | null {
    const entry = this.serverDefault ?? this.client;
    return entry ? new Uint8Array(entry.fingerprint) : null;
  }

  enableDtls(useSrtp?: boolean): void {
    this.dtls = true;
    this.srtp = useSrtp === true;
    this.changed();
  }

  setCertificateAuthority(pem: string | Uint8Array): void {
    const text = typeof pem === 'string' ? pem : pem instanceof Uint8Array ? Buffer.from(pem).toString('utf8') : null;
    if (text === null) throw new TypeError('setCertificateAuthority: expected PEM text as a string or Uint8Array');
    const certs = text.match(CERT_RE);
    if (!certs) throw pemError(ContextErrorCode.NoCertificate, 'setCertificateAuthority: the PEM text holds no certificate');
    try {
      for (const c of certs) new X509Certificate(c);
    } catch (err) {
      throw pemError(ContextErrorCode.BadPem, `setCertificateAuthority: cannot read a certificate: ${(err as Error).message}`);
    }
    this.ca = certs;
    this.changed();
  }

  requireClientCertificate(required?: boolean): void {
    this.requireClient = required !== false;
    this.changed();
  }

  setVerifyPeer(verify: boolean): void {
    if (typeof verify !== 'boolean') throw new TypeError('setVerifyPeer: expected a boolean');
    this.verifyPeer = verify;
    if (!verify && this.log.isEnabled(LogFlag.Tls)) {
      this.log.log(LogFlag.Tls, 'setVerifyPeer(false): peer certificates will NOT be verified on connections made with this context');
    }
    this.changed();
  }

  // ---- read by the transports -------------------------------------------------------

  /** DTLS settings, for the DTLS transport: fixed when a DTLS upgrade starts. */
  get dtlsSettings(): DtlsSettings {
    const identity = (entry: CertificateEntry | null): { cert: string; key: string } | undefined => (entry ? { cert: entry.cert, key: entry.key } : undefined);
    return {
      enabled: this.dtls,
      srtp: this.srtp,
      serverIdentity: identity(this.serverDefault),
      clientIdentity: identity(this.clientDisabled ? null : this.client),
      trusted: this.ca ? this.ca.map((pem) => new X509Certificate(pem)) : null,
      verifyPeer: this.verifyPeer,
      requireClient: this.requireClient,
      alpn: this.alpn,
    };
  }

  /** The ALPN list, in order of preference. */
  get alpnProtocols(): readonly string[] {
    return this.alpn;
  }

  /** Whether any server certificate (default or per name) is set. */
  get hasServerCertificate(): boolean {
    return this.serverDefault !== null || this.serverByName.size > 0;
  }

  /** The client side's settings, built on first use after a change. */
  clientSettings(): ClientTlsSettings {
    if (!this.clientCache) {
      const client = this.clientDisabled ? null : this.client;
      this.clientCache = {
        secureContext: createSecureContext({
          minVersion: 'TLSv1.2',
          ciphers: CIPHERS,
          // Node's disableRenegotiation() guards server sockets only; a client must refuse a
          // server's HelloRequest itself (renegotiation is an injection surface, TLS 1.3 has none).
          secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
          ca: this.ca ?? undefined,
          cert: client?.cert,
          key: client?.key,
        }),
        verifyPeer: this.verifyPeer,
        alpn: this.alpn,
      };
    }
    return this.clientCache;
  }

  /** The server side's settings, built on first use after a change. */
  serverSettings(): ServerTlsSettings {
    if (!this.serverCache) {
      const ca = this.ca ?? undefined;
      const byName = new Map<string, SecureContext>();
      for (const [name, entry] of this.serverByName) {
        byName.set(name, createSecureContext({ minVersion: 'TLSv1.2', ciphers: CIPHERS, ca, cert: entry.cert, key: entry.key }));
      }
      const sni = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
        const name = servername.toLowerCase();
        const wildcard = name.includes('.') ? `*${name.slice(name.indexOf('.'))}` : '';
        cb(null, byName.get(name) ?? byName.get(wildcard)); // undefined: the default certificate
      };
      this.serverCache = {
        serverOptions: {
          minVersion: 'TLSv1.2',
          ciphers: CIPHERS,
          ca,
          cert: this.serverDefault?.cert,
          key: this.serverDefault?.key,
          SNICallback: byName.size > 0 ? sni : undefined,
          // Verified by the transport after the handshake (Node's own check would drop the
          // connection without telling us why); requested only when required.
          requestCert: this.requireClient,
          rejectUnauthorized: false,
        },
        requireClient: this.requireClient && this.verifyPeer,
        alpn: this.alpn,
      };
    }
    return this.serverCache;
  }

  private changed(): void {
    this.clientCache = null;
    this.serverCache = null;
  }
}
