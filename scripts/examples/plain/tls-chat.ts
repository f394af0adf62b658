import { once } from 'node:events';
import { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { connect, createServer, TLSSocket } from 'node:tls';
import { makeTestPki, TestPki } from '../../certs';

const members = new Map<TLSSocket, string>();

// The server: clients must show a certificate from our CA and speak chat/1 (ALPN).
// A member's first line is its name; every later line goes to everyone else.
function chatServer(pki: TestPki) {
  const options = { cert: pki.server, key: pki.server, ca: pki.ca, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['chat/1'] };
  return createServer(options, (socket) => {
    socket.on('error', () => {});
    createInterface(socket).on('line', (line) => {
      const name = members.get(socket);
      if (name === undefined) {
        members.set(socket, line);
        socket.write(`welcome ${line} (certificate ${socket.getPeerCertificate().subject.CN}, ALPN ${socket.alpnProtocol})\n`);
      } else {
        for (const [other] of members) if (other !== socket) other.write(`${name}: ${line}\n`);
      }
    });
    socket.on('close', () => members.delete(socket));
  });
}

// A client joins with its certificate and name, and waits for the welcome.
async function join(pki: TestPki, port: number, name: string) {
  const socket = connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, cert: pki.client, key: pki.client, ALPNProtocols: ['chat/1'] });
  const lines = createInterface(socket)[Symbol.asyncIterator]();
  socket.write(`${name}\n`);
  console.log((await lines.next()).value);
  return { socket, lines };
}

async function main() {
  const pki = await makeTestPki();
  const server = chatServer(pki);
  await once(server.listen(0, '127.0.0.1'), 'listening');
  const port = (server.address() as AddressInfo).port;
  const alice = await join(pki, port, 'alice');
  const bob = await join(pki, port, 'bob');
  alice.socket.write('hello bob\n');
  console.log(`bob got "${(await bob.lines.next()).value}"`);
  bob.socket.write('hi alice\n');
  console.log(`alice got "${(await alice.lines.next()).value}"`);
  alice.socket.end();
  bob.socket.end();
  server.close();
}

main();
