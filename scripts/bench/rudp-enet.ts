// ENet for the rudp bench (issue #20): builds enet-peer.c with the system cc against Debian's
// libenet-dev (installed with apt-get when missing, if we are root and apt is there), and runs
// it as a bench peer. Nothing here may fail the bench: without a compiler or the library the
// ENet columns are skipped with a note saying why.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerArgs } from './common';
import { clientPort } from './relay';

const HEADER = '/usr/include/enet/enet.h';

/** Runs a command (bounded); its output's first line on failure, null on success. */
function run(cmd: string, args: string[], timeoutMs: number): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.error) return r.error.message;
  if (r.status !== 0) return `${cmd} ${args.join(' ')}: exit ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0] ?? ''}`;
  return null;
}

/** Installs libenet-dev when it is missing and we may; a note on what happened, or null when it was there. */
function ensureLibrary(): string | null {
  if (existsSync(HEADER)) return null;
  const root = process.getuid?.() === 0;
  if (!root || !existsSync('/usr/bin/apt-get'))
    return `libenet-dev is not installed (${HEADER} missing) and ${root ? 'apt-get is not here' : 'we are not root'}: install it to compare with ENet`;
  const failed =
    run('apt-get', ['install', '-y', '-q', 'libenet-dev'], 300_000) &&
    (run('apt-get', ['update', '-q'], 300_000) ?? run('apt-get', ['install', '-y', '-q', 'libenet-dev'], 300_000));
  return failed ? `apt-get install libenet-dev failed (${failed})` : 'installed libenet-dev with apt-get';
}

export interface EnetBuild {
  /** The peer binary, or null when ENet is skipped. */
  binary: string | null;
  /** What the report says about ENet: its version, or why it is skipped. */
  note: string;
}

/** Builds `scripts/bench/enet-peer.c` into `outDir/enet-peer` (next to the transpiled rudp-peer.js). */
export function buildEnetPeer(source: string, outDir: string): EnetBuild {
  const installed = ensureLibrary();
  if (!existsSync(HEADER)) return { binary: null, note: `ENet skipped: ${installed}` };
  const binary = join(outDir, 'enet-peer');
  const cc = process.env.CC || 'cc';
  const failed = run(cc, ['-O2', '-o', binary, source, '-lenet'], 120_000);
  if (failed) return { binary: null, note: `ENet skipped: building enet-peer.c failed (${failed})` };
  const version = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'libenet-dev'], { encoding: 'utf8' }).stdout?.trim();
  return { binary, note: `ENet ${version || '(version unknown)'} from libenet-dev, built with ${cc} -O2${installed ? `; ${installed}` : ''}` };
}

/**
 * A bench peer that is the ENet binary: `workload` is `enet-ROLE-WORKLOAD`'s last part. The
 * binary speaks the line protocol itself on the same stdout; this process reads the client's
 * GO (and puts the relay in front when asked), passes stdin's end on, and exits with it.
 */
export function runEnetPeer(args: PeerArgs, workload: string): void {
  const binary = join(__dirname, 'enet-peer');
  const params = Object.entries(args.size).map(([k, v]) => `${k}=${v}`);
  let ended = false;
  let child: ReturnType<typeof spawn> | null = null;
  process.stdin.on('end', () => {
    ended = true;
    child?.stdin?.end();
  });
  const start = (port: number | null): void => {
    const argv = [args.role, workload, ...params, 'limit=600', ...(port === null ? [] : [`port=${port}`])];
    child = spawn(binary, argv, { stdio: ['pipe', 'inherit', 'inherit'] });
    child.on('exit', (code) => process.exit(code ?? 1));
    if (ended) child.stdin?.end();
  };
  process.stdin.setEncoding('utf8');
  if (args.role === 'server') {
    process.stdin.resume();
    start(null);
    return;
  }
  let text = '';
  const onData = (chunk: string): void => {
    text += chunk;
    const m = /^GO (.*)$/m.exec(text);
    if (!m) return;
    process.stdin.off('data', onData);
    process.stdin.resume();
    void clientPort(args.size, (JSON.parse(m[1]) as { port: number }).port).then(start, (err: Error) => {
      process.stderr.write(`enet client: ${err.message}\n`);
      process.exit(1);
    });
  };
  process.stdin.on('data', onData);
}
