// The TLS part of the demo: a CA-verified echo with ALPN, a client that refuses a rogue
// server, and an SMTP-like STARTTLS exchange. Certificates are made at run time.
import { createTcpSocketProvider, createTlsSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { makeTestPki, TestPki } from '../certs';
import { EchoClient, EchoConnection, Prober } from './tcp';

const tls = createTlsSocketProvider();

function tlsEcho(pki: TestPki, report: string[]): Promise<void> {
  return new Promise((resolve) => {
    const serverCtx = tls.createSocketContext();
    serverCtx.setServerCertificate(pki.server);
    serverCtx.setAlpnProtocols(['h2', 'http/1.1']);
    const clientCtx = tls.createSocketContext();
    clientCtx.setCertificateAuthority(pki.ca); // verification is on by default
    clientCtx.setAlpnProtocols(['http/1.1', 'h2']);

    const listener = tls.createSocket(
      new (class extends USocket {
        override socketBindResult(s: ISocket, _addr: string, port: number): void {
          s.listen();
          let left = 2;
          const done = (): void => {
            if (--left === 0) s.shutdown();
          };
          const client = tls.createSocket(
            new (class extends EchoClient {
              override socketConnectComplete(c: ISocket): void {
                report.push(`  TLS client connected: peer CN=${c.getPeerCertificate()?.subject?.CN}, ALPN=${c.alpnProtocol} (server's preference)`);
                super.socketConnectComplete(c);
              }
            })('TLS echo', Buffer.from('hello over TLS'), report, done),
            { context: clientCtx },
          );
          client.connect(`localhost:${port}`);
          client.send(Buffer.from('hello over TLS'));
          // A server nobody vouches for: the client refuses it during the handshake.
          rogue(pki, report, done);
        }
        override socketListenResult(s: ISocket): void {
          s.accept(new EchoConnection());
        }
        socketShutdown(): void {
          resolve();
        }
      })(),
      { context: serverCtx },
    );
    listener.bind('127.0.0.1', 0);
  });
}

function rogue(pki: TestPki, report: string[], done: () => void): void {
  const rogueCtx = tls.createSocketContext();
  rogueCtx.setServerCertificate(pki.rogue);
  const trusting = tls.createSocketContext();
  trusting.setCertificateAuthority(pki.ca);
  const listener = tls.createSocket(
    new (class extends USocket {
      override socketBindResult(s: ISocket, _a: string, port: number): void {
        s.listen();
        tls
          .createSocket(new Prober('TLS client vs a self-signed server', report, () => (s.shutdown(), done())), { context: trusting })
          .connect(`localhost:${port}`);
      }
      override socketListenResult(s: ISocket): void {
        s.accept(
          new (class extends USocket {
            socketShutdown(): void {}
          })(),
        );
      }
      socketShutdown(): void {}
    })(),
    { context: rogueCtx },
  );
  listener.bind('127.0.0.1', 0);
}

/** SMTP-like: greeting, STARTTLS, "220 go ahead", then both sides upgrade the same TCP connection. */
function startTls(pki: TestPki, report: string[]): Promise<void> {
  const tcp = createTcpSocketProvider();
  const serverCtx = tls.createSocketContext();
  serverCtx.setServerCertificate(pki.server);
  const clientCtx = tls.createSocketContext();
  clientCtx.setCertificateAuthority(pki.ca);
  const line = (b: Uint8Array, n: number): string => Buffer.from(b.subarray(0, n)).toString().trim();

  return new Promise((resolve) => {
    let ends = 2; // the client's end and the listener's
    const ended = (): void => {
      if (--ends === 0) resolve();
    };
    class SmtpServerSide extends USocket {
      private readonly buf = new Uint8Array(10);
      override socketAcceptComplete(s: ISocket): void {
        s.send(Buffer.from('220 ready\r\n'));
        s.recv(this.buf); // exactly "STARTTLS\r\n"
      }
      override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
        report.push(`  server read "${line(b, n)}" in plaintext`);
        s.send(Buffer.from('220 go ahead\r\n')); // queued: goes out before the handshake
        tls.upgradeToTls(s, new SecureServerSide(), { serverSide: true, context: serverCtx });
      }
      socketShutdown(): void {}
    }
    class SecureServerSide extends USocket {
      private readonly buf = new Uint8Array(100);
      override socketUpgradeToTlsComplete(s: ISocket): void {
        s.recv(this.buf, undefined, true);
      }
      override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
        report.push(`  server read "${line(b, n)}" over ${s.type.toUpperCase()}`);
        s.send(Buffer.from('250 ok\r\n'));
        s.shutdown();
      }
      socketShutdown(): void {
        listener.shutdown();
      }
    }
    class SmtpClientSide extends USocket {
      private readonly greeting = new Uint8Array(11);
      private readonly goAhead = new Uint8Array(14);
      override socketConnectComplete(s: ISocket): void {
        s.recv(this.greeting);
      }
      override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
        if (b === this.greeting) {
          report.push(`  client read "${line(b, n)}"; sends STARTTLS`);
          s.send(Buffer.from('STARTTLS\r\n'));
          return;
        }
        report.push(`  client read "${line(b, n)}"; upgrades`);
        tls.upgradeToTls(s, new SecureClientSide(), { context: clientCtx, serverName: 'localhost' });
      }
      override socketSendResult(s: ISocket): void {
        s.recv(this.goAhead); // the answer to STARTTLS, read once the command was sent
      }
      socketShutdown(): void {}
    }
    class SecureClientSide extends USocket {
      private readonly buf = new Uint8Array(8);
      override socketUpgradeToTlsComplete(s: ISocket): void {
        report.push(`  client upgraded: ${s.type.toUpperCase()}, server CN=${s.getPeerCertificate()?.subject?.CN}`);
        s.send(Buffer.from('MAIL FROM:<demo@example.test>\r\n'));
        s.recv(this.buf);
      }
      override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
        report.push(`  client read "${line(b, n)}" over TLS`);
        s.shutdown();
      }
      socketShutdown(_s: ISocket, reason: ShutdownReason): void {
        report.push(`  STARTTLS client ended: ${reason}`);
        ended();
      }
    }
    const listener = tcp.createSocket(
      new (class extends USocket {
        override socketBindResult(s: ISocket, _a: string, port: number): void {
          s.listen();
          tcp.createSocket(new SmtpClientSide()).connect(`localhost:${port}`);
        }
        override socketListenResult(s: ISocket): void {
          s.accept(new SmtpServerSide());
        }
        socketShutdown(): void {
          ended();
        }
      })(),
    );
    listener.bind('127.0.0.1', 0);
  });
}

/** Runs the TLS part; resolves with its report. */
export async function runTls(): Promise<string[]> {
  const report: string[] = [];
  const pki = await makeTestPki();
  report.push('  certificates made at run time: a CA, a server for localhost, a self-signed rogue');
  await tlsEcho(pki, report);
  report.push('  -- STARTTLS (SMTP-like) --');
  await startTls(pki, report);
  return report;
}
