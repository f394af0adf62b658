// A bench server of several processes (the multi-core workloads of issue #17): the server peer
// becomes a `cluster` primary that forks `size.workers` workers, each running the ordinary server
// peer (framework or raw Node). Without `size.reusePort` the workers share the primary's handle
// (the primary accepts and hands connections round-robin); with it, each binds its own socket
// with SO_REUSEPORT on the port the first one got, and the kernel spreads connections. The
// primary prints READY once every worker listens, and on quit collects the workers' errors and
// CPU time into its FINAL line.
import cluster from 'node:cluster';
import { PeerArgs, PeerIo } from './common';

type Peer = (args: PeerArgs, io: PeerIo) => void;
interface WorkerLine {
  kind: string;
  body: { port?: number; errors?: string[]; cpuMs?: number };
}

export function serveClustered(args: PeerArgs, peer: Peer): void {
  const reusePort = args.size.reusePort === 1;
  if (cluster.isWorker) {
    const port = Number(process.env.BENCH_WORKER_PORT ?? 0);
    peer({ ...args, target: { ...args.target, port, reusePort } }, new PeerIo('ipc'));
    return;
  }
  const io = new PeerIo();
  const workers = args.size.workers;
  const finals = new Map<number, WorkerLine['body']>();
  let port = 0;
  const fork = (n: number): void => {
    // Shared handles: every worker asks for port 0 and gets the primary's one port. reusePort:
    // the first binds port 0, the others the port it got (a second socket in the group).
    const w = cluster.fork({ BENCH_WORKER_PORT: String(reusePort ? port : 0) });
    w.on('message', (line: WorkerLine) => {
      if (line.kind === 'READY') {
        if (n > 0 && line.body.port !== port) io.error(`worker ${n} listens on port ${line.body.port}, not ${port}`);
        port = line.body.port ?? 0;
        if (n + 1 < workers) fork(n + 1);
        else io.ready({ port, workers });
      } else if (line.kind === 'FINAL') finals.set(w.id, line.body);
    });
  };
  fork(0);
  io.onQuit(async () => {
    const all = Object.values(cluster.workers ?? {});
    for (const w of all) w?.send('quit');
    const end = Date.now() + 8000;
    while (finals.size < all.length && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
    let childCpuMs = 0;
    for (const [id, body] of finals) {
      childCpuMs += body.cpuMs ?? 0;
      for (const e of body.errors ?? []) io.error(`worker ${id}: ${e}`);
    }
    if (finals.size < all.length) io.error(`${all.length - finals.size} worker(s) did not quit cleanly`);
    return { childCpuMs, workers: all.length };
  });
}
