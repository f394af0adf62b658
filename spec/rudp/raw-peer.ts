/**
 * A hand-made rudp client on a plain dgram socket: it does the cookie handshake with the wire
 * format of docs/rudp-wire.md, then sends whatever Data packets a test builds, so that a spec can
 * act as a peer that breaks the rules (ignores credit, leaves messages incomplete).
 */
import * as dgram from 'dgram';
import { withTimeout } from '../helpers/net-helpers';
import { CloseCode, HEADER, INITIAL_SIZE, PacketType, readHeader, writeCredit, writeFragmentHeader, writeHeader } from '../../lib/core/rudp/wire';

export interface RawPeer {
  /** Every packet the server sent after the handshake. */
  readonly packets: Buffer[];
  /** Sends one Data packet holding `frames` (built with {@link fragmentFrame}), with the next packet number. */
  sendData(frames: Buffer[]): void;
  /** Resolves with the close code once a Close packet came (bounded). */
  closed(timeoutMs?: number): Promise<CloseCode>;
  close(): void;
}

/** A FRAGMENT (reliable) or UNRELIABLE frame. */
export function fragmentFrame(reliable: boolean, lane: number, msgId: number, offset: number, total: number, data: Buffer): Buffer {
  const b = Buffer.alloc(16 + data.byteLength);
  const at = writeFragmentHeader(b, 0, reliable, lane, msgId, offset, total, data.byteLength);
  data.copy(b, at);
  return b.subarray(0, at + data.byteLength);
}

/** A CREDIT frame. */
export function creditFrame(credit: number): Buffer {
  const b = Buffer.alloc(9);
  writeCredit(b, 0, credit);
  return b;
}

/** Connects to a rudp listener on 127.0.0.1:`port` (which must accept). */
export async function rawPeer(port: number): Promise<RawPeer> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const cid = 0x1234_5678;
  let serverCid = 0;
  let pn = 0;
  const packets: Buffer[] = [];
  let onClose: ((code: CloseCode) => void) | null = null;
  let closeCode: CloseCode | null = null;
  const initial = (cookie: Buffer | null): void => {
    const b = Buffer.alloc(INITIAL_SIZE);
    writeHeader(b, PacketType.Initial, 0, cid);
    if (cookie) {
      b[HEADER] = cookie.byteLength;
      cookie.copy(b, HEADER + 1);
    }
    sock.send(b, port, '127.0.0.1');
  };
  const accepted = new Promise<void>((resolve) => {
    sock.on('message', (msg) => {
      const h = readHeader(msg);
      if (!h || h.dcid !== cid) return;
      if (h.type === PacketType.Retry) initial(Buffer.from(msg.subarray(HEADER)));
      else if (h.type === PacketType.Accept) {
        serverCid = h.scid;
        resolve();
      } else if (serverCid !== 0) {
        packets.push(msg);
        if (h.type === PacketType.Close) {
          const ack = Buffer.alloc(HEADER);
          writeHeader(ack, PacketType.CloseAck, serverCid, cid);
          sock.send(ack, port, '127.0.0.1');
        }
        if (h.type === PacketType.Close && closeCode === null) {
          closeCode = msg.byteLength > HEADER ? msg[HEADER] : CloseCode.Normal;
          onClose?.(closeCode);
        }
      }
    });
  });
  initial(null);
  await withTimeout(accepted, 5000, 'the raw peer to be accepted');
  return {
    packets,
    sendData(frames: Buffer[]): void {
      const head = Buffer.alloc(HEADER + 4);
      writeHeader(head, PacketType.Data, serverCid, cid);
      head.writeUInt32BE(pn++, HEADER);
      sock.send(Buffer.concat([head, ...frames]), port, '127.0.0.1');
    },
    closed(timeoutMs = 5000): Promise<CloseCode> {
      if (closeCode !== null) return Promise.resolve(closeCode);
      return withTimeout(new Promise<CloseCode>((r) => (onClose = r)), timeoutMs, 'a Close packet');
    },
    close(): void {
      sock.close();
    },
  };
}
