// Finding and running testssl.sh. Debian's package `testssl.sh` installs the command as
// `testssl`; upstream's checkout calls it `testssl.sh`. Either is taken, or $TESTSSL.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** One entry of testssl.sh's flat JSON output (`--jsonfile`). */
export interface Finding {
  id: string;
  severity: string;
  finding: string;
  cve?: string;
}

/**
 * The checks run: protocols (-p), cipher categories (-s), forward secrecy (-f), server
 * preferences (-P), server defaults and certificate (-S), every vulnerability check (-U) and
 * every cipher one by one (-e). That is testssl's default run without the client simulation
 * (-c: which browsers would connect, no severities, a third of the time) and the HTTP header
 * checks (-h: the echo server is not HTTP; testssl would skip them anyway).
 */
export const CHECKS = ['-p', '-s', '-f', '-P', '-S', '-U', '-e'] as const;

/** The testssl.sh command: $TESTSSL if set, else `testssl.sh` or `testssl` on PATH; null if none. */
export function findTestssl(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.TESTSSL) return env.TESTSSL;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    for (const name of ['testssl.sh', 'testssl']) {
      const candidate = path.join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return null;
}

/** testssl's version and the openssl it uses, from its banner. */
export function testsslVersion(command: string): Promise<{ version: string; openssl: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, ['--version', '--color', '0'], { cwd: tmpdir(), timeout: 30_000 }, (err, stdout) => {
      const version = /testssl(?:\.sh)?\s+(\S+)\s+from/.exec(stdout)?.[1];
      const openssl = /Using "([^"]+)"/.exec(stdout)?.[1];
      if (!version) reject(new Error(`cannot read the version of ${command}: ${err ? err.message : stdout.slice(0, 200)}`));
      else resolve({ version, openssl: openssl ?? 'unknown' });
    });
  });
}

export interface ScanRun {
  findings: Finding[];
  /** testssl's exit code (it counts findings in its own way; the gate reads the JSON instead). */
  exitCode: number | null;
  /** The text testssl printed, for a log. */
  output: string;
}

/**
 * Runs testssl.sh against host:port, trusting `caPem` in addition to its own root stores (so
 * the chain of trust is checked, not just reported untrusted). Bounded by `timeoutMs`: on
 * expiry the whole process group (testssl and its openssl children) is killed.
 */
export function runTestssl(command: string, host: string, port: number, caPem: string, timeoutMs: number): Promise<ScanRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'scan-tls-'));
  const caFile = path.join(dir, 'ca.pem');
  const jsonFile = path.join(dir, 'findings.json');
  writeFileSync(caFile, caPem);
  const args = [
    '--quiet', // no banner (its terms are in docs/security.md)
    '--color',
    '0',
    '--warnings',
    'batch', // never wait for an answer on stdin
    '--nodns',
    'none', // an IP literal on loopback: no DNS (CI may have none)
    '--connect-timeout',
    '10',
    '--openssl-timeout',
    '10',
    '--add-ca',
    caFile,
    '--jsonfile',
    jsonFile,
    ...CHECKS,
    `${host}:${port}`,
  ];
  return new Promise((resolve, reject) => {
    // cwd: testssl reads `git log` of its working directory for its banner.
    const child = spawn(command, args, { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    let finished = false; // 'error' may be followed by 'close'
    const finish = (err: Error | null, exitCode: number | null, signal: NodeJS.Signals | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      try {
        if (err) throw err;
        if (signal) throw new Error(`testssl did not finish within ${timeoutMs} ms (killed by ${signal})\n${output.slice(-2000)}`);
        let findings: Finding[];
        try {
          findings = JSON.parse(readFileSync(jsonFile, 'utf8')) as Finding[];
        } catch (e) {
          throw new Error(`testssl wrote no readable JSON (exit ${exitCode}): ${(e as Error).message}\n${output.slice(-2000)}`);
        }
        resolve({ findings, exitCode, output });
      } catch (e) {
        reject(e);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    child.once('error', (err) => finish(err, null, null));
    child.once('close', (code, signal) => finish(null, code, signal));
  });
}
