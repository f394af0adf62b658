import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';

// The worker: answers each JSON request with its text in capitals; exits when the parent closes.
const socket = createConnection(process.argv[2]);
createInterface(socket).on('line', (line) => {
  const request = JSON.parse(line);
  socket.write(`${JSON.stringify({ id: request.id, text: request.text.toUpperCase() })}\n`);
});
