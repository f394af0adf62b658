/**
 * A witness: a live connection (or connected UDP socket) that must keep working while a test
 * throws bad input at other sockets. Its users are plain objects, not recording users, so the
 * per-test cleanup (cleanupAndCheck) leaves it alone; `roundTrip()` echoes fresh bytes through
 * it and fails if they do not come back whole.
 */
import * as dgram from 'node:dgram';
import { ISocket, ISocketProvider, ShutdownReason, SocketOptions, USocket } from '../../../lib';
import { pollUntil, randomBytes, withTimeout } from '../../helpers/net-helpers';

const WAIT = 10_000;
const CHUNK = 16 * 1024;

/** Accepted connections of a witness listener: echo everything (recv → send → send result → recv). */
function echoUser(): USocket {
  const buf = new Uint8Array(CHUNK);
  return {
    socketAcceptComplete: (s: ISocket) => s.recv(buf, CHUNK, true),
    socketRecvResult: (s: ISocket, b: Uint8Array, n: number) => s.send(b, n),
    socketSendResult: (s: ISocket) => s.recv(buf, CHUNK, true),
    socketShutdown: () => undefined,
  } as unknown as USocket;
}

export interface Witness {
  /** Where the witness listener accepts (echoing) connections, for stream transports. */
  address: string;
  roundTrip(): Promise<void>;
  close(): Promise<void>;
}

/** A client that sends `n` bytes and waits for exactly those `n` back. */
class EchoProbe {
  private want: Buffer | null = null;
  private done: ((ok: boolean) => void) | null = null;
  ended: ShutdownReason | null = null;
  connected = false;
  readonly user = {
    socketConnectComplete: () => (this.connected = true),
    socketRecvResult: (_s: ISocket, b: Uint8Array, n: number) =>
      this.done?.(this.want !== null && n === this.want.length && Buffer.from(b.subarray(0, n)).equals(this.want)),
    socketRecvFromResult: (_s: ISocket, b: Uint8Array, n: number) =>
      this.done?.(this.want !== null && n === this.want.length && Buffer.from(b.subarray(0, n)).equals(this.want)),
    socketShutdown: (_s: ISocket, r: ShutdownReason) => {
      this.ended = r;
      this.done?.(false);
    },
  } as unknown as USocket;

  async roundTrip(socket: ISocket): Promise<void> {
    if (this.ended) throw new Error(`the witness had ended (${this.ended})`);
    const data = randomBytes(32);
    this.want = data;
    const ok = new Promise<boolean>((resolve) => (this.done = resolve));
    socket.send(data);
    socket.recv(new Uint8Array(64), 32, false);
    const fine = await withTimeout(ok, WAIT, 'the witness round trip');
    this.done = null;
    if (!fine) throw new Error(`the witness round trip failed (ended: ${this.ended})`);
  }
}

/** A listener plus one connected client on it, over a stream transport. */
export async function streamWitness(
  provider: ISocketProvider,
  server: SocketOptions,
  client: SocketOptions,
  bindArgs: [string | null, number],
  connectAddress: (addr: string, port: number) => string,
): Promise<Witness> {
  let bound: [string, number] | null = null;
  const listener = provider.createSocket(
    {
      socketBindResult: (_s: ISocket, a: string, p: number) => (bound = [a, p]),
      socketListenResult: (s: ISocket) => s.accept(echoUser()),
      socketShutdown: () => undefined,
    } as unknown as USocket,
    server,
  );
  listener.bind(...bindArgs);
  listener.listen();
  await pollUntil(() => bound !== null, 'the witness listener to bind', WAIT);
  const address = connectAddress(...bound!);
  const probe = new EchoProbe();
  const sock = provider.createSocket(probe.user, client);
  sock.connect(address);
  await pollUntil(() => probe.connected || probe.ended !== null, 'the witness to connect', WAIT);
  return {
    address,
    roundTrip: () => probe.roundTrip(sock),
    close: async () => {
      sock.shutdown();
      listener.shutdown();
      await pollUntil(() => probe.ended !== null, 'the witness to end', WAIT);
    },
  };
}

/** A plain dgram echo peer on 127.0.0.1, and a framework UDP socket connected to it. */
export async function udpWitness(provider: ISocketProvider): Promise<Witness & { echoPort: number }> {
  const echo = dgram.createSocket('udp4');
  echo.on('message', (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', resolve));
  const echoPort = echo.address().port;
  const probe = new EchoProbe();
  const sock = provider.createSocket(probe.user);
  sock.connect(`127.0.0.1:${echoPort}`);
  await pollUntil(() => probe.connected || probe.ended !== null, 'the UDP witness to connect', WAIT);
  return {
    address: `127.0.0.1:${echoPort}`,
    echoPort,
    roundTrip: () => probe.roundTrip(sock),
    close: async () => {
      sock.shutdown();
      await pollUntil(() => probe.ended !== null, 'the UDP witness to end', WAIT);
      echo.close();
    },
  };
}
