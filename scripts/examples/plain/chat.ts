import { once } from 'node:events';
import { AddressInfo, createConnection, createServer, Socket } from 'node:net';
import { createInterface } from 'node:readline';

const members = new Map<Socket, string>();

// The server: a member's first line is its name; every later line goes to everyone else.
const server = createServer((socket) => {
  socket.on('error', () => {});
  createInterface(socket).on('line', (line) => {
    const name = members.get(socket);
    if (name === undefined) {
      members.set(socket, line);
      socket.write(`welcome ${line}\n`);
    } else {
      for (const [other] of members) if (other !== socket) other.write(`${name}: ${line}\n`);
    }
  });
  socket.on('close', () => members.delete(socket));
});

// A client joins with its name and waits for the welcome.
async function join(port: number, name: string) {
  const socket = createConnection(port, '127.0.0.1');
  const lines = createInterface(socket)[Symbol.asyncIterator]();
  socket.write(`${name}\n`);
  console.log((await lines.next()).value);
  return { socket, lines };
}

async function main() {
  await once(server.listen(0, '127.0.0.1'), 'listening');
  const port = (server.address() as AddressInfo).port;
  const alice = await join(port, 'alice');
  const bob = await join(port, 'bob');
  alice.socket.write('hello bob\n');
  console.log(`bob got "${(await bob.lines.next()).value}"`);
  bob.socket.write('hi alice\n');
  console.log(`alice got "${(await alice.lines.next()).value}"`);
  alice.socket.end();
  bob.socket.end();
  server.close();
}

main();
