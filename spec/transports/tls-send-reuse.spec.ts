/**
 * TLS sends made while the socket has nothing queued are not copied (OpenSSL consumes them
 * before write() returns; lib/transports/tls.ts `tlsSecurer.writesThrough`). The contract's
 * promise must hold all the same: the caller may change its buffer as soon as send() returns.
 * One buffer is overwritten right after every send, both when sends are paced by
 * socketSendResult (the no-copy path every time) and when they are made in a burst (the copy
 * path behind the first); a plain Node TLS server checks every byte.
 */
import { createHash } from 'node:crypto';
import { createTlsSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { pollUntil } from '../helpers/net-helpers';
import { clientContext, closeAllRawTls, loadPki, rawTlsServer } from '../helpers/tls-fixture';

const pki = loadPki();
afterEach(() => closeAllRawTls());

/** Block i: every byte is (i * 7 + offset) & 0xff, so a block overwritten too early shows. */
function fill(buf: Uint8Array, i: number, n: number): void {
  for (let k = 0; k < n; k++) buf[k] = (i * 7 + k) & 0xff;
}

function expectedDigest(sizes: number[]): string {
  const h = createHash('sha256');
  sizes.forEach((n, i) => {
    const b = new Uint8Array(n);
    fill(b, i, n);
    h.update(b);
  });
  return h.digest('hex');
}

async function run(mode: 'paced' | 'burst'): Promise<void> {
  const sizes = Array.from({ length: 120 }, (_, i) => 1 + ((i * 7919) % (96 * 1024)));
  const total = sizes.reduce((a, b) => a + b, 0);
  const hash = createHash('sha256');
  let got = 0;
  const server = await rawTlsServer(pki, {}, (sock) =>
    sock.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      got += chunk.length;
    }),
  );
  const buf = new Uint8Array(96 * 1024);
  let next = 0;
  let ended: ShutdownReason | null = null;
  const sendOne = (s: ISocket): void => {
    const n = sizes[next];
    fill(buf, next, n);
    s.send(buf, n);
    buf.fill(0xee); // the caller reuses its buffer at once
    next++;
  };
  class Sender extends USocket {
    override socketConnectComplete(s: ISocket): void {
      if (mode === 'burst') while (next < sizes.length) sendOne(s);
      else sendOne(s);
    }
    override socketSendResult(s: ISocket): void {
      if (mode === 'paced' && next < sizes.length) sendOne(s);
    }
    socketShutdown(_s: ISocket, r: ShutdownReason): void {
      ended = r;
    }
  }
  const s = createTlsSocketProvider().createSocket(new Sender(), { context: clientContext(pki) });
  s.connect(`127.0.0.1:${server.port}`, 'localhost');
  await pollUntil(() => got === total || ended !== null, `${total} bytes at the server`, 20_000);
  expect(ended).toBeNull();
  expect(hash.digest('hex')).toBe(expectedDigest(sizes));
  s.shutdown();
  await pollUntil(() => ended !== null, 'the shutdown');
}

describe("TLS send: the buffer is the caller's again as soon as send() returns", () => {
  it('sends paced by socketSendResult (not copied)', () => run('paced'));
  it('a burst of sends (the first not copied, the rest queued as copies)', () => run('burst'));
});
