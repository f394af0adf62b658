import { setInterval } from 'node:timers/promises';
import { createUdpSocketProvider } from '../../lib';
import { bind, connect } from '../../lib/async';

// A game-state sender: one JSON datagram per frame at 60 Hz to a receiver, which keeps the
// newest state; after 30 frames both stop.
const FRAMES = 30;
const udp = createUdpSocketProvider();

async function main() {
  const receiver = await bind(udp, '127.0.0.1', 0);
  const receiving = (async () => {
    let received = 0;
    for await (const datagram of receiver) {
      received++;
      const latest = JSON.parse(String(datagram.data));
      if (latest.frame === FRAMES - 1) return console.log(`received ${received} of ${FRAMES} states, the last at frame ${latest.frame}, x = ${latest.x}`);
    }
  })();
  const sender = await connect(udp, `127.0.0.1:${receiver.port}`);
  let frame = 0;
  for await (const _ of setInterval(1000 / 60)) {
    await sender.write(JSON.stringify({ frame, x: frame * 0.5 }));
    if (++frame === FRAMES) break;
  }
  sender.end();
  await receiving;
  receiver.close();
}

main();
