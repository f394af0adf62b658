import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalSocketProvider } from '../../lib';
import { listen, toMessages } from '../../lib/async';

// The parent listens on a Unix socket, starts the worker (async-ipc/child.ts), and sends it
// JSON requests, one message each; each answer is a JSON message with the request's id.
const path = join(tmpdir(), `async-ipc-${process.pid}.sock`);
const requests = [{ id: 1, text: 'hello' }, { id: 2, text: 'unix sockets' }];

async function main() {
  const server = await listen(createLocalSocketProvider(), path);
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'async-ipc', 'child.ts'), path], { stdio: 'inherit' });
  const worker = toMessages((await server.accept())!);
  for (const request of requests) {
    await worker.send(JSON.stringify(request));
    const answer = JSON.parse(String(await worker.receive()));
    console.log(`${answer.id}: ${request.text} -> ${answer.text}`);
  }
  worker.end();
  server.close();
  const [code] = await once(child, 'exit');
  console.log(`worker exited with code ${code}`);
}

main();
