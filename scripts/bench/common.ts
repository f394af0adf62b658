// Shared by the bench peers (framework and raw Node alike): the line protocol between a peer
// process and the orchestrator, the data patterns, and the correctness checks. Nothing here
// favours either side: both call the same checks on the same bytes.
import { readFileSync } from 'node:fs';

/** The block size of every bulk workload: 64 KiB sends, 64 KiB (partial) receives. */
export const BLOCK = 64 * 1024;
/** Ping-pong message size. */
export const PING = 64;
/** UDP datagram size. */
export const DGRAM = 512;
/** SO_RCVBUF / SO_SNDBUF of every UDP socket, framework (its default) and raw alike. */
export const UDP_BUFFER = 1 << 20;

/** Which transport a stream workload runs over. */
export type StreamKind = 'tcp' | 'tls' | 'local';

/** Where a peer finds the server and the TLS material. */
export interface Target {
  kind: StreamKind | 'udp';
  /** TCP/TLS/UDP: 127.0.0.1 and the server's port (0 for the server itself). */
  port: number;
  /** Local sockets: the socket file. */
  path: string;
  /** Files written by the orchestrator: the CA certificate and the server's certificate+key. */
  caFile: string;
  serverPemFile: string;
  /** Server: bind with SO_REUSEPORT (the multi-core workloads, multicore.ts). */
  reusePort?: boolean;
}

/** Everything a peer is told on its command line (one JSON argument). */
export interface PeerArgs {
  workload: string;
  impl: 'fw' | 'raw';
  role: 'server' | 'client';
  target: Target;
  /** Workload sizes (bytes, rounds, connections…). */
  size: Record<string, number>;
}

export function readPem(file: string): string {
  return readFileSync(file, 'utf8');
}

// ---- the line protocol ----------------------------------------------------------------------

/**
 * How a peer talks to the orchestrator: one JSON line per message on stdout (`READY`, `RESULT`,
 * `FINAL`). The orchestrator ends the peer's stdin when it is done with it; the peer then runs
 * its quit handler (closing its sockets), prints `FINAL` with the errors it saw, and exits.
 */
export class PeerIo {
  private readonly errors: string[] = [];
  private quitHandler: () => Promise<Record<string, unknown>> | Record<string, unknown> = () => ({});
  private readonly started = Date.now();
  /** CPU time is counted from here (after the modules were loaded), for the FINAL line. */
  private readonly cpu0 = process.cpuUsage();

  private goHandler: ((port: number) => void) | null = null;
  private pendingPort: number | null = null;

  /**
   * `ipc`: a worker of a clustered server (multicore.ts): its lines go to the primary over IPC,
   * and the primary's `quit` message means quit; stdin is the primary's.
   */
  constructor(private readonly channel: 'stdio' | 'ipc' = 'stdio') {
    if (channel === 'ipc') {
      process.on('message', (msg) => {
        if (msg === 'quit') void this.quit();
      });
      return;
    }
    // stdin carries `GO {"port": N}` (clients) and then its end, which means quit.
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      text += chunk;
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (line.startsWith('GO ')) this.go((JSON.parse(line.slice(3)) as { port: number }).port);
      }
    });
    process.stdin.on('end', () => void this.quit());
  }

  /** Client: `fn` runs once the orchestrator said GO, with the server's port. */
  onGo(fn: (port: number) => void): void {
    this.goHandler = fn;
    if (this.pendingPort !== null) fn(this.pendingPort);
  }

  private go(port: number): void {
    if (this.goHandler) this.goHandler(port);
    else this.pendingPort = port;
  }

  private send(kind: string, body: unknown, then?: () => void): void {
    if (this.channel === 'ipc') {
      process.send!({ kind, body }, undefined, undefined, () => then?.());
      return;
    }
    process.stdout.write(`${kind} ${JSON.stringify(body)}\n`);
    then?.();
  }

  ready(info: Record<string, unknown> = {}): void {
    this.send('READY', { ...info, fdLimit: fdLimit() });
  }

  /**
   * The figures. With `ms` (the measured time, ending now), the line also carries the measured
   * window on the monotonic clock in µs (`windowUs`), which V8's .cpuprofile timestamps share:
   * `--profile` counts only the samples inside it.
   */
  result(info: Record<string, unknown>): void {
    const nowUs = Number(process.hrtime.bigint() / 1000n);
    const windowUs = typeof info.ms === 'number' ? [nowUs - Math.round(info.ms * 1000), nowUs] : undefined;
    this.send('RESULT', { ...info, windowUs, errors: [...this.errors] });
  }

  /** An error worth reporting (unexpected shutdown reason, wrong bytes…); kept, sent with FINAL. */
  error(message: string): void {
    if (this.errors.length < 20) this.errors.push(message);
    else if (this.errors.length === 20) this.errors.push('(more errors not listed)');
  }

  get errorCount(): number {
    return this.errors.length;
  }

  onQuit(handler: () => Promise<Record<string, unknown>> | Record<string, unknown>): void {
    this.quitHandler = handler;
  }

  private async quit(): Promise<void> {
    let extra: Record<string, unknown> = {};
    try {
      extra = await this.quitHandler();
    } catch (err) {
      this.error(`quit: ${String(err)}`);
    }
    const cpu = process.cpuUsage(this.cpu0);
    // A clustered server's primary adds its workers' CPU time (`childCpuMs`).
    const cpuMs = (cpu.user + cpu.system) / 1000 + (typeof extra.childCpuMs === 'number' ? extra.childCpuMs : 0);
    this.send('FINAL', { ...extra, errors: this.errors, aliveMs: Date.now() - this.started, cpuMs }, () => process.exit(0));
  }
}

