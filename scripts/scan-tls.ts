// `npm run scan:tls`: runs testssl.sh against the demo's TLS echo server with the framework's
// default TLS settings on loopback, prints a summary and exits
//   0  no finding rated HIGH or CRITICAL and nothing VULNERABLE,
//   1  a finding fails that gate (printed with the result line),
//   2  the scan could not run or did not cover every check it must.
// Findings that only a private, short-lived test CA causes are listed apart, each with the
// reason, and never include a protocol, cipher or vulnerability finding.
// Options: --verbose prints testssl's own report too. Environment: TESTSSL (the command),
// SCAN_TLS_TIMEOUT_MS (bound on the testssl run, default 240000).
import { makeTestPki } from './certs';
import { certificateFacts, classify } from './scan-tls/classify';
import { formatSummary } from './scan-tls/report';
import { startScanTarget } from './scan-tls/server';
import { CHECKS, findTestssl, runTestssl, testsslVersion } from './scan-tls/testssl';

const DEFAULT_TIMEOUT_MS = 240_000;

async function main(): Promise<number> {
  const testssl = findTestssl();
  if (!testssl) {
    console.log('RESULT: INCOMPLETE - testssl.sh is not installed (Debian: apt-get install testssl.sh; or set TESTSSL to its path)');
    return 2;
  }
  const timeoutMs = Number(process.env.SCAN_TLS_TIMEOUT_MS ?? DEFAULT_TIMEOUT_MS);
  const { version, openssl } = await testsslVersion(testssl);
  const pki = await makeTestPki();
  const target = await startScanTarget(pki);
  const started = Date.now();
  let run;
  try {
    run = await runTestssl(testssl, target.host, target.port, pki.ca, timeoutMs);
  } finally {
    await target.close();
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  const cert = certificateFacts(pki.server);
  const verdict = classify(run.findings, cert);
  if (process.argv.includes('--verbose') || verdict.exitCode === 2) console.log(run.output);
  console.log(
    formatSummary(
      {
        date: new Date(started),
        target: `the demo's TLS echo server on ${target.host}:${target.port} (${cert.key} certificate from scripts/certs.ts, ALPN h2, http/1.1; everything else default)`,
        scanner: `testssl ${version} (${testssl}) using ${openssl}`,
        checks: CHECKS,
        seconds,
        connections: target.connectionsSeen,
      },
      verdict,
    ),
  );
  return verdict.exitCode;
}

main().then(
  // exit at once: connections the scanner left half-open would otherwise wait for the
  // handshake time-out (10 s) before the process could end
  (code) => process.exit(code),
  (err: unknown) => {
    console.log(`RESULT: INCOMPLETE - the scan failed to run: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
