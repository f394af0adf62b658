// The gate: which of testssl's findings fail the scan, which come only from the test PKI
// being a private, short-lived CA, and whether the scan covered what it must.
import { X509Certificate } from 'node:crypto';
import type { Finding } from './testssl';

/** Severities testssl gives to findings, strongest first; OK, INFO and DEBUG are not findings. */
const FINDING_SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const;
const FAILING_SEVERITIES = new Set(['CRITICAL', 'HIGH']);

/** What the scan target's certificate carries, read from the certificate itself. */
export interface CertificateFacts {
  /** "EC prime256v1", "RSA 2048" and so on. */
  key: string;
  notAfter: Date;
  /** An OCSP responder URI (Authority Information Access). */
  ocspUri: boolean;
  /** A CRL distribution point extension (OID 2.5.29.31). */
  crlDistributionPoint: boolean;
  /** Embedded Certificate Transparency SCTs (OID 1.3.6.1.4.1.11129.2.4.2). */
  scts: boolean;
}

/** DER of an OBJECT IDENTIFIER, to find an extension in a certificate without a full parser. */
const CRL_DP_OID = Buffer.from('0603551d1f', 'hex');
const SCT_OID = Buffer.from('060a2b06010401d679020402', 'hex');

export function certificateFacts(certPem: string): CertificateFacts {
  const cert = new X509Certificate(certPem);
  const { asymmetricKeyType, asymmetricKeyDetails: d } = cert.publicKey;
  return {
    key: `${(asymmetricKeyType ?? 'unknown').toUpperCase()} ${d?.namedCurve ?? d?.modulusLength ?? ''}`.trim(),
    notAfter: new Date(cert.validTo),
    ocspUri: /OCSP - URI:/.test(cert.infoAccess ?? ''),
    crlDistributionPoint: cert.raw.includes(CRL_DP_OID),
    scts: cert.raw.includes(SCT_OID),
  };
}

const DAY_MS = 24 * 3600_000;

/**
 * Findings that can only come from the test PKI, by testssl id. Each rule checks the
 * certificate really is that way and says why; null means the rule does not apply and the
 * finding stands. Only certificate and DNS ids are here: no protocol, cipher or vulnerability
 * finding can ever be set aside.
 */
const TEST_PKI_RULES: Record<string, (facts: CertificateFacts, now: Date) => string | null> = {
  cert_expirationStatus: shortLived,
  cert_notAfter: shortLived,
  cert_revocation: (c) =>
    !c.ocspUri && !c.crlDistributionPoint
      ? 'the test CA publishes no CRL and runs no OCSP responder; scripts/certs.ts puts neither a CRL distribution point nor an OCSP URI in the certificate'
      : null,
  OCSP_stapling: (c) => (!c.ocspUri ? 'the certificate names no OCSP responder, so there is no OCSP response to staple' : null),
  certificate_transparency: (c) => (!c.scts ? 'a private test CA submits nothing to Certificate Transparency logs: the certificate carries no SCTs' : null),
  DNS_CAArecord: () => 'the target is an IP literal on loopback scanned with --nodns none: there is no DNS name that could hold a CAA record',
};

function shortLived(c: CertificateFacts, now: Date): string | null {
  const days = (c.notAfter.getTime() - now.getTime()) / DAY_MS;
  if (days >= 30) return null;
  return `scripts/certs.ts makes a new certificate on every run, valid for 7 days (this one until ${c.notAfter.toISOString()}); testssl rates a certificate that expires within 30 days HIGH`;
}

/** testssl's own word for a weakness it found ("VULNERABLE", "potentially VULNERABLE"), not "not vulnerable". */
export function saysVulnerable(text: string): boolean {
  return /vulnerable/i.test(text.replace(/not vulnerable/gi, ''));
}

/**
 * Ids the scan must have reported (with a verdict, not a WARN) to count as complete: every
 * protocol, the cipher categories, forward secrecy, the chain of trust and each vulnerability.
 */
