// The server the scan looks at: a TLS echo server set up as the demo's (scripts/demo/tls.ts)
// with the framework's default TLS settings, on loopback, certificates made at run time.
import { createTlsSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { TestPki } from '../certs';
import { EchoConnection } from '../demo/tcp';

/** A listening TLS echo server; `close()` stops it and resolves once the listener has ended. */
export interface ScanTarget {
  host: string;
  port: number;
  /** Connections that reached the listener (each is accepted and handed to the TLS handshake). */
  readonly connectionsSeen: number;
  close(): Promise<ShutdownReason>;
}

/**
 * Starts a TLS echo server set up as the demo's: nothing but a certificate and the demo's ALPN list
 * set on its context: every other setting (protocol versions, ciphers, groups, renegotiation,
 * handshake time-out) is the framework's default.
 */
export function startScanTarget(pki: TestPki, host = '127.0.0.1'): Promise<ScanTarget> {
  const tls = createTlsSocketProvider();
  const context = tls.createSocketContext();
  context.setServerCertificate(pki.server);
  context.setAlpnProtocols(['h2', 'http/1.1']); // as the demo's server
  return new Promise((resolve, reject) => {
    let seen = 0;
    let ended: (reason: ShutdownReason) => void = () => undefined;
    const endedPromise = new Promise<ShutdownReason>((r) => (ended = r));
    let bound = false;
    const listener = tls.createSocket(
      new (class extends USocket {
        override socketBindResult(s: ISocket, addr: string, port: number): void {
          bound = true;
          s.listen();
          resolve({
            host: addr,
            port,
            get connectionsSeen() {
              return seen;
            },
            close: () => {
              listener.shutdown();
              return endedPromise;
            },
          });
        }
        override socketListenResult(s: ISocket): void {
          seen++;
          s.accept(new EchoConnection());
        }
        socketShutdown(_s: ISocket, reason: ShutdownReason): void {
          if (!bound) reject(new Error(`the scan target could not listen on ${host}: ${reason}`));
          ended(reason);
        }
      })(),
      { context },
    );
    listener.bind(host, 0);
  });
}
