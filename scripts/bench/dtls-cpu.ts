// CPU time per DTLS datagram echoed or per DTLS handshake, both ends in this one process: the
// A/B tool the DTLS changes of issue #19 were measured with (docs/performance.md, DTLS). On a
// shared machine rates swing with other load; the CPU time of one process doing both ends
// swings less. Compare two versions of lib/ by running each a few times, interleaved:
//
//   npx ts-node --transpile-only scripts/bench/dtls-cpu.ts echo|handshake [LIBDIR] [RUNS]
//
// LIBDIR is a copy of lib/ (e.g. from `git archive <commit> lib`), default this checkout's.
// echo: 20k datagrams of 512 B through a DTLS listener, 256 in flight; handshake: 100 sessions
// (UDP connect, handshake, close_notify), 10 in flight. The first run warms up and is not counted.
import { join, resolve } from 'node:path';
import type * as Lib from '../../lib';
import { makeTestPki } from '../certs';

const mode = process.argv[2] === 'handshake' ? 'handshake' : 'echo';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib = require(resolve(process.argv[3] ?? join(__dirname, '..', '..', 'lib'))) as typeof Lib;
const runs = Number(process.argv[4] ?? 5);
const { USocket } = lib;
type ISocket = Lib.ISocket;
const udp = lib.createUdpSocketProvider();
const tls = lib.createTlsSocketProvider();

/** A user whose sockets may end; an end other than NORMAL or BY_PEER is reported. */
class Quiet extends USocket {
  override socketShutdown(_s: ISocket, reason: Lib.ShutdownReason): void {
    if (reason !== lib.ShutdownReason.Normal && reason !== lib.ShutdownReason.ByPeer) console.error(`a socket ended: ${reason}`);
  }
}

const cpuUs = (since: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(since);
  return c.user + c.system;
};

/** A DTLS listener on 127.0.0.1 that accepts everyone and echoes; resolves with its port. */
function listener(context: Lib.ISocketContext): Promise<number> {
  class Echo extends Quiet {
    private readonly buf = new Uint8Array(2048);
    override socketAcceptComplete(s: ISocket): void {
      s.recv(this.buf);
    }
    override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
      s.send(b, n);
      s.recv(b);
    }
  }
  class Listener extends Quiet {
    override socketListenResult(l: ISocket): void {
      l.accept(new Echo());
    }
  }
  return new Promise((done) => {
    class Bound extends Quiet {
      override socketBindResult(s: ISocket, _a: string, port: number): void {
        s.listen();
        tls.upgradeToTls(s, new Listener(), { serverSide: true, context });
        done(port);
      }
    }
    udp.createSocket(new Bound()).bind('127.0.0.1', 0);
  });
}

/** Opens a DTLS client to `port`; `user` gets the DTLS socket. */
function open(port: number, context: Lib.ISocketContext, user: Lib.USocket): void {
  class Plain extends Quiet {
    override socketConnectComplete(s: ISocket): void {
      tls.upgradeToTls(s, user, { context, serverName: 'localhost' });
    }
  }
  udp.createSocket(new Plain()).connect(`127.0.0.1:${port}`);
}

/** µs of CPU per datagram echoed (both ends), over `total` datagrams with 256 in flight. */
function echoRun(port: number, context: Lib.ISocketContext, total: number): Promise<number> {
  return new Promise((done) => {
    const out = new Uint8Array(512).fill(7);
    let sent = 0;
    let got = 0;
    let cpu0: NodeJS.CpuUsage;
    class Pump extends Quiet {
      private readonly buf = new Uint8Array(2048);
      override socketUpgradeToTlsComplete(s: ISocket): void {
        s.recv(this.buf);
        cpu0 = process.cpuUsage();
        for (; sent < 256; sent++) s.send(out);
      }
      override socketRecvFromResult(s: ISocket, b: Uint8Array): void {
        if (++got === total) {
          done(cpuUs(cpu0) / total);
          s.shutdown();
          return;
        }
        if (sent < total) {
          sent++;
          s.send(out);
        }
        s.recv(b);
      }
    }
    open(port, context, new Pump());
  });
}

/** ms of CPU per session (both ends), over `total` sessions with 10 in flight. */
function handshakeRun(port: number, context: Lib.ISocketContext, total: number): Promise<number> {
  return new Promise((done) => {
    const cpu0 = process.cpuUsage();
    let started = 0;
    let ended = 0;
    class Session extends Quiet {
      override socketUpgradeToTlsComplete(s: ISocket): void {
        s.shutdown();
      }
      override socketShutdown(s: ISocket, reason: Lib.ShutdownReason): void {
        super.socketShutdown(s, reason);
        if (++ended === total) done(cpuUs(cpu0) / 1000 / total);
        else next();
      }
    }
    const next = (): void => {
      if (started++ < total) open(port, context, new Session());
    };
    for (let i = 0; i < 10; i++) next();
  });
}

async function main(): Promise<void> {
  const pki = await makeTestPki();
  const serverContext = tls.createSocketContext();
  serverContext.setServerCertificate(pki.server);
  serverContext.enableDtls(true);
  const clientContext = tls.createSocketContext();
  clientContext.setCertificateAuthority(pki.ca);
  clientContext.enableDtls(true);
  const port = await listener(serverContext);
  const figures: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const x = mode === 'echo' ? await echoRun(port, clientContext, 20_000) : await handshakeRun(port, clientContext, r === 0 ? 30 : 100);
    if (r > 0) figures.push(x);
  }
  const sorted = [...figures].sort((a, b) => a - b);
  const unit = mode === 'echo' ? 'µs per datagram echoed' : 'ms per handshake';
  console.log(`CPU, both ends: median ${sorted[sorted.length >> 1].toFixed(2)} ${unit}; runs ${figures.map((x) => x.toFixed(2)).join(' ')}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
