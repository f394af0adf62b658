import { createSocket } from 'node:dgram';
import { once } from 'node:events';

// A game-state sender: one JSON datagram per frame at 60 Hz to a receiver, which keeps the
// newest state; after 30 frames both stop.
const FRAMES = 30;

async function main() {
  const receiver = createSocket('udp4');
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  let received = 0;
  let latest = { frame: -1, x: 0 };
  receiver.on('message', (datagram) => {
    received++;
    latest = JSON.parse(datagram.toString());
    if (latest.frame === FRAMES - 1) {
      console.log(`received ${received} of ${FRAMES} states, the last at frame ${latest.frame}, x = ${latest.x}`);
      receiver.close();
    }
  });
  const sender = createSocket('udp4');
  let frame = 0;
  const timer = setInterval(() => {
    const last = frame === FRAMES - 1;
    sender.send(JSON.stringify({ frame, x: frame * 0.5 }), receiver.address().port, '127.0.0.1', () => last && sender.close());
    if (++frame === FRAMES) clearInterval(timer);
  }, 1000 / 60);
}

main();
