/**
 * A helper process for the soak and memory tests: a TypeScript file of this folder run by Node
 * through ts-node (transpile only). It talks in JSON lines: it writes one object per line on
 * stdout, and reads commands as JSON lines on stdin.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { withTimeout } from '../../helpers/net-helpers';

export interface ChildMessage {
  type: string;
  [key: string]: unknown;
}

export class Child {
  private readonly proc: ChildProcess;
  private readonly messages: ChildMessage[] = [];
  private readonly waits = new Set<() => void>();
  private stderr = '';
  private buffered = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** Starts `node [nodeArgs] -r ts-node/register/transpile-only <this folder>/<file> [args]`. */
  constructor(file: string, args: string[], nodeArgs: string[] = []) {
    const root = path.resolve(__dirname, '../../..');
    this.proc = spawn(process.execPath, [...nodeArgs, '-r', 'ts-node/register/transpile-only', path.join(__dirname, file), ...args], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
    });
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl).trim();
        this.buffered = this.buffered.slice(nl + 1);
        if (!line) continue;
        try {
          this.messages.push(JSON.parse(line) as ChildMessage);
        } catch {
          this.stderr += `(stdout, not JSON) ${line}\n`;
        }
        for (const w of [...this.waits]) w();
      }
    });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited.then(() => {
      for (const w of [...this.waits]) w();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** What the child wrote on stderr so far (for failure messages). */
  get errors(): string {
    return this.stderr;
  }

  send(command: object): void {
    this.proc.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** The first message of `type` not taken yet (bounded); fails early if the child exits. */
  async next(type: string, ms: number): Promise<ChildMessage> {
    let exited = false;
    this.exited.then(() => (exited = true));
    const take = (): ChildMessage | null => {
      const i = this.messages.findIndex((m) => m.type === type);
      return i >= 0 ? this.messages.splice(i, 1)[0] : null;
    };
    const found = take();
    if (found) return found;
    let w: () => void = () => undefined;
    const p = new Promise<ChildMessage>((resolve, reject) => {
      w = () => {
        const m = take();
        if (m) resolve(m);
        else if (exited) reject(new Error(`the child exited before sending ${type}; stderr:\n${this.stderr}`));
      };
      this.waits.add(w);
    });
    return withTimeout(p, ms, `the child to send ${type} (stderr so far:\n${this.stderr})`).finally(() => this.waits.delete(w));
  }

  /** Ends the child: closes its stdin, then kills it if it has not exited within `ms`. */
  async stop(ms = 5000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.stdin!.end();
    try {
      await withTimeout(this.exited, ms, 'the child to exit');
    } catch {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** In a child: writes one message line. */
export function emit(message: ChildMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}
