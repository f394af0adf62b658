import { createInterface } from 'node:readline';
import { createTlsSocketProvider } from '../../lib';
import { connect, Connection, listen, toDuplex } from '../../lib/async';
import { makeTestPki, TestPki } from '../certs';

const tls = createTlsSocketProvider();
const members = new Map<Connection, string>();

// The server: a member's first line is its name; every later line goes to everyone else.
async function member(conn: Connection) {
  for await (const line of createInterface(toDuplex(conn))) {
    const name = members.get(conn);
    if (name === undefined) {
      members.set(conn, line);
      await conn.write(`welcome ${line} (certificate ${conn.peerCertificate?.subject.CN}, ALPN ${conn.alpnProtocol})\n`);
    } else {
      for (const [other] of members) if (other !== conn) other.write(`${name}: ${line}\n`).catch(() => {});
    }
  }
  members.delete(conn);
}

// A client joins with its certificate and name, and waits for the welcome.
async function join(pki: TestPki, port: number, name: string) {
  const conn = await connect(tls, `localhost:${port}`, { tls: { ca: pki.ca, certificate: pki.client, alpn: ['chat/1'] } });
  const lines = createInterface(toDuplex(conn))[Symbol.asyncIterator]();
  await conn.write(`${name}\n`);
  console.log((await lines.next()).value);
  return { conn, lines };
}

async function main() {
  const pki = await makeTestPki();
  // The server: clients must show a certificate from our CA and speak chat/1 (ALPN).
  const options = { certificate: pki.server, ca: pki.ca, requireClientCertificate: true, alpn: ['chat/1'] };
  const server = await listen(tls, '127.0.0.1', 0, { tls: options });
  (async () => { for await (const conn of server) member(conn); })();
  const alice = await join(pki, server.port, 'alice');
  const bob = await join(pki, server.port, 'bob');
  await alice.conn.write('hello bob\n');
  console.log(`bob got "${(await bob.lines.next()).value}"`);
  await bob.conn.write('hi alice\n');
  console.log(`alice got "${(await alice.lines.next()).value}"`);
  alice.conn.end();
  bob.conn.end();
  server.close();
}

main();
