// DTLS figures for `npm run bench`: handshake time (bound server, connected client, loopback,
// ECDSA P-256, with DTLS-SRTP) and the datagram rate through an echo with a credit window.
// There is no raw-Node counterpart to compare with: Node has no DTLS.
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketContext, ShutdownReason, USocket } from '../../lib';
import { makeTestPki } from '../certs';

const udp = createUdpSocketProvider();
const tls = createTlsSocketProvider();

interface Pair {
  client: ISocket;
  server: ISocket;
  handshakeMs: number;
}

/** One DTLS session: resolves once both sides reported socketUpgradeToTlsComplete. */
function session(serverCtx: ISocketContext, clientCtx: ISocketContext, serverUser: USocket, clientUser: USocket): Promise<Pair> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    let server: ISocket | undefined;
    let client: ISocket | undefined;
    let done = 0;
    const complete = (): void => {
      if (++done === 2) resolve({ client: client!, server: server!, handshakeMs: Number(process.hrtime.bigint() - started) / 1e6 });
    };
    const wrap = (u: USocket): USocket =>
      Object.assign(Object.create(u), {
        socketUpgradeToTlsComplete: (s: ISocket) => {
          u.socketUpgradeToTlsComplete(s);
          complete();
        },
        socketShutdown: (s: ISocket, r: ShutdownReason) => {
          if (done < 2) reject(new Error(`DTLS session ended before its handshake: ${r}`));
          u.socketShutdown(s, r);
        },
      });
    const bound = udp.createSocket(
      Object.assign(Object.create(USocket.prototype), {
        socketBindResult: (s: ISocket, _a: string, port: number) => {
          server = tls.upgradeToTls(s, wrap(serverUser), { serverSide: true, context: serverCtx });
          const c = udp.createSocket(
            Object.assign(Object.create(USocket.prototype), {
              socketConnectComplete: (cs: ISocket) => {
                client = tls.upgradeToTls(cs, wrap(clientUser), { context: clientCtx, serverName: 'localhost' });
              },
              socketShutdown: () => undefined,
            }),
          );
          c.connect(`127.0.0.1:${port}`);
        },
        socketShutdown: () => undefined,
      }),
    );
    bound.bind('127.0.0.1', 0);
  });
}

class Quiet extends USocket {
  socketShutdown(): void {}
}

/** Echoes every datagram back. */
class Echo extends USocket {
  private readonly buf = new Uint8Array(2048);
  override socketUpgradeToTlsComplete(s: ISocket): void {
    s.recv(this.buf);
  }
  override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
    s.send(b, n);
    s.recv(this.buf);
  }
  socketShutdown(): void {}
}

/** Sends `total` datagrams of `size` bytes, `window` in flight, counting the echoes. */
class Pump extends USocket {
  private readonly buf = new Uint8Array(2048);
  private readonly payload: Uint8Array;
  private sentCount = 0;
  private got = 0;
  private started = 0n;
  finished!: (rate: number) => void;
  constructor(
    private readonly total: number,
    size: number,
    private readonly window: number,
  ) {
    super();
    this.payload = new Uint8Array(size).fill(7);
  }
  run(s: ISocket): Promise<number> {
    return new Promise((resolve) => {
      this.finished = resolve;
      this.started = process.hrtime.bigint();
      s.recv(this.buf);
      while (this.sentCount < Math.min(this.window, this.total)) this.sendOne(s);
    });
  }
  private sendOne(s: ISocket): void {
    this.sentCount++;
    s.send(this.payload);
  }
  override socketRecvFromResult(s: ISocket): void {
    this.got++;
    if (this.got === this.total) {
      this.finished(this.total / (Number(process.hrtime.bigint() - this.started) / 1e9));
      return;
    }
    if (this.sentCount < this.total) this.sendOne(s);
    s.recv(this.buf);
  }
  socketShutdown(): void {}
}

export async function benchDtls(quick: boolean): Promise<Array<[string, string]>> {
  const pki = await makeTestPki();
  const serverCtx = tls.createSocketContext();
  serverCtx.setServerCertificate(pki.server);
  serverCtx.enableDtls(true);
  const clientCtx = tls.createSocketContext();
  clientCtx.setCertificateAuthority(pki.ca);
  clientCtx.enableDtls(true);

  const times: number[] = [];
  for (let i = 0; i < (quick ? 5 : 20); i++) {
    const pair = await session(serverCtx, clientCtx, new Quiet(), new Quiet());
    times.push(pair.handshakeMs);
    pair.client.shutdown();
    pair.server.shutdown();
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];

  const pump = new Pump(quick ? 2000 : 20000, 512, 32);
  const pair = await session(serverCtx, clientCtx, new Echo(), pump);
  const rate = await pump.run(pair.client);
  pair.client.shutdown();
  pair.server.shutdown();
  return [
    ['DTLS handshake (ECDSA P-256, SRTP), median of ' + times.length, `${median.toFixed(1)} ms`],
    ['DTLS 512 B datagram echo, 32 in flight', `${Math.round(rate)} datagrams/s`],
  ];
}
