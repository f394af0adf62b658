/**
 * The gate of the TLS configuration scan (`npm run scan:tls`, scripts/scan-tls/classify.ts), on
 * made-up testssl findings: what fails, what is only the test PKI's doing (and only while the
 * certificate really is that way), what makes a scan incomplete. The scan itself, against the
 * framework's defaults, is spec/scan-tls-run.spec.ts.
 */
import { makeTestPki } from '../scripts/certs';
import { CertificateFacts, certificateFacts, classify, REQUIRED_IDS } from '../scripts/scan-tls/classify';
import type { Finding } from '../scripts/scan-tls/testssl';

const DAY_MS = 24 * 3600_000;

const now = new Date('2030-01-01T00:00:00Z');
const testCert: CertificateFacts = {
  key: 'EC prime256v1',
  notAfter: new Date(now.getTime() + 7 * DAY_MS),
  ocspUri: false,
  crlDistributionPoint: false,
  scts: false,
};

/** A scan that reported every required check as OK and one cipher, plus `extra`. */
function scan(...extra: Finding[]): Finding[] {
  return [
    ...REQUIRED_IDS.map((id) => ({ id, severity: 'OK', finding: 'not vulnerable' })),
    { id: 'cipher_x1302', severity: 'INFO', finding: 'x1302   TLS_AES_256_GCM_SHA384            ECDH 253   AESGCM      256      TLS_AES_256_GCM_SHA384' },
    ...extra,
  ];
}

/** The same scan with the entry of `changed.id` replaced by `changed` (added if it is not a required check). */
function scanWith(changed: Finding): Finding[] {
  const base = scan();
  return base.some((f) => f.id === changed.id) ? base.map((f) => (f.id === changed.id ? changed : f)) : [...base, changed];
}

describe('the scan gate', () => {
  it('passes a complete scan with nothing above INFO', () => {
    const v = classify(scan({ id: 'TLS_session_ticket', severity: 'INFO', finding: 'valid for 7200 seconds only (<daily)' }), testCert, now);
    expect(v).toMatchObject({ exitCode: 0, findings: [], incomplete: [], missing: [], ciphersOffered: ['TLS_AES_256_GCM_SHA384'] });
  });

  it('fails on a HIGH or CRITICAL protocol, cipher or vulnerability finding', () => {
    for (const f of [
      { id: 'TLS1_1', severity: 'HIGH', finding: 'offered (deprecated)' },
      { id: 'cipherlist_LOW', severity: 'HIGH', finding: 'offered (NOT ok)' },
      { id: 'heartbleed', severity: 'CRITICAL', finding: 'VULNERABLE (NOT ok)' },
    ]) {
      const v = classify(scanWith(f), testCert, now);
      expect({ id: f.id, exitCode: v.exitCode, verdicts: v.findings.map((c) => c.verdict) }).toEqual({ id: f.id, exitCode: 1, verdicts: ['fail'] });
    }
  });

  it('fails on anything testssl calls VULNERABLE, even rated LOW, but not on "not vulnerable"', () => {
    const lucky = classify(scanWith({ id: 'LUCKY13', severity: 'LOW', finding: 'potentially vulnerable, uses TLS CBC ciphers' }), testCert, now);
    expect(lucky.exitCode).toBe(1);
    expect(lucky.findings.map((c) => [c.finding.id, c.verdict])).toEqual([['LUCKY13', 'fail']]);
    expect(classify(scanWith({ id: 'LUCKY13', severity: 'OK', finding: 'not vulnerable' }), testCert, now).exitCode).toBe(0);
  });

  it('reports LOW and MEDIUM findings without failing', () => {
    const v = classify(scanWith({ id: 'cipherlist_AVERAGE', severity: 'LOW', finding: 'offered' }), testCert, now);
    expect(v.exitCode).toBe(0);
    expect(v.findings.map((c) => [c.finding.id, c.verdict])).toEqual([['cipherlist_AVERAGE', 'report']]);
  });

  it("sets aside the test PKI's short life and missing revocation, with the reason, only while the certificate is that way", () => {
    const expiring = { id: 'cert_expirationStatus', severity: 'HIGH', finding: 'expires < 30 days (6)' };
    const revocation = { id: 'cert_revocation', severity: 'HIGH', finding: 'Neither CRL nor OCSP URI provided' };
    const v = classify(scan(expiring, revocation), testCert, now);
    expect(v.exitCode).toBe(0);
    expect(v.findings.map((c) => c.verdict)).toEqual(['test-pki', 'test-pki']);
    expect(v.findings[0].reason).toMatch(/valid for 7 days .*2030-01-08/);
    expect(v.findings[1].reason).toMatch(/no CRL .* no OCSP responder/);

    const longLived = { ...testCert, notAfter: new Date(now.getTime() + 365 * DAY_MS) };
    expect(classify(scan(expiring), longLived, now).findings.map((c) => c.verdict)).toEqual(['fail']);
    expect(classify(scan(revocation), { ...testCert, ocspUri: true }, now).findings.map((c) => c.verdict)).toEqual(['fail']);
  });

  it('never sets aside the chain of trust (the scan trusts the test CA) or any other id', () => {
    for (const f of [
      { id: 'cert_chain_of_trust', severity: 'CRITICAL', finding: 'failed (chain incomplete).' },
      { id: 'cert_keySize', severity: 'HIGH', finding: 'RSA 1024 bits' },
    ]) {
      expect(classify(scanWith(f), testCert, now).findings.map((c) => [c.finding.id, c.verdict])).toEqual([[f.id, 'fail']]);
    }
  });

  it('calls a scan incomplete when a required check is missing or could not run, or no cipher was listed', () => {
    const missing = classify(
      scan().filter((f) => f.id !== 'ROBOT'),
      testCert,
      now,
    );
    expect([missing.exitCode, missing.missing]).toEqual([2, ['ROBOT']]);
    const warned = classify(scanWith({ id: 'heartbleed', severity: 'WARN', finding: 'test failed' }), testCert, now);
    expect(warned.exitCode).toBe(2);
    expect(classify(scan({ id: 'scanProblem', severity: 'FATAL', finding: 'no TLS service' }), testCert, now).exitCode).toBe(2);
    expect(
      classify(
        scan().filter((f) => !f.id.startsWith('cipher_x')),
        testCert,
        now,
      ).exitCode,
    ).toBe(2);
    // a check outside the required list that could not run is listed, not fatal
    const optional = classify(scan({ id: 'sessionresumption_ticket', severity: 'WARN', finding: 'check failed because of connect problem' }), testCert, now);
    expect([optional.exitCode, optional.incomplete.map((f) => f.id)]).toEqual([0, ['sessionresumption_ticket']]);
  });

  it("reads the test PKI's server certificate as it is: EC P-256, 7 days, no OCSP, CRL or SCTs", async () => {
    const facts = certificateFacts((await makeTestPki()).server);
    expect(facts).toMatchObject({ key: 'EC prime256v1', ocspUri: false, crlDistributionPoint: false, scts: false });
    const days = (facts.notAfter.getTime() - Date.now()) / DAY_MS;
    expect(days).toBeGreaterThan(6);
    expect(days).toBeLessThanOrEqual(7);
  });
});
