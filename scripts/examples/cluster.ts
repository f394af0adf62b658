// Serving one TCP port from several processes with Node's `cluster` (docs/multicore.md).
// The primary forks the workers, starts a new one when a worker dies, and drains on SIGTERM:
// each worker stops accepting, lets its open connections finish, and exits. Each worker runs
// an ordinary listener: in a worker, bind() shares the primary's handle (the primary accepts
// and hands connections round-robin), so the workers' bind(…, 0) all get the same port.
// To show the life in one run, the primary here is also the load: it runs clients, then sends
// itself SIGTERM. (Kill a worker with `kill -9` while it runs to see one replaced.)
import cluster, { Worker } from 'node:cluster';
import { createTcpSocketProvider, ISocket, USocket } from '../../lib';

const WORKERS = 2;
const tcp = createTcpSocketProvider();

// ---- worker: an echo listener, drained on request --------------------------------------------

class Echo extends USocket {
  private readonly buf = new Uint8Array(1024);
  override socketAcceptComplete(s: ISocket) { s.recv(this.buf, 1024, true); }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) { s.send(buf, n); } // read again once it is sent
  override socketSendResult(s: ISocket) { s.recv(this.buf, 1024, true); }
  socketShutdown() { live--; exitWhenDrained(); }
}

class Listener extends USocket {
  override socketBindResult(s: ISocket, _addr: string, port: number) { s.listen(); process.send!({ ready: port }); }
  override socketListenResult(s: ISocket) { live++; s.accept(new Echo()); }
  socketShutdown() { stopped = true; exitWhenDrained(); }
}

let live = 0;
let stopped = false;
// Stopped accepting and no connection left: leave the cluster (the process then exits by itself).
function exitWhenDrained() { if (stopped && live === 0 && process.connected) process.disconnect(); }

function worker() {
  const listener = tcp.createSocket(new Listener());
  listener.bind('127.0.0.1', 0);
  process.on('message', (msg) => { if (msg === 'drain') listener.shutdown(); });
}

// ---- primary: fork, restart what dies, drain on SIGTERM --------------------------------------

let draining = false;
const ready = new Map<Worker, number>();

function fork(onReady: (port: number) => void) {
  const w = cluster.fork();
  w.on('message', (msg: { ready?: number }) => {
    if (msg.ready === undefined) return;
    ready.set(w, msg.ready);
    onReady(msg.ready);
  });
}

function primary() {
  cluster.on('exit', (w, code, signal) => {
    ready.delete(w);
    if (draining) {
      if (Object.keys(cluster.workers ?? {}).length === 0) console.log('primary: every worker drained and exited');
      return;
    }
    console.log(`primary: a worker died (${signal ?? code}); starting a new one`);
    fork(() => console.log('primary: the new worker listens'));
  });
  process.once('SIGTERM', () => {
    draining = true;
    console.log('primary: SIGTERM, draining the workers');
    for (const w of Object.values(cluster.workers ?? {})) w?.send('drain');
  });
  let started = 0;
  for (let i = 0; i < WORKERS; i++) {
    fork(() => {
      if (++started < WORKERS) return;
      const ports = new Set(ready.values());
      console.log(`primary: ${WORKERS} workers listening on ${ports.size} port`);
      load(() => process.kill(process.pid, 'SIGTERM'));
    });
  }
}

// 20 clients, each sends a line and checks the echo.
function load(then: () => void) {
  const port = [...ready.values()][0];
  const result = { left: 20, good: 0 };
  for (let i = 0; i < 20; i++) {
    tcp.createSocket(new Client(Buffer.from(`client ${i} says hello\n`), result, () => {
      console.log(`primary: ${result.good} of 20 clients echoed`);
      then();
    })).connect(`127.0.0.1:${port}`);
  }
}

class Client extends USocket {
  constructor(private readonly text: Buffer, private readonly result: { left: number; good: number }, private readonly done: () => void) { super(); }
  override socketConnectComplete(s: ISocket) { s.send(this.text); s.recv(new Uint8Array(this.text.length)); }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) { if (Buffer.from(buf.subarray(0, n)).equals(this.text)) this.result.good++; s.shutdown(); }
  socketShutdown() { if (--this.result.left === 0) this.done(); }
}

if (cluster.isPrimary) primary();
else worker();
