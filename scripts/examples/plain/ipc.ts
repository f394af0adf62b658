import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

// The parent listens on a Unix socket, starts the worker (ipc/child.ts), and sends it JSON
// requests, one per line; each answer is a JSON line with the request's id.
const path = join(tmpdir(), `plain-ipc-${process.pid}.sock`);
const requests = [{ id: 1, text: 'hello' }, { id: 2, text: 'unix sockets' }];

const server = createServer(async (socket) => {
  const answers = createInterface(socket)[Symbol.asyncIterator]();
  for (const request of requests) {
    socket.write(`${JSON.stringify(request)}\n`);
    const answer = JSON.parse((await answers.next()).value);
    console.log(`${answer.id}: ${request.text} -> ${answer.text}`);
  }
  socket.end();
  server.close();
});

async function main() {
  await once(server.listen(path), 'listening');
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'ipc', 'child.ts'), path], { stdio: 'inherit' });
  const [code] = await once(child, 'exit');
  console.log(`worker exited with code ${code}`);
}

main();
