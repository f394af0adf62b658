/**
 * The `socket-provider` command line as a real child process, for the spec/cli tests.
 *
 * lib/ is transpiled once per test file (what `ts-node --transpile-only` does, without its
 * second of start-up in every child), so each run of the tool costs a plain `node` start.
 * Every wait is bounded; `stopAllCli()` in afterEach kills what a failed test left running.
 */
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { withTimeout } from '../helpers/net-helpers';

export const ROOT = path.join(__dirname, '..', '..');
const WAIT_MS = 15000;

/** The transpiled tool of this test file: a temp dir mirroring lib/ in JavaScript. */
export class CliBuild {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sp-cli-'));
  readonly main = path.join(this.dir, 'cli', 'main.js');

  constructor() {
    const lib = path.join(ROOT, 'lib');
    const compilerOptions = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true };
    for (const file of tsFiles(lib)) {
      const out = path.join(this.dir, path.relative(lib, file)).replace(/\.ts$/, '.js');
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions, fileName: file }).outputText);
    }
  }

  /** Starts `socket-provider ...args`. */
  run(args: string[]): CliProcess {
    return new CliProcess(process.execPath, [this.main, ...args]);
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

const running = new Set<CliProcess>();

/** One run of the tool (or of a peer such as socat): stdout gathered as bytes, stderr as text. */
export class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly outChunks: Buffer[] = [];
  private outBytes = 0;
  private err = '';
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  exited = false;
  private readonly waits = new Set<() => void>();

  constructor(
    readonly command: string,
    readonly args: string[],
  ) {
    // NODE_PATH: the transpiled lib lives in a temp dir, its dependencies in the repository.
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') };
    delete env.SOCKET_PROVIDER_LOG;
    this.child = spawn(command, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(this);
    this.child.stdout.on('data', (d: Buffer) => {
      this.outChunks.push(d);
      this.outBytes += d.length;
      this.poke();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (d: string) => {
      this.err += d;
      this.poke();
    });
    this.child.stdin.on('error', () => undefined); // the tool may exit before reading it all
    this.child.on('error', (e) => {
      this.err += `\n[spawn error: ${e.message}]`;
      this.exited = true;
      running.delete(this);
      this.poke();
    });
    this.child.on('exit', (code, signal) => {
      this.exitCode = code;
      this.exitSignal = signal;
      this.exited = true;
      running.delete(this);
      this.poke();
    });
  }

  get stdout(): Buffer {
    return Buffer.concat(this.outChunks);
  }

  get stdoutBytes(): number {
    return this.outBytes;
  }

  get stderr(): string {
    return this.err;
  }

  /** Everything the run said, for failure messages. */
  describe(): string {
    const out = this.stdout;
    return `${path.basename(this.command)} ${this.args.join(' ')}\n--- exit: ${this.exited ? `${this.exitCode} ${this.exitSignal ?? ''}` : 'running'}\n--- stdout: ${out.length} bytes: ${JSON.stringify(out.subarray(0, 200).toString('latin1'))}\n--- stderr:\n${this.err.slice(-4000)}`;
  }

  private poke(): void {
    for (const w of [...this.waits]) w();
  }

  /** Resolves once `check()` holds (re-checked on output and exit); fails with the run's output. */
  until(check: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    let w: () => void = () => undefined;
    const p = new Promise<void>((resolve, reject) => {
      w = () => {
        if (check()) resolve();
        else if (this.exited) reject(new Error(`the tool exited while waiting for ${what}`));
      };
      this.waits.add(w);
      w();
    });
    return withTimeout(p, ms, what)
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${this.describe()}`);
      })
      .finally(() => this.waits.delete(w));
  }

  /** Waits for stderr to match `re`; resolves with the match. */
  async stderrMatch(re: RegExp, ms = WAIT_MS): Promise<RegExpMatchArray> {
    await this.until(() => re.test(this.err), `stderr ${re}`, ms);
    return this.err.match(re) as RegExpMatchArray;
  }

  /** Waits for the "listening on HOST:PORT" line of listen; resolves with the port. */
  async listeningPort(ms = WAIT_MS): Promise<number> {
    const m = await this.stderrMatch(/listening on (?:\[[^\]]*\]|[^\s:]*):(\d+)\n/, ms);
    return Number(m[1]);
  }

  /** Waits for `n` bytes on stdout. */
  stdoutAtLeast(n: number, ms = WAIT_MS): Promise<void> {
    return this.until(() => this.outBytes >= n, `${n} bytes on stdout (have ${this.outBytes})`, ms);
  }

  /** Waits for the exit; resolves with the exit code (null if killed by a signal). */
  async exit(ms = WAIT_MS): Promise<number | null> {
    await this.until(() => this.exited, 'the tool to exit', ms);
    return this.exitCode;
  }

  /** Writes to the tool's stdin; resolves once the pipe took it (backpressure respected). */
  write(data: Uint8Array | string): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve, reject) => this.child.stdin.write(data, (err) => (err ? reject(err) : resolve()))),
      WAIT_MS,
      'the tool to take stdin',
    );
  }

  /** Ends the tool's stdin (EOF). */
  end(data?: Uint8Array | string): void {
    if (data !== undefined) this.child.stdin.end(data);
    else this.child.stdin.end();
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exited) this.child.kill(signal);
  }
}

/** Starts `socat ...args` as a peer. */
export function runSocat(args: string[]): CliProcess {
  return new CliProcess('socat', args);
}

/**
 * The tool for one test file: transpiled in beforeAll, removed in afterAll; after each test
 * every run still going is killed, then `cleanup` runs (the file's own peers).
 */
export function useCli(cleanup: () => unknown = () => undefined): { run(args: string[]): CliProcess } {
  let build: CliBuild | null = null;
  beforeAll(() => {
    build = new CliBuild();
  }, 30000);
  afterAll(() => build?.remove());
  afterEach(async () => {
    await stopAllCli();
    await cleanup();
  });
  return {
    run(args: string[]): CliProcess {
      if (!build) throw new Error('useCli: run() before beforeAll');
      return build.run(args);
    },
  };
}

/** Kills every run still going and waits (bounded) for each to exit. */
export async function stopAllCli(): Promise<void> {
  const all = [...running];
  for (const p of all) p.kill();
  await Promise.all(all.map((p) => p.exit(5000).catch(() => undefined)));
}
