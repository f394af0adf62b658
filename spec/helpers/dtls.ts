/**
 * Shared pieces of the DTLS tests: plain `dgram` peers with cleanup, a free UDP port for the
 * openssl command line, DTLS record parsing for assertions, and an RSA-2048 PKI (the test PKI
 * of scripts/certs.ts is EC P-256).
 */
import { generate } from 'selfsigned';

// ---------------------------------------------------------------------------------------
// Plain dgram peers
// ---------------------------------------------------------------------------------------

import { plainUdp, PlainUdp } from './udp-peers';

export { closePlainSockets, freeUdpPort, plainUdp, PlainUdp, type PlainMessage } from './udp-peers';

// ---------------------------------------------------------------------------------------
// DTLS records, for assertions on what went over the wire
// ---------------------------------------------------------------------------------------

export interface DtlsRecordHeader {
  /** 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data. */
  contentType: number;
  /** 0xfeff DTLS 1.0, 0xfefd DTLS 1.2. */
  version: number;
  epoch: number;
  length: number;
  /** For an epoch-0 handshake record: the handshake type (1 ClientHello, 3 HelloVerifyRequest…). */
  handshakeType?: number;
}

/** The DTLS records in one datagram (headers only); stops at the first record that does not fit. */
export function dtlsRecords(datagram: Buffer): DtlsRecordHeader[] {
  const out: DtlsRecordHeader[] = [];
  let off = 0;
  while (off + 13 <= datagram.length) {
    const contentType = datagram[off];
    const version = datagram.readUInt16BE(off + 1);
    const epoch = datagram.readUInt16BE(off + 3);
    const length = datagram.readUInt16BE(off + 11);
    if (off + 13 + length > datagram.length) break;
    const rec: DtlsRecordHeader = { contentType, version, epoch, length };
    if (contentType === 22 && epoch === 0 && length > 0) rec.handshakeType = datagram[off + 13];
    out.push(rec);
    off += 13 + length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// An RSA-2048 PKI
// ---------------------------------------------------------------------------------------

export interface RsaPki {
  ca: string;
  /** localhost, 127.0.0.1; RSA 2048, signed by the CA; certificate + key PEM. */
  server: string;
  /** CN=client, RSA 2048, signed by the CA. */
  client: string;
}

const validity = (): { notBeforeDate: Date; notAfterDate: Date } => {
  const now = Date.now();
  return { notBeforeDate: new Date(now - 3600_000), notAfterDate: new Date(now + 7 * 24 * 3600_000) };
};

/** A CA, a server and a client certificate with RSA 2048 keys, SHA-256 signatures. */
export async function makeRsaPki(): Promise<RsaPki> {
  const caPems = await generate([{ name: 'commonName', value: 'socket-provider RSA test CA' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    ...validity(),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const ca = { key: caPems.private, cert: caPems.cert };
  const leaf = async (cn: string, clientAuth: boolean): Promise<string> => {
    const pems = await generate([{ name: 'commonName', value: cn }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      ...validity(),
      ca,
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: !clientAuth, clientAuth },
        {
          name: 'subjectAltName',
          altNames: clientAuth
            ? [{ type: 2, value: cn }]
            : [
                { type: 2, value: 'localhost' },
                { type: 7, ip: '127.0.0.1' },
              ],
        },
      ],
    });
    return `${pems.cert}\n${pems.private}`;
  };
  const [server, client] = await Promise.all([leaf('localhost', false), leaf('client', true)]);
  return { ca: caPems.cert, server, client };
}

// ---------------------------------------------------------------------------------------
// A UDP relay (a NAT-like forwarder) between two endpoints on 127.0.0.1
// ---------------------------------------------------------------------------------------

/** What the relay does with one datagram: forward it (default) or drop it. */
export type RelayVerdict = 'forward' | 'drop';

/**
 * One plain dgram socket that forwards datagrams from endpoint A to endpoint B and back, each
 * side seeing the relay's port as its peer. Lets two connected UDP sockets talk (neither can
 * know the other's port in advance), and lets a test see, drop or withhold datagrams.
 */
export class UdpRelay {
  private a: number | null = null;
  private b: number | null = null;
  /** Every datagram seen, in order, with its direction. */
  readonly seen: Array<{ from: 'a' | 'b'; data: Buffer; verdict: RelayVerdict }> = [];
  /** Decides per datagram; default forwards everything. */
  decide: (from: 'a' | 'b', data: Buffer, index: number) => RelayVerdict = () => 'forward';

  constructor(readonly peer: PlainUdp) {
    peer.sock.on('message', (data, rinfo) => {
      if (rinfo.address !== '127.0.0.1') return;
      const from = rinfo.port === this.a ? 'a' : rinfo.port === this.b ? 'b' : null;
      if (!from) return;
      const to = from === 'a' ? this.b : this.a;
      const verdict = this.decide(from, Buffer.from(data), this.seen.length);
      this.seen.push({ from, data: Buffer.from(data), verdict });
      if (verdict === 'forward' && to !== null) peer.sock.send(data, to, '127.0.0.1');
    });
  }

  get port(): number {
    return this.peer.port;
  }

  /** Sets the two endpoints' ports (both on 127.0.0.1). */
  between(aPort: number, bPort: number): void {
    this.a = aPort;
    this.b = bPort;
  }
}

/** A relay on its own plain dgram socket (closed by {@link closePlainSockets}). */
export async function udpRelay(): Promise<UdpRelay> {
  return new UdpRelay(await plainUdp());
}
