import { createLocalSocketProvider } from '../../../lib';
import { connect, toMessages } from '../../../lib/async';

// The worker: answers each JSON request with its text in capitals; exits when the parent closes.
(async () => {
  const parent = toMessages(await connect(createLocalSocketProvider(), process.argv[2]));
  for await (const message of parent) {
    const request = JSON.parse(String(message));
    await parent.send(JSON.stringify({ id: request.id, text: request.text.toUpperCase() }));
  }
})();
