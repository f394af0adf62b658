/**
 * Plain Node peers for the stream fuzzing: a `net`, `tls` or Unix-socket server or client that
 * plays a scripted behaviour — writes split down to single bytes, slow reading, then a clean
 * end, a reset, a destroy, or staying until the other side closes — and records what it sent
 * and what it received.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { certOf, keyOf, TestPki } from '../../helpers/tls-fixture';
import { nextTurn, tempPath, withTimeout } from '../../helpers/net-helpers';

export type StreamKind = 'tcp' | 'tls' | 'local';

/** One step of a peer's script. */
export type PeerStep = { kind: 'write'; len: number; pieces: number } | { kind: 'pause'; turns: number } | { kind: 'wait'; turns: number };

/** How the peer leaves: `stay` keeps reading until the other side closes, then ends too. */
export type PeerEnd = 'end' | 'reset' | 'destroy' | 'stay';

export interface PeerScript {
  steps: PeerStep[];
  end: PeerEnd;
}

/** A connected raw peer: the stream it talks on, and the socket under it (for a reset). */
export interface RawSide {
  stream: Duplex;
  base: net.Socket;
}

const WAIT_MS = 5000;

/** Plays a script on one raw connection and records both directions. */
export class PeerRun {
  private readonly chunks: Buffer[] = [];
  receivedLength = 0;
  /** Every byte written, in order. */
  readonly written: Buffer[] = [];
  /** Bytes whose write completed (handed to the OS), counted from the front. */
  flushed = 0;
  eof = false;
  closed = false;
  done = false;

  /** `canReset`: the socket under the stream is TCP (Unix sockets have no RST). */
  constructor(
    readonly side: RawSide,
    private readonly canReset: boolean,
  ) {
    const s = side.stream;
    s.on('data', (d: Buffer) => {
      this.chunks.push(Buffer.from(d));
      this.receivedLength += d.length;
    });
    s.on('end', () => (this.eof = true));
    s.on('close', () => (this.closed = true));
    s.on('error', () => undefined); // resets and broken pipes are part of the game
    side.base.on('error', () => undefined);
  }

  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  allWritten(): Buffer {
    return Buffer.concat(this.written);
  }

  /** Runs the script with `data` as the bytes to write (consumed from the front). */
  async play(script: PeerScript, data: Buffer): Promise<void> {
    let offset = 0;
    const s = this.side.stream;
    for (const step of script.steps) {
      if (this.closed) break;
      if (step.kind === 'write') {
        const total = Math.min(step.len, data.length - offset);
        const pieces = Math.max(1, Math.min(step.pieces, total));
        const size = Math.ceil(total / pieces);
        for (let at = 0; at < total && !this.closed; at += size) {
          const piece = data.subarray(offset + at, offset + Math.min(at + size, total));
          this.written.push(piece);
          s.write(piece, (err) => {
            if (!err) this.flushed += piece.length;
          });
          await nextTurn();
        }
        offset += total;
      } else if (step.kind === 'pause') {
        s.pause();
        for (let i = 0; i < step.turns; i++) await nextTurn();
        s.resume();
      } else {
        for (let i = 0; i < step.turns; i++) await nextTurn();
      }
    }
    s.resume();
    await this.leave(script.end);
    this.done = true;
  }

  private async leave(end: PeerEnd): Promise<void> {
    const s = this.side.stream;
    if (this.closed) return;
    switch (end) {
      case 'end':
        s.end();
        await this.until(() => this.eof || this.closed, 'the other side to close after our end()');
        s.destroy();
        return;
      case 'stay':
        await this.until(() => this.eof || this.closed, 'the other side to close');
        s.end();
        await this.until(() => this.closed || (s as net.Socket).writableFinished, 'our end() to finish');
        s.destroy();
        return;
      case 'reset':
        // Unix sockets have no RST: closing with data unread is as close as they get.
        if (this.canReset) this.side.base.resetAndDestroy();
        else s.destroy();
        return;
      case 'destroy':
        s.destroy();
        return;
    }
  }

  private until(check: () => boolean, what: string): Promise<void> {
    return withTimeout(
      (async () => {
        while (!check()) await new Promise((r) => setTimeout(r, 2));
      })(),
      WAIT_MS,
      `raw peer: ${what}`,
    ).catch(() => undefined); // the run's own checks report what did not happen
  }
}

export interface RawServer {
  /** The address a framework client connects to. */
  address: string;
  /** The first connection, once connected (TLS: secured); null if none came in time. */
  first(): Promise<RawSide | null>;
  close(): Promise<void>;
}

/** A raw server of the transport that takes one connection. */
export async function rawServer(kind: StreamKind, pki: TestPki | null): Promise<RawServer> {
  let resolveFirst: (side: RawSide | null) => void = () => undefined;
  const firstP = new Promise<RawSide | null>((r) => (resolveFirst = r));
  const sockets = new Set<net.Socket>();
  const secureContext = kind === 'tls' ? tls.createSecureContext({ cert: certOf(pki!.server), key: keyOf(pki!.server) }) : null;
  const server = net.createServer({ allowHalfOpen: true }, (raw) => {
    sockets.add(raw);
    raw.on('error', () => undefined);
    raw.on('close', () => sockets.delete(raw));
    if (!secureContext) {
      resolveFirst({ stream: raw, base: raw });
      return;
    }
    const t = new tls.TLSSocket(raw, { isServer: true, secureContext });
    t.on('error', () => resolveFirst(null));
    t.once('secure', () => resolveFirst({ stream: t, base: raw }));
    t.once('close', () => resolveFirst(null));
  });
  const path = kind === 'local' ? tempPath('sp-fuzz-raw') : null;
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (path) server.listen(path, () => resolve());
      else server.listen(0, '127.0.0.1', () => resolve());
    }),
    WAIT_MS,
    'a raw fuzz server to listen',
  );
  const address = path ?? `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    address,
    first: () => withTimeout(firstP, WAIT_MS, 'the raw server’s first connection').catch(() => null),
    close: async () => {
      for (const s of sockets) s.destroy();
      await withTimeout(new Promise<void>((r) => server.close(() => r())), WAIT_MS, 'a raw fuzz server to close').catch(() => undefined);
    },
  };
}

/** A raw client of the transport connected to `address`; null if it could not connect (or secure). */
export async function rawClient(kind: StreamKind, pki: TestPki | null, address: string): Promise<RawSide | null> {
  const base =
    kind === 'local'
      ? net.connect({ path: address, allowHalfOpen: true })
      : net.connect({ host: '127.0.0.1', port: Number(address.slice(address.lastIndexOf(':') + 1)), allowHalfOpen: true });
  base.on('error', () => undefined);
  const ready = new Promise<RawSide | null>((resolve) => {
    base.once('close', () => resolve(null));
    base.once('connect', () => {
      if (kind !== 'tls') {
        resolve({ stream: base, base });
        return;
      }
      const t = tls.connect({ socket: base, ca: pki!.ca, servername: 'localhost' });
      t.on('error', () => resolve(null));
      t.once('close', () => resolve(null));
      t.once('secureConnect', () => resolve({ stream: t, base }));
    });
  });
  const side = await withTimeout(ready, WAIT_MS, `a raw client to connect to ${address}`).catch(() => null);
  if (!side) base.destroy();
  return side;
}
