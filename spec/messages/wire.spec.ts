/**
 * The wire format against plain Node `net` peers that frame and parse by hand (code written
 * here from the documented format, not the library's): messages split down to one byte per
 * write, many messages coalesced in one write, and a raw server reading what a message
 * socket client sends.
 */
import type * as net from 'node:net';
import { createTcpSocketProvider } from '../../lib';
import { MessageFraming } from '../../lib/messages';
import { closeAllRaw, rawConnect, rawServer, StreamCollector, writeBytewise } from '../helpers/net-helpers';
import { cleanupMessages, connected, MessageRecorder, StreamServer, wrap } from './message-harness';

afterEach(async () => {
  const violations = await cleanupMessages();
  await closeAllRaw();
  expect(violations).toEqual([]);
});

// ---- the documented wire format, written out by hand ----------------------------------------

function handFrame(framing: MessageFraming, message: Buffer): Buffer {
  if (framing === 'u32') {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(message.length);
    return Buffer.concat([header, message]);
  }
  if (framing === 'varint') {
    const header: number[] = [];
    let n = message.length;
    do {
      header.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
      n >>>= 7;
    } while (n > 0);
    return Buffer.concat([Buffer.from(header), message]);
  }
  return Buffer.concat([message, Buffer.from(framing.delimiter)]);
}

/** Cuts `bytes` into the messages it holds (the whole of it must be whole frames). */
function handParse(framing: MessageFraming, bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (typeof framing === 'object') {
      const at = bytes.indexOf(Buffer.from(framing.delimiter), off);
      if (at < 0) throw new Error(`no delimiter after byte ${off}`);
      out.push(bytes.subarray(off, at));
      off = at + Buffer.byteLength(framing.delimiter);
      continue;
    }
    let length = 0;
    if (framing === 'u32') {
      length = bytes.readUInt32BE(off);
      off += 4;
    } else {
      for (let shift = 0; ; shift += 7) {
        const b = bytes[off++];
        length += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) break;
      }
    }
    out.push(bytes.subarray(off, off + length));
    off += length;
  }
  return out;
}

const FRAMINGS: Array<[string, MessageFraming]> = [
  ['u32', 'u32'],
  ['varint', 'varint'],
  ['delimiter "\\n"', { delimiter: '\n' }],
  ['delimiter of three bytes', { delimiter: Uint8Array.of(0xff, 0x00, 0xfe) }],
];

/** Some messages: empty, short, one with a length needing a 2-byte varint, one of 200 bytes. */
const MESSAGES = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from('x'.repeat(130)), Buffer.from('a'.repeat(200)), Buffer.from('end')];

describe.each(FRAMINGS)('the %s wire format', (_name, framing) => {
  /** A message socket server that echoes every message, and a raw client connected to it. */
  async function echoServerAndRawClient(): Promise<{ raw: net.Socket; seen: StreamCollector; server: MessageRecorder; srv: StreamServer }> {
    const srv = await new StreamServer('tcp', null, () => '').start();
    const raw = await rawConnect(srv.port);
    const seen = new StreamCollector(raw);
    const server = new MessageRecorder('server', { autoReceive: true, echo: true });
    wrap(await srv.accepted(0), server, { framing });
    return { raw, seen, server, srv };
  }

  it('a raw peer writing one byte per write: every message arrives whole, and the echo is the same bytes', async () => {
    const { raw, seen, server } = await echoServerAndRawClient();
    const wire = Buffer.concat(MESSAGES.map((m) => handFrame(framing, m)));
    await writeBytewise(raw, wire.subarray(0, 60)); // one byte per write for the first frames,
    raw.write(wire.subarray(60)); // the rest at once
    await server.waitForMessages(MESSAGES.length);
    expect(server.messages()).toEqual(MESSAGES);
    await seen.waitForBytes(wire.length);
    expect(seen.data().equals(wire)).toBe(true);
  });

  it('1,000 messages coalesced in one write arrive as 1,000 messages, in order', async () => {
    const { raw, seen, server } = await echoServerAndRawClient();
    const messages = Array.from({ length: 1000 }, (_, i) => Buffer.from(`message ${i} `.repeat(1 + (i % 7))));
    const wire = Buffer.concat(messages.map((m) => handFrame(framing, m)));
    raw.write(wire);
    await server.waitForMessages(messages.length);
    const text = (list: Buffer[]): string[] => list.map(String);
    expect(text(server.messages())).toEqual(text(messages));
    await seen.waitForBytes(wire.length);
    expect(text(handParse(framing, seen.data()))).toEqual(text(messages));
  });

  it('a message socket client to a raw server that parses and frames by hand', async () => {
    const got: Buffer[] = [];
    const srv = await rawServer((sock) => {
      const collector = new StreamCollector(sock);
      // The raw server answers once it has every message, with its own hand-made frames.
      collector
        .until(() => {
          try {
            return handParse(framing, collector.data()).length === MESSAGES.length;
          } catch {
            return false;
          }
        }, 'every message on the raw server')
        .then(
          () => {
            got.push(...handParse(framing, collector.data()));
            sock.write(Buffer.concat([handFrame(framing, Buffer.from('got them')), handFrame(framing, Buffer.from('bye'))]));
            sock.end();
          },
          () => undefined,
        );
    });
    const client = new MessageRecorder('client', { autoReceive: true });
    const ms = wrap(await connected(createTcpSocketProvider(), `127.0.0.1:${srv.port}`), client, { framing });
    for (const m of MESSAGES) ms.sendMessage(m);
    await client.waitForMessages(2);
    expect(got).toEqual(MESSAGES);
    expect(client.messages().map(String)).toEqual(['got them', 'bye']);
    expect(await client.waitForShutdown()).toBe('SOCKET_SHUTDOWN_BY_PEER');
  });
});
