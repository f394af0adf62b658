// Runs one bench run: a server process and a client process, talking to the orchestrator
// over the line protocol of common.ts. Every wait is bounded; on a time-out both are killed.
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import type { PeerArgs, Target } from './common';

export type Message = Record<string, unknown> & { errors?: string[] };

/** Raises the fd limit as far as allowed (`ulimit -n` cannot be set from Node), then execs node. */
const ULIMIT = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"';

class PeerProcess {
  readonly child: ChildProcess;
  private readonly messages = new Map<string, Message>();
  private waiters: Array<() => void> = [];
  private stderr = '';
  readonly exited: Promise<number | null>;

  constructor(peerJs: string, args: PeerArgs, nodeFlags: string[], cpu: string | null) {
    const pin = cpu === null ? [] : ['taskset', '-c', cpu];
    this.child = spawn('bash', ['-c', ULIMIT, 'bash', ...pin, process.execPath, ...nodeFlags, peerJs, JSON.stringify(args)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin!.on('error', () => undefined); // a peer that died: its exit code and stderr tell
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const space = line.indexOf(' ');
      const kind = space < 0 ? line : line.slice(0, space);
      if (kind === 'READY' || kind === 'RESULT' || kind === 'FINAL') {
        this.messages.set(kind, JSON.parse(line.slice(space + 1)) as Message);
        this.wake();
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 4000) this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        this.wake();
        resolve(code);
      }),
    );
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  get errorText(): string {
    return this.stderr.trim();
  }

  get(kind: string): Message | undefined {
    return this.messages.get(kind);
  }

  /** The message, or undefined if the process exited or `ms` passed first. */
  async wait(kind: string, ms: number): Promise<Message | undefined> {
    const end = Date.now() + ms;
    while (!this.messages.has(kind) && this.child.exitCode === null && this.child.signalCode === null && Date.now() < end) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.messages.get(kind);
  }

  /** Tells a client where the server listens (it waits for this before it starts). */
  go(port: number): void {
    this.child.stdin!.write(`GO ${JSON.stringify({ port })}\n`);
  }

  /** Ends stdin (the peer quits: FINAL, exit) and waits; kills it if it takes longer than `ms`. */
  async quit(ms: number): Promise<void> {
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await this.exited;
    clearTimeout(t);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

export interface RunSpec {
  workload: string;
  impl: 'fw' | 'raw';
  server: string;
  client: string;
  target: Target;
  size: Record<string, number>;
  /** Whose RESULT carries the figure. */
  measuredBy: 'client' | 'server';
  timeoutMs: number;
  serverFlags?: string[];
  clientFlags?: string[];
  /** CPUs to pin the server and the client to (taskset -c), or null to let the OS place them. */
  pin: { server: string; client: string } | null;
}

export interface RunOutcome {
  /** The measuring side's RESULT (undefined on failure). */
  result?: Message;
  errors: string[];
  wallMs: number;
  /** CPU time of both processes (from their FINAL lines), or null if one is missing. */
  cpuMs: number | null;
  /** Each process's own CPU time (the DTLS figures give the server's per datagram or handshake). */
  serverCpuMs: number | null;
  clientCpuMs: number | null;
  /** The server's FINAL line (what its quit handler added). */
  serverFinal?: Message;
  /** The server's open-files limit. */
  fdLimit: number | null;
  /** Share of the machine's CPU capacity used by other processes during the run (0..1), or null. */
  otherLoad: number | null;
}

/** Busy and total CPU jiffies of the whole machine (Linux /proc/stat), or null elsewhere. */
function cpuJiffies(): { busy: number; total: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0); // idle + iowait
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user … steal
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

export async function runOnce(peerJs: string, spec: RunSpec): Promise<RunOutcome> {
  const started = Date.now();
  const jiffies0 = cpuJiffies();
  const errors: string[] = [];
  const base = { workload: '', impl: spec.impl, target: spec.target, size: spec.size };
  const server = new PeerProcess(peerJs, { ...base, workload: spec.server, role: 'server' }, spec.serverFlags ?? [], spec.pin?.server ?? null);
  // The client starts at once too (its code loads meanwhile) and waits for GO with the port.
  const client = new PeerProcess(peerJs, { ...base, workload: spec.client, role: 'client' }, spec.clientFlags ?? [], spec.pin?.client ?? null);
  let result: Message | undefined;
  try {
    const ready = await server.wait('READY', 15000);
    if (!ready) {
      errors.push(`server did not start: ${server.errorText || 'no READY line'}`);
      return { errors, wallMs: Date.now() - started, cpuMs: null, serverCpuMs: null, clientCpuMs: null, fdLimit: null, otherLoad: null };
    }
    client.go(Number(ready.port ?? 0));
    const measuring = spec.measuredBy === 'client' ? client : server;
    result = await measuring.wait('RESULT', spec.timeoutMs);
    if (!result) {
      const other = measuring === client ? server : client;
      errors.push(
        `no result within ${spec.timeoutMs} ms (${spec.measuredBy} ${measuring.child.exitCode === null ? 'still running: a hang' : `exited with ${measuring.child.exitCode}`})`,
      );
      for (const p of [measuring, other]) if (p.errorText) errors.push(p.errorText.split('\n').slice(0, 6).join(' | '));
    } else if (spec.measuredBy === 'server') {
      await client.wait('RESULT', spec.timeoutMs); // the client's own checks (echoes) must be done too
    }
    await client.quit(8000);
    await server.quit(8000);
  } finally {
    client.kill();
    server.kill();
  }
  for (const [who, p] of [
    ['server', server],
    ['client', client],
  ] as const) {
    const seen = new Set<string>();
    for (const kind of ['RESULT', 'FINAL']) {
      for (const e of p.get(kind)?.errors ?? []) {
        if (!seen.has(e)) errors.push(`${who}: ${e}`);
        seen.add(e);
      }
    }
    if (result && !p.get('FINAL')) errors.push(`${who} did not quit cleanly${p.errorText ? `: ${p.errorText.split('\n')[0]}` : ''}`);
  }
  const cpu = [server.get('FINAL')?.cpuMs, client.get('FINAL')?.cpuMs].map((x) => (typeof x === 'number' ? x : null));
  const [serverCpuMs, clientCpuMs] = cpu;
  const cpuMs = serverCpuMs !== null && clientCpuMs !== null ? serverCpuMs + clientCpuMs : null;
  // What the rest of the machine used meanwhile: all busy CPU time minus our two processes'.
  const jiffies1 = cpuJiffies();
  const wallMs = Date.now() - started;
  let otherLoad: number | null = null;
  if (jiffies0 && jiffies1 && cpuMs !== null && jiffies1.total > jiffies0.total) {
    const capacityMs = wallMs * cpus().length;
    const busyMs = ((jiffies1.busy - jiffies0.busy) / (jiffies1.total - jiffies0.total)) * capacityMs;
    otherLoad = Math.max(0, (busyMs - cpuMs) / capacityMs);
  }
  const fdLimit = typeof server.get('READY')?.fdLimit === 'number' ? (server.get('READY')!.fdLimit as number) : null;
  return { result, errors, wallMs, cpuMs, serverCpuMs, clientCpuMs, serverFinal: server.get('FINAL'), fdLimit, otherLoad };
}
