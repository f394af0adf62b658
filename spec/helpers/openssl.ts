/**
 * The `openssl` command line as a real TLS peer: spawned processes with gathered output,
 * bounded waits, and cleanup (`killAllOpenssl()` in afterEach); PEM files in a temp dir.
 */
import { ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { withTimeout } from './net-helpers';

/** Whether an `openssl` binary runs here (tests that need it are skipped otherwise). */
export function hasOpenssl(): boolean {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8', timeout: 10000 });
  return r.status === 0 && /OpenSSL/i.test(r.stdout);
}

const live = new Set<OpensslProcess>();

/** One running `openssl` command. */
export class OpensslProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  exitCode: number | null = null;
  exited = false;
  private readonly waits = new Set<() => void>();

  constructor(readonly args: string[]) {
    this.child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this);
    this.child.stdout.setEncoding('latin1');
    this.child.stderr.setEncoding('latin1');
    this.child.stdout.on('data', (d: string) => {
      this.out += d;
      this.poke();
    });
    this.child.stderr.on('data', (d: string) => {
      this.err += d;
      this.poke();
    });
    this.child.stdin.on('error', () => undefined); // the process may exit before reading
    this.child.on('error', (e) => {
      this.err += `\n[spawn error: ${e.message}]`;
      this.exited = true;
      this.poke();
    });
    this.child.on('exit', (code) => {
      this.exitCode = code;
      this.exited = true;
      live.delete(this);
      this.poke();
    });
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** Everything the process said, for failure messages. */
  describe(): string {
    const cut = (s: string): string => (s.length > 4000 ? `…${s.slice(-4000)}` : s);
    return `openssl ${this.args.join(' ')}\n--- exit: ${this.exited ? String(this.exitCode) : 'running'}\n--- stdout:\n${cut(this.out)}\n--- stderr:\n${cut(this.err)}`;
  }

  private poke(): void {
    for (const w of [...this.waits]) w();
  }

  /** Resolves once `check()` holds (re-checked on every output and on exit); bounded. */
  until(check: () => boolean, what: string, ms = 15000): Promise<void> {
    if (check()) return Promise.resolve();
    let w: () => void = () => undefined;
    const p = new Promise<void>((resolve, reject) => {
      w = () => {
        if (check()) {
          this.waits.delete(w);
          resolve();
        } else if (this.exited) {
          this.waits.delete(w);
          reject(new Error(`openssl exited while waiting for ${what}\n${this.describe()}`));
        }
      };
      this.waits.add(w);
    });
    return withTimeout(p, ms, what).catch((e: Error) => {
      this.waits.delete(w);
      throw e.message.includes('--- stdout') ? e : new Error(`${e.message}\n${this.describe()}`);
    });
  }

  /** Waits until stdout (or, with `stream: 'any'`, stdout or stderr) matches `re`. */
  waitForOutput(re: RegExp, ms = 15000, stream: 'stdout' | 'any' = 'stdout'): Promise<void> {
    return this.until(() => re.test(stream === 'stdout' ? this.out : this.out + this.err), `openssl output ${re}`, ms);
  }

  /** Waits for the process to exit; resolves with its exit code. */
  async waitForExit(ms = 15000): Promise<number | null> {
    if (!this.exited) {
      let w: () => void = () => undefined;
      const p = new Promise<void>((resolve) => {
        w = () => {
          if (this.exited) resolve();
        };
        this.waits.add(w);
      });
      try {
        await withTimeout(p, ms, 'openssl to exit');
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${this.describe()}`);
      } finally {
        this.waits.delete(w);
      }
    }
    return this.exitCode;
  }

  write(text: string): void {
    if (!this.child.stdin.destroyed) this.child.stdin.write(text);
  }

  endInput(): void {
    if (!this.child.stdin.destroyed) this.child.stdin.end();
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
    this.child.stdin.destroy();
  }
}

/** Starts `openssl ...args`. */
export function runOpenssl(args: string[]): OpensslProcess {
  return new OpensslProcess(args);
}

/** Kills every `openssl` process started by these helpers and waits (bounded) for each to exit. */
export async function killAllOpenssl(): Promise<void> {
  const procs = [...live];
  for (const p of procs) p.kill();
  await Promise.all(procs.map((p) => p.waitForExit(5000).catch(() => undefined)));
  live.clear();
}

/** A port nobody listens on right now: bind a server to 127.0.0.1:0, read the port, close it. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  await withTimeout(listening, 10000, 'a server to find a free port');
  const port = (server.address() as net.AddressInfo).port;
  await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 10000, 'the port finder to close');
  return port;
}

const CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_RE = /-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

/** Splits "certificate(s) + key" PEM text into its certificate chain and its key. */
export function splitPem(pem: string): { cert: string; key: string } {
  const certs = pem.match(CERT_RE);
  const key = pem.match(KEY_RE);
  if (!certs || !key) throw new Error('splitPem: expected a certificate and a private key');
  return { cert: `${certs.join('\n')}\n`, key: `${key[0]}\n` };
}

/** A unique temp dir under os.tmpdir() for PEM files; `remove()` deletes it. */
export class PemDir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sp-openssl-'));

  /** Writes `text` to `name` in the dir; returns its path. */
  write(name: string, text: string): string {
    const file = path.join(this.dir, name);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  }

  /** Writes a "cert + key" PEM as `<name>-cert.pem` and `<name>-key.pem`. */
  writePair(name: string, pem: string): { cert: string; key: string } {
    const { cert, key } = splitPem(pem);
    return { cert: this.write(`${name}-cert.pem`, cert), key: this.write(`${name}-key.pem`, key) };
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
