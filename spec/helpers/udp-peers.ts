/**
 * Plain Node `dgram` peers for the UDP and DTLS tests: record what arrives, send with bounded
 * waits, close them all in afterEach; and a free UDP port for command lines that need one.
 */
import * as dgram from 'node:dgram';
import { withTimeout } from './net-helpers';

const WAIT = 15000;

export interface PlainMessage {
  data: Buffer;
  address: string;
  port: number;
}

/** A plain Node `dgram` socket on 127.0.0.1 that records what it receives. */
export class PlainUdp {
  readonly messages: PlainMessage[] = [];
  private readonly waits = new Set<() => void>();

  constructor(readonly sock: dgram.Socket) {
    sock.on('message', (data, rinfo) => {
      this.messages.push({ data: Buffer.from(data), address: rinfo.address, port: rinfo.port });
      for (const w of [...this.waits]) w();
    });
    sock.on('error', () => undefined); // asserted through what arrives
  }

  get port(): number {
    return this.sock.address().port;
  }

  /** Resolves once `n` datagrams arrived (bounded). */
  waitFor(n: number, ms = WAIT): Promise<void> {
    if (this.messages.length >= n) return Promise.resolve();
    let w: () => void = () => undefined;
    const p = new Promise<void>((resolve) => {
      w = () => {
        if (this.messages.length >= n) resolve();
      };
      this.waits.add(w);
    });
    return withTimeout(p, ms, `${n} datagrams on a plain dgram socket (have ${this.messages.length})`).finally(() => this.waits.delete(w));
  }

  /** Sends one datagram; resolves once dgram handed it to the OS. */
  send(data: Uint8Array, port: number, host = '127.0.0.1'): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve, reject) => this.sock.send(data, port, host, (err) => (err ? reject(err) : resolve()))),
      WAIT,
      `a plain dgram send to ${host}:${port}`,
    );
  }
}

const plainSockets = new Set<dgram.Socket>();

/** A plain dgram socket bound to port 0 on the loopback of its family. */
export async function plainUdp(type: 'udp4' | 'udp6' = 'udp4', host = type === 'udp4' ? '127.0.0.1' : '::1'): Promise<PlainUdp> {
  const sock = dgram.createSocket(type);
  plainSockets.add(sock);
  const peer = new PlainUdp(sock);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, host, () => resolve());
    }),
    WAIT,
    `a plain dgram socket to bind ${host}`,
  );
  return peer;
}

/** Closes every plain dgram socket made by {@link plainUdp}. */
export function closePlainSockets(): void {
  for (const s of plainSockets) {
    try {
      s.close();
    } catch {
      // already closed
    }
  }
  plainSockets.clear();
}

/** A UDP port on 127.0.0.1 that was free a moment ago (for command lines that need a number). */
export async function freeUdpPort(): Promise<number> {
  const sock = dgram.createSocket('udp4');
  await withTimeout(new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve())), WAIT, 'a probe socket to bind');
  const port = sock.address().port;
  await withTimeout(new Promise<void>((resolve) => sock.close(() => resolve())), WAIT, 'a probe socket to close');
  return port;
}
