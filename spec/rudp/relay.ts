/**
 * A UDP relay for the rudp specs: a client connects to the relay's port, and the relay forwards
 * each datagram to the server from its own port (the server sees the relay as the peer) and
 * the server's answers back. It records what passes (for replays and mutations) and can stop
 * forwarding (a peer that vanishes).
 */
import * as dgram from 'node:dgram';

export interface Relay {
  /** The port clients connect to. */
  port: number;
  /** The port the server sees the client's packets come from. */
  serverSidePort: number;
  /** Datagrams from the client to the server, in order (at most `keep`, the newest). */
  toServer: Buffer[];
  /** Datagrams from the server to the client (at most `keep`, the newest). */
  toClient: Buffer[];
  /** Forward nothing more either way. */
  blocked: boolean;
  /** Sends `data` to the server from the relay's server-side port (the client's address, as the server sees it). */
  injectToServer(data: Buffer): void;
  close(): Promise<void>;
}

export async function startRelay(serverPort: number, keep = 2000): Promise<Relay> {
  const front = dgram.createSocket('udp4');
  const back = dgram.createSocket('udp4');
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', r));
  let client: { address: string; port: number } | null = null;
  const relay: Relay = {
    port: front.address().port,
    serverSidePort: back.address().port,
    toServer: [],
    toClient: [],
    blocked: false,
    injectToServer: (data) => back.send(data, serverPort, '127.0.0.1'),
    close: async () => {
      await Promise.all([front, back].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
  const record = (list: Buffer[], m: Buffer): void => {
    list.push(Buffer.from(m));
    if (list.length > keep) list.shift();
  };
  front.on('message', (m, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    if (relay.blocked) return;
    record(relay.toServer, m);
    back.send(m, serverPort, '127.0.0.1');
  });
  back.on('message', (m) => {
    if (relay.blocked || !client) return;
    record(relay.toClient, m);
    front.send(m, client.port, client.address);
  });
  return relay;
}

/** A plain dgram socket on 127.0.0.1 that counts what it sends and receives (a stranger, or a spoofed source). */
export interface Stranger {
  port: number;
  /** The first 1000 datagrams it received. */
  packets: Buffer[];
  send(data: Buffer, port: number): void;
  sent(): number;
  received(): number;
  close(): Promise<void>;
}

export async function stranger(): Promise<Stranger> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  let received = 0;
  let sent = 0;
  const packets: Buffer[] = [];
  socket.on('message', (m) => {
    received += m.byteLength;
    if (packets.length < 1000) packets.push(m);
  });
  return {
    port: socket.address().port,
    packets,
    send: (data, port) => {
      sent += data.byteLength;
      socket.send(data, port, '127.0.0.1');
    },
    sent: () => sent,
    received: () => received,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}
