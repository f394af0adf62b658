// The scan's summary: plain text with Markdown tables, so it reads in a terminal and pastes
// into docs/security.md as it is.
import type { ScanVerdict } from './classify';
import type { Finding } from './testssl';

export interface ScanContext {
  date: Date;
  target: string;
  scanner: string;
  checks: readonly string[];
  seconds: number;
  connections: number;
}

const cell = (text: string): string => text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').trim();
const row = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;

function table(head: string[], rows: string[][]): string[] {
  if (rows.length === 0) return ['(none)'];
  return [row(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(row)];
}

const findingRow = (f: Finding): string[] => [f.severity, f.id, f.finding];

/** The verdict line the spec and CI read: `RESULT: PASS`, `RESULT: FAIL` or `RESULT: INCOMPLETE`. */
export function resultLine(v: ScanVerdict): string {
  const failing = v.findings.filter((c) => c.verdict === 'fail').map((c) => c.finding.id);
  if (v.exitCode === 1) return `RESULT: FAIL - ${failing.length} finding(s) rated HIGH/CRITICAL or VULNERABLE: ${failing.join(', ')}`;
  if (v.exitCode === 2) {
    const gaps = [...v.missing.map((id) => `${id} not reported`), ...v.incomplete.map((f) => `${f.id}: ${f.finding}`)];
    if (v.ciphersOffered.length === 0) gaps.push('no cipher list (-e)');
    return `RESULT: INCOMPLETE - the scan did not cover everything it must: ${gaps.join('; ')}`;
  }
  return 'RESULT: PASS - no finding rated HIGH or CRITICAL and nothing VULNERABLE';
}

export function formatSummary(ctx: ScanContext, v: ScanVerdict): string {
  const own = v.findings.filter((c) => c.verdict !== 'test-pki');
  const pki = v.findings.filter((c) => c.verdict === 'test-pki');
  return [
    "TLS configuration scan of the framework's default TLS settings",
    `  date        ${ctx.date.toISOString()}`,
    `  target      ${ctx.target}`,
    `  scanner     ${ctx.scanner}, checks ${ctx.checks.join(' ')}`,
    `  runtime     Node ${process.version}, OpenSSL ${process.versions.openssl}`,
    `  duration    ${ctx.seconds} s; ${ctx.connections} connections reached the server`,
    `  protocols   ${v.protocolsOffered.join(', ') || 'none'} offered`,
    `  ciphers     ${v.ciphersOffered.length} offered: ${v.ciphersOffered.join(' ')}`,
    '',
    'Findings about the defaults (fail: HIGH, CRITICAL or VULNERABLE; report: LOW or MEDIUM)',
    ...table(
      ['severity', 'id', 'finding', 'verdict'],
      own.map((c) => [...findingRow(c.finding), c.verdict]),
    ),
    '',
    "Expected for a test PKI (the certificate's doing, not the defaults')",
    ...table(
      ['severity', 'id', 'finding', 'why'],
      pki.map((c) => [...findingRow(c.finding), c.reason ?? '']),
    ),
    '',
    'Checks testssl could not complete',
    ...table(['severity', 'id', 'finding'], v.incomplete.map(findingRow)),
    '',
    resultLine(v),
  ].join('\n');
}
