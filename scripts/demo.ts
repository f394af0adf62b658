// `npm start`: the framework's main job on an embedded default — a TCP echo server on
// loopback, clients that send different amounts and check every byte, and the clear reason
// each socket ends with. Later transports add their own part here.
import { createHash } from 'node:crypto';
import { createTcpSocketProvider, ISocket, ShutdownReason, USocket } from '../lib';

const provider = createTcpSocketProvider();
const report: string[] = [];
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex').slice(0, 12);

/** Server side of one connection: echo everything back, 64 KiB at a time. */
class EchoConnection extends USocket {
  private readonly buf = new Uint8Array(64 * 1024);
  override socketAcceptComplete(s: ISocket): void {
    s.recv(this.buf, undefined, true);
  }
  override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
    s.send(b, n); // copied: the buffer is ours again at once
    s.recv(this.buf, undefined, true);
  }
  socketShutdown(): void {}
}

/** A client that sends `payload`, reads the echo back and checks it. */
class EchoClient extends USocket {
  private readonly echo: Uint8Array;
  private readonly started = process.hrtime.bigint();
  constructor(
    private readonly name: string,
    private readonly payload: Uint8Array,
    private readonly done: () => void,
  ) {
    super();
    this.echo = new Uint8Array(payload.byteLength);
  }
  override socketConnectComplete(s: ISocket): void {
    s.recv(this.echo); // exact: completes once every byte is back
  }
  override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
    const ms = Number(process.hrtime.bigint() - this.started) / 1e6;
    const ok = sha(this.payload) === sha(b.subarray(0, n));
    report.push(`  ${this.name.padEnd(8)} ${String(n).padStart(8)} bytes  echoed ${ok ? 'intact' : 'CORRUPT'} (sha256 ${sha(b)}…) in ${ms.toFixed(1)} ms`);
    s.shutdown();
  }
  socketShutdown(s: ISocket, reason: ShutdownReason): void {
    report.push(`  ${this.name.padEnd(8)} ended: ${reason}`);
    this.done();
  }
}

/** A client whose only purpose is to show a failure reason. */
class Prober extends USocket {
  constructor(
    private readonly what: string,
    private readonly done: () => void,
  ) {
    super();
  }
  socketShutdown(_s: ISocket, reason: ShutdownReason): void {
    report.push(`  ${this.what.padEnd(28)} -> ${reason}`);
    this.done();
  }
}

function main(): void {
  const server = provider.createSocket(
    new (class extends USocket {
      override socketBindResult(s: ISocket, addr: string, port: number): void {
        console.log(`TCP echo server bound on ${addr}:${port}`);
        s.listen();
        runClients(s, port);
      }
      override socketListenResult(s: ISocket, addr: string, port: number): void {
        s.accept(new EchoConnection()); // accept(null) would deny it
      }
      socketShutdown(s: ISocket, reason: ShutdownReason): void {
        report.push(`  listener ended: ${reason}`);
        console.log('\nWhat happened:\n' + report.join('\n'));
      }
    })(),
  );
  server.bind('127.0.0.1', 0);
}

function runClients(server: ISocket, port: number): void {
  const sizes: Array<[string, number]> = [
    ['hello', 5],
    ['64 KiB', 64 * 1024],
    ['4 MiB', 4 * 1024 * 1024],
  ];
  let left = sizes.length + 2;
  const done = (): void => {
    if (--left === 0) {
      console.log(`all clients done; the listener has ${server.connectionCount} accepted connection(s) still open, which live on after it shuts down`);
      server.shutdown();
    }
  };
  for (const [name, size] of sizes) {
    const payload = size === 5 ? Buffer.from('hello') : Buffer.alloc(size, 0).map((_, i) => (i * 31) & 0xff);
    const client = provider.createSocket(new EchoClient(name, payload, done));
    client.connect(`127.0.0.1:${port}`);
    client.send(payload); // queued until the connection is up
  }
  provider.createSocket(new Prober('connect to "127.0.0.1:0x"', done)).connect('127.0.0.1:0x');
  provider.createSocket(new Prober('connect to a closed port', done)).connect('127.0.0.1:1');
}

main();
