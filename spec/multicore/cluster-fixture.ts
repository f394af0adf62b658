// Run by spec/multicore/cluster.spec.ts as `node -r ts-node/register/transpile-only cluster-fixture.ts
// <socketDir> [--reuse-port]`. The primary forks 2 workers; each worker serves an echo on a TCP, a
// TLS, a UDP and a local listener (TCP/TLS/UDP on one port shared by both workers; local: one path
// per worker). The primary then runs 100 clients of each kind with the library, checks every byte
// echoed, tells the workers to drain, collects each worker's report (how many connections and
// datagrams it served, and the end reason of every socket it had) over IPC, prints one JSON line
// and exits 0. With --reuse-port, the TCP, TLS and UDP listeners set the reusePort option: where
// the running Node has it, each worker has its own socket in the port's SO_REUSEPORT group; where
// it does not, the workers report the SocketStateError code instead. A watchdog ends it after 75 s.
import cluster, { Worker } from 'node:cluster';
import * as path from 'node:path';
import {
  createLocalSocketProvider,
  createTcpSocketProvider,
  createTlsSocketProvider,
  createUdpSocketProvider,
  ISocket,
  ISocketProvider,
  SocketOptions,
  USocket,
} from '../../lib';
import { makeTestPki } from '../../scripts/certs';

export const CLIENTS = 100;
export const DATAGRAMS_PER_UDP_CLIENT = 5;
const KINDS = ['tcp', 'tls', 'local', 'udp'] as const;
type Kind = (typeof KINDS)[number];

/** A worker's account of what it served, sent to the primary before it exits. */
export interface WorkerReport {
  worker: number;
  /** Accepted connections (stream kinds) or datagrams echoed (udp), by kind. */
  served: Record<Kind, number>;
  /** End reasons of every accepted socket, by kind: reason -> count. */
  acceptedEnds: Record<string, Record<string, number>>;
  /** End reason of each listener (and of the bound UDP socket). */
  listenerEnds: Record<string, string>;
  /** `address:port` of every UDP peer whose datagrams reached this worker. */
  udpPeers: string[];
}

export interface FixtureResult {
  reusePort: boolean;
  /** Set when the workers could not make their listeners (reusePort unavailable): the error codes. */
  refused: string[];
  /** Clients whose every byte came back, by kind. */
  clientsOk: Record<Kind, number>;
  /** End reasons of the client sockets, by kind. */
  clientEnds: Record<string, Record<string, number>>;
  /** Problems the primary saw (a wrong byte, a client that ended early…). */
  problems: string[];
  workers: WorkerReport[];
}

const [socketDir = '/tmp', flag] = process.argv.slice(2);
const reusePort = flag === '--reuse-port';

/** The payload of client `i`: its length and bytes differ per client, so a mixed-up echo shows. */
function payload(kind: Kind, i: number): Buffer {
  const len = kind === 'udp' ? 64 + i : 2000 + i * 37;
  const out = Buffer.alloc(len);
  for (let k = 0; k < len; k++) out[k] = (i * 31 + k * 7 + kind.length) & 0xff;
  return out;
}

function count(map: Record<string, Record<string, number>>, kind: string, reason: string): void {
  const byReason = (map[kind] ??= {});
  byReason[reason] = (byReason[reason] ?? 0) + 1;
}

// ---- worker ---------------------------------------------------------------------------------

interface StartMessage {
  type: 'start';
  ports: { tcp: number; tls: number; udp: number };
  serverPem: string;
}

