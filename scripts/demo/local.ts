// The local-socket part of the demo: IPC between this process and a child process over a
// Unix domain socket; the child uses the package as a client.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';

export function runLocal(): Promise<string[]> {
  const local = createLocalSocketProvider();
  const report: string[] = [];
  const path = join(tmpdir(), `socket-provider-demo-${process.pid}.sock`);
  return new Promise((resolve) => {
    const listener = local.createSocket(
      new (class extends USocket {
        override socketBindResult(s: ISocket, addr: string): void {
          report.push(`  listening on ${addr} (mode ${(statSync(addr).mode & 0o777).toString(8)})`);
          s.listen();
          const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'local-child.ts'), addr], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          child.stdout.on('data', (d: Buffer) =>
            report.push(
              ...d
                .toString()
                .trimEnd()
                .split('\n')
                .map((l) => `  child: ${l}`),
            ),
          );
          child.on('exit', (code) => {
            report.push(`  child process exited with ${code}`);
            s.shutdown();
          });
        }
        override socketListenResult(s: ISocket): void {
          s.accept(
            new (class extends USocket {
              private readonly buf = new Uint8Array(256);
              override socketAcceptComplete(c: ISocket): void {
                c.recv(this.buf, undefined, true);
              }
              override socketRecvResult(c: ISocket, b: Uint8Array, n: number): void {
                const text = Buffer.from(b.subarray(0, n)).toString();
                report.push(`  parent got "${text}"`);
                c.send(Buffer.from(`parent (pid ${process.pid}) received: ${text}`));
              }
              override socketSendResult(c: ISocket): void {
                c.recv(this.buf, undefined, true); // the next read once the answer was sent
              }
              socketShutdown(_c: ISocket, reason: ShutdownReason): void {
                report.push(`  parent's end of the connection: ${reason}`);
              }
            })(),
          );
        }
        socketShutdown(_s: ISocket, reason: ShutdownReason): void {
          report.push(`  listener ended: ${reason} (socket file ${existsSync(path) ? 'still there!' : 'removed'})`);
          resolve(report);
        }
      })(),
    );
    listener.bind(path);
  });
}
