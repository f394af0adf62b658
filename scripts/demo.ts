// `npm start`: the framework's main jobs on an embedded default, one part per transport,
// each printing what happened and the reason every socket ended with.
import { runTcp } from './demo/tcp';
import { runLocal } from './demo/local';
import { runTls } from './demo/tls';
import { runUdp } from './demo/udp';
import { runDtls } from './demo/dtls';
import { runRudp } from './demo/rudp';
import { runExtras } from './demo/extras';

const parts: Array<[string, () => Promise<string[]>]> = [
  ['TCP: echo server and clients on loopback', runTcp],
  ['TLS: verified echo with ALPN, a refused rogue server, STARTTLS', runTls],
  ['UDP: datagrams between a bound and a connected socket', runUdp],
  ['DTLS: DTLS-SRTP between a bound and a connected UDP socket, keys compared', runDtls],
  ['rudp: reliable messages over UDP with 5 % of the datagrams dropped, every one delivered', runRudp],
  ['Local: IPC with a child process over a Unix domain socket', runLocal],
  ['Beyond the seed: messages over a socket pair, on a manual IoMux (game loop), with stats()', runExtras],
];

async function main(): Promise<void> {
  for (const [title, run] of parts) {
    console.log(`\n== ${title}`);
    console.log((await run()).join('\n'));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
