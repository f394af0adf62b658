// The DTLS part of the demo: a DTLS-SRTP exchange. A bound UDP socket is upgraded to a DTLS
// server and serves the first peer that completes a handshake; a connected UDP socket is
// upgraded to a DTLS client that verifies the server; both sides derive the SRTP keys, which
// must be equal; a stranger's datagram is ignored; one datagram goes each way; the client's
// shutdown sends close_notify. Certificates are made at run time.
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { makeTestPki } from '../certs';

/** The RFC 5764 layout of the keying material: client key | server key | client salt | server salt. */
function describeKeys(profile: string, material: Uint8Array): string {
  const [key, salt] = profile === 'SRTP_AEAD_AES_128_GCM' ? [16, 12] : [16, 14];
  return `${material.byteLength} bytes = client key ${key} | server key ${key} | client salt ${salt} | server salt ${salt}`;
}

/** Runs the DTLS part; resolves with its report. */
export async function runDtls(): Promise<string[]> {
  const udp = createUdpSocketProvider();
  const tls = createTlsSocketProvider(); // DTLS is an upgrade of a UDP socket, made by the TLS provider
  const report: string[] = [];
  const pki = await makeTestPki();
  report.push('  certificates made at run time: a CA and a server certificate for localhost / 127.0.0.1');

  const serverCtx = tls.createSocketContext();
  serverCtx.setServerCertificate(pki.server);
  serverCtx.enableDtls(true); // DTLS-SRTP: offers SRTP_AES128_CM_SHA1_80 and SRTP_AEAD_AES_128_GCM
  const clientCtx = tls.createSocketContext();
  clientCtx.setCertificateAuthority(pki.ca); // verification is on by default
  clientCtx.enableDtls(true);

  return new Promise((resolve) => {
    let serverKeys: Uint8Array | null = null;
    let serverPort = 0;
    let ends = 2;
    const ended = (who: string, reason: ShutdownReason): void => {
      report.push(`  ${who} ended: ${reason}`);
      if (--ends === 0) resolve(report);
    };

    class DtlsServerSide extends USocket {
      private readonly buf = new Uint8Array(1500);
      override socketUpgradeToTlsComplete(s: ISocket): void {
        const srtp = s.getSrtpKeyingMaterial();
        serverKeys = srtp?.material ?? null;
        report.push(`  server: handshake done, serves ${s.remoteAddress}:${s.remotePort} only from now on (${srtp?.profile})`);
        s.recv(this.buf);
      }
      override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number, addr: string, port: number): void {
        const strangers = (s as ISocket & { strangerDatagrams: number }).strangerDatagrams;
        report.push(`  server got "${Buffer.from(b.subarray(0, n))}" from ${addr}:${port}; datagrams from strangers ignored: ${strangers}`);
        s.send(Buffer.from('pong over DTLS'));
      }
      override socketSendResult(s: ISocket): void {
        s.recv(this.buf); // the next datagram once the answer was sent
      }
      socketShutdown(_s: ISocket, reason: ShutdownReason): void {
        ended('DTLS server', reason);
      }
    }

    class DtlsClientSide extends USocket {
      private readonly buf = new Uint8Array(1500);
      override socketUpgradeToTlsComplete(s: ISocket): void {
        const srtp = s.getSrtpKeyingMaterial()!;
        report.push(`  client: server verified (CN=${s.getPeerCertificate()?.subject?.CN}), ${srtp.profile}`);
        report.push(`  SRTP keying material: ${describeKeys(srtp.profile, srtp.material)}`);
        report.push(`  same keying material on both sides: ${serverKeys !== null && Buffer.from(srtp.material).equals(serverKeys)}`);
        s.recv(this.buf);
        // A stranger writes to the server's port: the server has its peer and ignores it.
        udp
          .createSocket(
            new (class extends USocket {
              override socketSendResult(stranger: ISocket): void {
                stranger.shutdown();
                s.send(Buffer.from('ping over DTLS')); // one protected datagram
              }
              socketShutdown(): void {}
            })(),
          )
          .sendTo(Buffer.from('let me in'), undefined, '127.0.0.1', serverPort);
      }
      override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number, addr: string, port: number): void {
        report.push(`  client got "${Buffer.from(b.subarray(0, n))}" from ${addr}:${port}`);
        s.shutdown(); // sends close_notify: the server ends with SOCKET_SHUTDOWN_BY_PEER
      }
      socketShutdown(_s: ISocket, reason: ShutdownReason): void {
        ended('DTLS client', reason);
      }
    }

    // Plain UDP sockets report an end only if they fail before their upgrade.
    const failed =
      (who: string) =>
      (_s: ISocket, reason: ShutdownReason): void => {
        report.push(`  ${who} failed: ${reason}`);
        resolve(report);
      };

    udp
      .createSocket(
        new (class extends USocket {
          override socketBindResult(s: ISocket, addr: string, port: number): void {
            serverPort = port;
            report.push(`  UDP socket bound on ${addr}:${port}, upgraded to a DTLS server: it serves the first peer to complete a handshake`);
            tls.upgradeToTls(s, new DtlsServerSide(), { serverSide: true, context: serverCtx });
            udp
              .createSocket(
                new (class extends USocket {
                  override socketConnectComplete(c: ISocket): void {
                    report.push(`  UDP socket connected from port ${c.localPort} to ${c.remoteAddress}:${c.remotePort}, upgraded to a DTLS client`);
                    tls.upgradeToTls(c, new DtlsClientSide(), { context: clientCtx }); // verifies the name 127.0.0.1
                  }
                  socketShutdown = failed('client UDP socket');
                })(),
              )
              .connect(`${addr}:${port}`);
          }
          socketShutdown = failed('server UDP socket');
        })(),
      )
      .bind('127.0.0.1', 0);
  });
}