function runWorker(): void {
  const id = cluster.worker!.id;
  const report: WorkerReport = {
    worker: id,
    served: { tcp: 0, tls: 0, local: 0, udp: 0 },
    acceptedEnds: {},
    listenerEnds: {},
    udpPeers: [],
  };
  const udpPeers = new Set<string>();
  const listeners: ISocket[] = [];
  let liveAccepted = 0;
  let draining = false;

  const finishIfDone = (): void => {
    if (!draining || liveAccepted > 0 || Object.keys(report.listenerEnds).length < listeners.length) return;
    report.udpPeers = [...udpPeers];
    process.send!({ type: 'report', report }, () => process.exit(0));
  };

  class Echo extends USocket {
    private readonly buf = new Uint8Array(64 * 1024);
    constructor(private readonly kind: Kind) {
      super();
    }
    override socketAcceptComplete(s: ISocket): void {
      s.recv(this.buf, undefined, true);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
      s.send(b, n);
      s.recv(this.buf, undefined, true);
    }
    override socketShutdown(_s: ISocket, reason: string): void {
      count(report.acceptedEnds, this.kind, reason);
      liveAccepted--;
      finishIfDone();
    }
  }

  class ListenerUser extends USocket {
    private readonly buf = new Uint8Array(64 * 1024);
    constructor(
      private readonly kind: Kind,
      private readonly onBound: (port: number) => void,
    ) {
      super();
    }
    override socketBindResult(s: ISocket, _addr: string, port: number): void {
      if (this.kind === 'udp') s.recv(this.buf);
      else s.listen();
      this.onBound(port);
    }
    override socketListenResult(s: ISocket): void {
      report.served[this.kind]++;
      liveAccepted++;
      s.accept(new Echo(this.kind));
    }
    override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number, addr: string, port: number): void {
      report.served.udp++;
      udpPeers.add(`${addr}:${port}`);
      s.sendTo(b, n, addr, port);
      s.recv(this.buf);
    }
    override socketShutdown(_s: ISocket, reason: string): void {
      report.listenerEnds[this.kind] = reason;
      if (!draining) process.send!({ type: 'failed', worker: id, kind: this.kind, reason });
      finishIfDone();
    }
  }

  process.on('message', (msg: StartMessage | { type: 'drain' }) => {
    if (msg.type === 'drain') {
      draining = true;
      for (const l of listeners) l.shutdown();
      return;
    }
    const tls = createTlsSocketProvider();
    const context = tls.createSocketContext();
    context.setServerCertificate(msg.serverPem);
    const extra: SocketOptions = reusePort ? { reusePort: true } : {};
    const made: Array<[Kind, ISocketProvider, SocketOptions, string | null, number]> = [
      ['tcp', createTcpSocketProvider(), extra, '127.0.0.1', msg.ports.tcp],
      ['tls', tls, { ...extra, context }, '127.0.0.1', msg.ports.tls],
      ['udp', createUdpSocketProvider(), extra, '127.0.0.1', msg.ports.udp],
      ['local', createLocalSocketProvider(), {}, path.join(socketDir, `w${id}.sock`), 0],
    ];
    const ports: Record<string, number> = {};
    let bound = 0;
    try {
      for (const [kind, provider, options, address, port] of made) {
        const socket = provider.createSocket(
          new ListenerUser(kind, (p) => {
            ports[kind] = p;
            if (++bound === made.length) process.send!({ type: 'ready', worker: id, ports, path: path.join(socketDir, `w${id}.sock`) });
          }),
          options,
        );
        listeners.push(socket);
        socket.bind(address, port);
      }
    } catch (err) {
      for (const l of listeners) l.shutdown();
      process.send!({ type: 'refused', worker: id, code: (err as { code?: string }).code ?? String(err) }, () => process.exit(0));
    }
  });
}

// ---- primary --------------------------------------------------------------------------------

function runPrimary(): void {
  const result: FixtureResult = {
    reusePort,
    refused: [],
    clientsOk: { tcp: 0, tls: 0, local: 0, udp: 0 },
    clientEnds: {},
    problems: [],
    workers: [],
  };
  const watchdog = setTimeout(() => {
    result.problems.push('watchdog: not done within 75 s');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    console.log(JSON.stringify(result));
    process.exit(2);
  }, 75_000);

  const workers: Worker[] = [];
  const paths: string[] = [];
  let pki: Awaited<ReturnType<typeof makeTestPki>>;

  const startWorker = (ports: StartMessage['ports'], then: (ports: StartMessage['ports']) => void): void => {
    const w = cluster.fork();
    workers.push(w);
    w.on('message', (msg: { type: string; ports?: StartMessage['ports']; path?: string; code?: string; report?: WorkerReport }) => {
      if (msg.type === 'ready') {
        paths.push(msg.path!);
        then(msg.ports!);
      } else if (msg.type === 'refused') {
        result.refused.push(msg.code!);
        then(ports);
      } else if (msg.type === 'failed') {
        result.problems.push(`worker listener ended before the drain: ${JSON.stringify(msg)}`);
        drain();
      } else if (msg.type === 'report') {
        result.workers.push(msg.report!);
      }
    });
    w.once('online', () => w.send({ type: 'start', ports, serverPem: pki.server } satisfies StartMessage));
  };

  let exited = 0;
  cluster.on('exit', () => {
    if (++exited < 2) return;
    clearTimeout(watchdog);
    console.log(JSON.stringify(result));
    process.exit(0);
  });

  const drain = (): void => {
    for (const w of workers) w.send({ type: 'drain' });
  };

  void makeTestPki().then((made) => {
    pki = made;
    // Shared handles: both workers bind port 0 and get the same port, as Node's cluster keys the
    // primary's handle by the address and port asked for. reusePort: the first worker binds port
    // 0, the second the ports the first got (a second socket in the same SO_REUSEPORT group).
    startWorker({ tcp: 0, tls: 0, udp: 0 }, (ports) =>
      startWorker(reusePort ? ports : { tcp: 0, tls: 0, udp: 0 }, (second) => {
        if (result.refused.length > 0) return; // nothing to serve: the workers exit
        if (second.tcp !== ports.tcp || second.tls !== ports.tls || second.udp !== ports.udp) {
          result.problems.push(`the workers listen on different ports: ${JSON.stringify(ports)} and ${JSON.stringify(second)}`);
          drain();
          return;
        }
        runClients(ports, pki.ca, result, drain);
      }),
    );
  });

  function runClients(ports: StartMessage['ports'], ca: string, out: FixtureResult, done: () => void): void {
    let pending = CLIENTS * KINDS.length;
    const finished = (): void => {
      if (--pending === 0) done();
    };
    const tls = createTlsSocketProvider();
    const context = tls.createSocketContext();
    context.setCertificateAuthority(ca);
    const stream: Record<string, [ISocketProvider, SocketOptions, (i: number) => string]> = {
      tcp: [createTcpSocketProvider(), {}, () => `127.0.0.1:${ports.tcp}`],
      tls: [tls, { context }, () => `127.0.0.1:${ports.tls}`],
      local: [createLocalSocketProvider(), {}, (i) => paths[i % paths.length]],
    };
    for (const kind of ['tcp', 'tls', 'local'] as const) {
      const [provider, options, address] = stream[kind];
      for (let i = 0; i < CLIENTS; i++) provider.createSocket(new StreamClient(kind, i, out, finished), options).connect(address(i));
    }
    const udp = createUdpSocketProvider();
    for (let i = 0; i < CLIENTS; i++) udp.createSocket(new DatagramClient(i, out, finished)).connect(`127.0.0.1:${ports.udp}`);
  }
}

