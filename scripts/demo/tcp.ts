// The TCP part of the demo: an echo server, clients that send different amounts and check
// every byte, and two failures that show their reasons.
import { createHash } from 'node:crypto';
import { createTcpSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex').slice(0, 12);

/**
 * Server side of one connection: echo everything back, 64 KiB at a time. The next read starts
 * once the echo was handed to the OS, so a client that never reads is held back by TCP instead
 * of making this side queue its echo without bound.
 */
export class EchoConnection extends USocket {
  private readonly buf = new Uint8Array(64 * 1024);
  override socketAcceptComplete(s: ISocket): void {
    s.recv(this.buf, undefined, true);
  }
  override socketUpgradeToTlsComplete(s: ISocket): void {
    s.recv(this.buf, undefined, true);
  }
  override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
    s.send(b, n); // copied: the buffer is ours again at once
  }
  override socketSendResult(s: ISocket): void {
    s.recv(this.buf, undefined, true);
  }
  socketShutdown(): void {}
}

/** A client that sends `payload`, reads the echo back and checks it. */
export class EchoClient extends USocket {
  private readonly echo: Uint8Array;
  private readonly started = process.hrtime.bigint();
  constructor(
    private readonly name: string,
    private readonly payload: Uint8Array,
    private readonly report: string[],
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
    this.report.push(
      `  ${this.name.padEnd(10)} ${String(n).padStart(8)} bytes echoed ${ok ? 'intact' : 'CORRUPT'} (sha256 ${sha(b.subarray(0, n))}…) in ${ms.toFixed(1)} ms`,
    );
    s.shutdown();
  }
  socketShutdown(s: ISocket, reason: ShutdownReason): void {
    this.report.push(`  ${this.name.padEnd(10)} ended: ${reason}`);
    this.done();
  }
}

/** A client whose only purpose is to show a failure reason. */
export class Prober extends USocket {
  constructor(
    private readonly what: string,
    private readonly report: string[],
    private readonly done: () => void,
  ) {
    super();
  }
  socketShutdown(_s: ISocket, reason: ShutdownReason): void {
    this.report.push(`  ${this.what.padEnd(34)} -> ${reason}`);
    this.done();
  }
}

/** Runs the TCP part; resolves with its report. */
export function runTcp(): Promise<string[]> {
  const provider = createTcpSocketProvider();
  const report: string[] = [];
  return new Promise((resolve) => {
    const server = provider.createSocket(
      new (class extends USocket {
        override socketBindResult(s: ISocket, addr: string, port: number): void {
          report.push(`  echo server bound on ${addr}:${port}`);
          s.listen();
          clients(s, port);
        }
        override socketListenResult(s: ISocket): void {
          s.accept(new EchoConnection()); // accept(null) would deny it
        }
        socketShutdown(_s: ISocket, reason: ShutdownReason): void {
          report.push(`  listener ended: ${reason}`);
          resolve(report);
        }
      })(),
    );
    server.bind('127.0.0.1', 0);

    function clients(listener: ISocket, port: number): void {
      const sizes: Array<[string, number]> = [
        ['5 B', 5],
        ['64 KiB', 64 * 1024],
        ['4 MiB', 4 * 1024 * 1024],
      ];
      let left = sizes.length + 2;
      const done = (): void => {
        if (--left > 0) return;
        report.push(`  all clients done; ${listener.connectionCount} accepted connection(s) still open live on after the listener shuts down`);
        listener.shutdown();
      };
      for (const [name, size] of sizes) {
        const payload = Buffer.alloc(size).map((_, i) => (i * 31) & 0xff);
        const client = provider.createSocket(new EchoClient(name, payload, report, done));
        client.connect(`127.0.0.1:${port}`);
        client.send(payload); // queued until the connection is up
      }
      provider.createSocket(new Prober('connect to "127.0.0.1:0x"', report, done)).connect('127.0.0.1:0x');
      provider.createSocket(new Prober('connect to a closed port', report, done)).connect('127.0.0.1:1');
    }
  });
}
