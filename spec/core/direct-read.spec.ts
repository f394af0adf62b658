/**
 * The Node internals that reading with `onread` relies on for accepted connections
 * (lib/core/direct-read.ts): if a Node version changes them, this fails rather than the
 * framework silently falling back to the slower 'data' path.
 */
import * as net from 'node:net';
import { directRead, readDirectly } from '../../lib/core/direct-read';
import { withTimeout } from '../helpers/net-helpers';

describe('readDirectly', () => {
  it('switches an accepted, still paused connection to onread: every byte reaches the callback, none the stream', async () => {
    const seen: Buffer[] = [];
    let dataEvents = 0;
    let switched: boolean | null = null;
    const ended = new Promise<void>((resolve) => {
      const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => {
        switched = readDirectly(
          sock,
          directRead((n, buf) => {
            seen.push(Buffer.from(buf.subarray(0, n)));
            return true;
          }),
        );
        sock.on('data', () => dataEvents++);
        sock.on('end', () => {
          sock.end();
          server.close();
          resolve();
        });
        sock.resume();
      });
      server.listen(0, '127.0.0.1', () => {
        const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', () => {
          client.end(Buffer.alloc(300_000, 7));
        });
      });
    });
    await withTimeout(ended, 10_000, 'the connection to end');
    expect(switched).toBe(true);
    expect(dataEvents).toBe(0);
    const all = Buffer.concat(seen);
    expect(all.length).toBe(300_000);
    expect(all.every((b) => b === 7)).toBe(true);
  });

  it('leaves a socket that already reads alone', () => {
    const sock = new net.Socket();
    expect(readDirectly(sock, directRead(() => true))).toBe(false); // no handle yet
  });
});
