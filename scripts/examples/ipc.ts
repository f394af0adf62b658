import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';

// The parent listens on a local socket, starts a worker process (ipc/child.ts) that connects to
// it, and hands it jobs. A message is a frame: a 2-byte big-endian length, then that much text.
const local = createLocalSocketProvider();
const path = join(tmpdir(), `socket-provider-ipc-${process.pid}.sock`);
const jobs = ['hello', 'local sockets', 'two processes'];

function frame(text: string): Buffer {
  const body = Buffer.from(text);
  return Buffer.concat([Buffer.from([body.length >> 8, body.length & 0xff]), body]);
}

// The parent's end of the worker's connection: send a job, read the answer (two exact recvs:
// the length, then the text), print it, send the next job; after the last one, close.
class Worker extends USocket {
  private readonly head = new Uint8Array(2);
  private next = 0;
  override socketAcceptComplete(s: ISocket) { this.sendJob(s); }
  override socketRecvResult(s: ISocket, buf: Uint8Array, n: number) {
    if (buf === this.head) return s.recv(new Uint8Array((buf[0] << 8) | buf[1]));
    console.log(`${jobs[this.next - 1]} -> ${Buffer.from(buf.subarray(0, n))}`);
    this.sendJob(s);
  }
  private sendJob(s: ISocket) {
    if (this.next === jobs.length) return s.shutdown();
    s.send(frame(jobs[this.next++]));
    s.recv(this.head);
  }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { console.log(`parent's end: ${reason}`); }
}

// The listener: once bound, listen and start the worker; stop listening when it has exited.
class Listener extends USocket {
  override socketBindResult(s: ISocket, addr: string) {
    s.listen();
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'ipc', 'child.ts'), addr], { stdio: 'inherit' });
    child.on('exit', (code) => {
      console.log(`worker exited with code ${code}`);
      if (code !== 0) process.exitCode = 1;
      s.shutdown();
    });
  }
  override socketListenResult(s: ISocket) { s.accept(new Worker()); }
  override socketShutdown(s: ISocket, reason: ShutdownReason) { console.log(`listener: ${reason}, socket file removed: ${!existsSync(path)}`); }
}

// fileMode 0o600: only this user's processes may connect (the default, 0o666, lets every local user).
local.createSocket(new Listener(), { fileMode: 0o600 }).bind(path);
