/**
 * Figures for docs/reliability.md: with RELIABILITY_REPORT=<file> set, each reliability spec
 * appends one JSON line of what it did (runs, calls, bytes, reasons, memory…) to that file.
 * Without it nothing is written.
 */
import { appendFileSync } from 'node:fs';

export function report(name: string, figures: object): void {
  const file = process.env.RELIABILITY_REPORT;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ name, ...figures })}\n`);
}
