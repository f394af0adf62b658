import { createInterface } from 'node:readline';
import { createTcpSocketProvider } from '../../lib';
import { connect, Connection, listen, toDuplex } from '../../lib/async';

const tcp = createTcpSocketProvider();
const members = new Map<Connection, string>();

// The server: a member's first line is its name; every later line goes to everyone else.
async function member(conn: Connection) {
  for await (const line of createInterface(toDuplex(conn))) {
    const name = members.get(conn);
    if (name === undefined) {
      members.set(conn, line);
      await conn.write(`welcome ${line}\n`);
    } else {
      for (const [other] of members) if (other !== conn) other.write(`${name}: ${line}\n`).catch(() => {});
    }
  }
  members.delete(conn);
}

// A client joins with its name and waits for the welcome.
async function join(port: number, name: string) {
  const conn = await connect(tcp, `127.0.0.1:${port}`);
  const lines = createInterface(toDuplex(conn))[Symbol.asyncIterator]();
  await conn.write(`${name}\n`);
  console.log((await lines.next()).value);
  return { conn, lines };
}

async function main() {
  const server = await listen(tcp, '127.0.0.1', 0);
  (async () => { for await (const conn of server) member(conn); })();
  const alice = await join(server.port, 'alice');
  const bob = await join(server.port, 'bob');
  await alice.conn.write('hello bob\n');
  console.log(`bob got "${(await bob.lines.next()).value}"`);
  await bob.conn.write('hi alice\n');
  console.log(`alice got "${(await alice.lines.next()).value}"`);
  alice.conn.end();
  bob.conn.end();
  server.close();
}

main();