/** Sends its payload, reads the echo back in full, checks it, shuts down. */
class StreamClient extends USocket {
  private readonly data: Buffer;
  private readonly buf: Buffer;
  private got = 0;
  constructor(
    private readonly kind: Kind,
    private readonly i: number,
    private readonly out: FixtureResult,
    private readonly finished: () => void,
  ) {
    super();
    this.data = payload(kind, i);
    this.buf = Buffer.alloc(this.data.length);
  }
  override socketConnectComplete(s: ISocket): void {
    s.send(this.data);
    s.recv(this.buf, this.buf.length, true);
  }
  override socketRecvResult(s: ISocket, _b: Uint8Array, n: number): void {
    this.got += n;
    if (this.got < this.buf.length) {
      s.recv(this.buf.subarray(this.got), this.buf.length - this.got, true);
      return;
    }
    if (this.buf.equals(this.data)) this.out.clientsOk[this.kind]++;
    else this.out.problems.push(`${this.kind} client ${this.i}: the echo differs`);
    s.shutdown();
  }
  override socketShutdown(_s: ISocket, reason: string): void {
    count(this.out.clientEnds, this.kind, reason);
    if (this.got < this.buf.length) this.out.problems.push(`${this.kind} client ${this.i}: ended (${reason}) after ${this.got} of ${this.buf.length} bytes`);
    this.finished();
  }
}

/** A connected UDP socket: sends a datagram, waits for its echo, five times; checks each. */
class DatagramClient extends USocket {
  private readonly data: Buffer;
  private readonly buf: Buffer;
  private seq = 0;
  constructor(
    private readonly i: number,
    private readonly out: FixtureResult,
    private readonly finished: () => void,
  ) {
    super();
    this.data = payload('udp', i);
    this.buf = Buffer.alloc(this.data.length + 16);
  }
  private next(s: ISocket): void {
    this.data[0] = this.seq;
    s.send(this.data);
    s.recv(this.buf);
  }
  override socketConnectComplete(s: ISocket): void {
    this.next(s);
  }
  override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
    if (n !== this.data.length || !Buffer.from(b.subarray(0, n)).equals(this.data)) {
      this.out.problems.push(`udp client ${this.i}: datagram ${this.seq} came back different`);
      s.shutdown();
      return;
    }
    if (++this.seq < DATAGRAMS_PER_UDP_CLIENT) {
      this.next(s);
      return;
    }
    this.out.clientsOk.udp++;
    s.shutdown();
  }
  override socketShutdown(_s: ISocket, reason: string): void {
    count(this.out.clientEnds, 'udp', reason);
    this.finished();
  }
}

// Run as a script (the primary, and each worker cluster.fork() starts), not when a spec imports its constants.
if (require.main === module) {
  if (cluster.isPrimary) runPrimary();
  else runWorker();
}