/** The soft limit on open files of this process (Linux), or null. */
function fdLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    return line ? Number(line.split(/\s+/)[3]) : null;
  } catch {
    return null;
  }
}

/** Milliseconds since `start` (a `process.hrtime.bigint()` value). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Resolves after `ms`, or when `cond()` holds, polling every 10 ms. */
export function waitUntil(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve) => {
    const tick = (): void => {
      if (cond() || Date.now() >= end) resolve();
      else setTimeout(tick, 10);
    };
    tick();
  });
}

// ---- bulk data: stamped 64 KiB blocks -------------------------------------------------------

/** A 64 KiB block of filler; {@link stampBlock} writes its header and tail. */
export function makeBlock(): Buffer {
  const b = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

/** Header: connection id and block index (two u32 LE); tail byte: the block index's low byte. */
export function stampBlock(b: Uint8Array, connId: number, blockIndex: number): void {
  b[0] = connId & 0xff;
  b[1] = (connId >>> 8) & 0xff;
  b[2] = (connId >>> 16) & 0xff;
  b[3] = connId >>> 24;
  b[4] = blockIndex & 0xff;
  b[5] = (blockIndex >>> 8) & 0xff;
  b[6] = (blockIndex >>> 16) & 0xff;
  b[7] = blockIndex >>> 24;
  b[BLOCK - 1] = blockIndex & 0xff;
}

const u32 = (b: Uint8Array, o: number): number => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

/**
 * Checks a received byte stream of stamped blocks, however it is cut into chunks: every block
 * header must name the same connection and the next block index, and every block's last byte
 * its index. Lost, duplicated, reordered or shifted bytes show up as errors. The cost is a few
 * operations per 64 KiB, the same for both implementations.
 */
export class StreamChecker {
  offset = 0;
  connId = -1;
  errors = 0;
  firstError = '';
  private readonly hdr = new Uint8Array(8);

  feed(b: Uint8Array, len: number): void {
    let i = 0;
    while (i < len) {
      const pos = this.offset % BLOCK;
      if (pos < 8) {
        const take = Math.min(8 - pos, len - i);
        for (let k = 0; k < take; k++) this.hdr[pos + k] = b[i + k];
        i += take;
        this.offset += take;
        if (pos + take === 8) this.checkHeader();
      } else {
        const take = Math.min(BLOCK - pos, len - i);
        i += take;
        this.offset += take;
        if (pos + take === BLOCK) {
          const index = Math.floor((this.offset - 1) / BLOCK);
          if (b[i - 1] !== (index & 0xff)) this.fail(`block ${index}: wrong tail byte ${b[i - 1]}`);
        }
      }
    }
  }

  private checkHeader(): void {
    const index = Math.floor(this.offset / BLOCK);
    const id = u32(this.hdr, 0);
    const got = u32(this.hdr, 4);
    if (this.connId < 0) this.connId = id;
    if (id !== this.connId || got !== index) this.fail(`block ${index}: header says connection ${id} block ${got}`);
  }

  private fail(msg: string): void {
    if (this.errors++ === 0) this.firstError = msg;
  }
}

// ---- ping-pong messages ---------------------------------------------------------------------

/** Writes message `round` into `b` (64 bytes, every byte depends on the round). */
export function fillPing(b: Uint8Array, round: number): void {
  for (let j = 0; j < PING; j++) b[j] = (round * 7 + j) & 0xff;
  b[0] = round & 0xff;
  b[1] = (round >>> 8) & 0xff;
  b[2] = (round >>> 16) & 0xff;
  b[3] = round >>> 24;
}

/** Whether the first 64 bytes of `a` (from `ao`) and `b` are equal. */
export function samePing(a: Uint8Array, ao: number, b: Uint8Array): boolean {
  for (let j = 0; j < PING; j++) if (a[ao + j] !== b[j]) return false;
  return true;
}

// ---- UDP: which sequence numbers came back -------------------------------------------------

/** Datagram `seq`: u32 sequence number, then filler that depends on it. */
export function fillDatagram(b: Uint8Array, seq: number): void {
  b[0] = seq & 0xff;
  b[1] = (seq >>> 8) & 0xff;
  b[2] = (seq >>> 16) & 0xff;
  b[3] = seq >>> 24;
  b[DGRAM - 1] = (seq * 13) & 0xff;
}

/** Counts echoed datagrams: each sequence number once, sent before, with its own filler. */
export class DatagramTally {
  got = 0;
  bad = 0;
  dup = 0;
  private readonly seen: Uint8Array;
  constructor(readonly total: number) {
    this.seen = new Uint8Array(total);
  }
  take(b: Uint8Array, len: number, sent: number): void {
    const seq = u32(b, 0);
    if (len !== DGRAM || seq >= sent || b[DGRAM - 1] !== ((seq * 13) & 0xff)) {
      this.bad++;
      return;
    }
    if (this.seen[seq]) {
      this.dup++;
      return;
    }
    this.seen[seq] = 1;
    this.got++;
  }
}
