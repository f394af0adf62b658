// Peer certificate checks for DTLS: the engine does not verify what the peer sends, so we do,
// with Node's X509Certificate, by the same rules as TLS: a trusted issuer, valid dates, the
// name. Done before the upgrade is reported; a failure fails the handshake.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { PeerCertificate } from '../api';

let nodeRoots: X509Certificate[] | undefined;

/** Why the certificate is not acceptable, or null when it is. */
export function checkPeerCertificate(
  der: Buffer | undefined,
  rules: { trusted: X509Certificate[] | null; name: string | undefined },
  now = new Date(),
): string | null {
  if (!der || der.length === 0) return 'the peer sent no certificate';
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(der);
  } catch (err) {
    return `unreadable peer certificate: ${(err as Error).message}`;
  }
  if (now < new Date(leaf.validFrom)) return `certificate not yet valid (from ${leaf.validFrom})`;
  if (now > new Date(leaf.validTo)) return `certificate expired (${leaf.validTo})`;
  const trusted = rules.trusted ?? (nodeRoots ??= rootCertificates.map((pem) => new X509Certificate(pem)));
  const anchored = trusted.some((ca) => ca.fingerprint256 === leaf.fingerprint256 || (leaf.checkIssued(ca) && leaf.verify(ca.publicKey)));
  if (!anchored) return `certificate not issued by a trusted CA (issuer: ${leaf.issuer.replace(/\n/g, ', ')})`;
  const name = rules.name;
  if (name !== undefined) {
    const match = isIP(name) ? leaf.checkIP(name) : leaf.checkHost(name);
    if (match === undefined) return `certificate does not match the name ${JSON.stringify(name)} (ERR_TLS_CERT_ALTNAME_INVALID)`;
  }
  return null;
}

/** A peer certificate in Node's shape (the fields apps read: subject, issuer, dates, fingerprints). */
export function peerCertificateOf(der: Buffer | undefined): PeerCertificate | null {
  if (!der || der.length === 0) return null;
  const x = new X509Certificate(der);
  return {
    subject: parseName(x.subject),
    issuer: parseName(x.issuer),
    subjectaltname: x.subjectAltName ?? '',
    valid_from: x.validFrom,
    valid_to: x.validTo,
    fingerprint: x.fingerprint,
    fingerprint256: x.fingerprint256,
    fingerprint512: x.fingerprint512,
    serialNumber: x.serialNumber,
    raw: x.raw,
    ca: x.ca,
  } as unknown as PeerCertificate;
}

function parseName(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}