export const REQUIRED_IDS = [
  'SSLv2',
  'SSLv3',
  'TLS1',
  'TLS1_1',
  'TLS1_2',
  'TLS1_3',
  'cipherlist_NULL',
  'cipherlist_aNULL',
  'cipherlist_EXPORT',
  'cipherlist_LOW',
  'cipherlist_3DES_IDEA',
  'cipherlist_AVERAGE',
  'cipherlist_STRONG',
  'PFS',
  'cert_chain_of_trust',
  'cert_trust',
  'heartbleed',
  'CCS',
  'ROBOT',
  'secure_renego',
  'secure_client_renego',
  'CRIME_TLS',
  'POODLE_SSL',
  'fallback_SCSV',
  'SWEET32',
  'FREAK',
  'DROWN',
  'LOGJAM',
  'BEAST',
  'LUCKY13',
  'RC4',
] as const;

export interface Classified {
  finding: Finding;
  /** fail: breaks the gate; report: shown, does not fail; test-pki: set aside with `reason`. */
  verdict: 'fail' | 'report' | 'test-pki';
  reason?: string;
}

export interface ScanVerdict {
  /** Findings (LOW and above, or anything saying vulnerable), strongest first. */
  findings: Classified[];
  /** Checks testssl could not complete (WARN) and its own errors (FATAL, scanProblem). */
  incomplete: Finding[];
  /** Required ids testssl did not report at all. */
  missing: string[];
  /** Ciphers testssl found offered, one per `cipher_x…` entry (from -e). */
  ciphersOffered: string[];
  /** Protocols testssl found offered. */
  protocolsOffered: string[];
  /** 0: passed; 1: a finding fails the gate; 2: no finding fails, but the scan is incomplete. */
  exitCode: 0 | 1 | 2;
}

const rank = (severity: string): number => {
  const i = (FINDING_SEVERITIES as readonly string[]).indexOf(severity);
  return i < 0 ? FINDING_SEVERITIES.length : i;
};

export function classify(all: Finding[], cert: CertificateFacts, now = new Date()): ScanVerdict {
  const findings: Classified[] = [];
  const incomplete: Finding[] = [];
  for (const f of all) {
    const vulnerable = saysVulnerable(f.finding);
    if (f.severity === 'WARN' || f.severity === 'FATAL' || f.id === 'scanProblem') {
      incomplete.push(f);
      continue;
    }
    if (!vulnerable && rank(f.severity) === FINDING_SEVERITIES.length) continue; // OK, INFO, DEBUG
    const reason = vulnerable ? null : (TEST_PKI_RULES[f.id]?.(cert, now) ?? null);
    if (reason !== null) findings.push({ finding: f, verdict: 'test-pki', reason });
    else findings.push({ finding: f, verdict: vulnerable || FAILING_SEVERITIES.has(f.severity) ? 'fail' : 'report' });
  }
  findings.sort((a, b) => rank(a.finding.severity) - rank(b.finding.severity));

  const seen = new Set(all.map((f) => f.id));
  const missing = REQUIRED_IDS.filter((id) => !seen.has(id));
  const ciphersOffered = all.filter((f) => /^cipher_x[0-9a-f]+$/i.test(f.id)).map((f) => f.finding.trim().split(/\s+/)[1] ?? f.id);
  const protocolsOffered = all.filter((f) => /^(SSLv[23]|TLS1(_[123])?)$/.test(f.id) && /^offered/.test(f.finding)).map((f) => f.id);
  const requiredIncomplete = incomplete.some((f) => (REQUIRED_IDS as readonly string[]).includes(f.id) || f.severity === 'FATAL' || f.id === 'scanProblem');
  const failed = findings.some((c) => c.verdict === 'fail');
  const exitCode = failed ? 1 : missing.length > 0 || ciphersOffered.length === 0 || requiredIncomplete ? 2 : 0;
  return { findings, incomplete, missing, ciphersOffered, protocolsOffered, exitCode };
}
