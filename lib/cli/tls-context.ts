import { readFileSync } from 'node:fs';
import type { ISocketContext, ISocketProvider } from '../index';
import type { CliOptions } from './args';
import { UsageError } from './args';
import type { Reporter } from './report';

/** Reads a PEM file named by an option; an unreadable file is a usage error. */
function readPem(option: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${option} ${file}: ${(err as Error).message}`);
  }
}

/** Runs a context setter; a PEM or ALPN it refuses is a usage error naming the option. */
function apply(option: string, set: () => void): void {
  try {
    set();
  } catch (err) {
    throw new UsageError(`${option}: ${(err as Error).message}`);
  }
}

/**
 * The socket context for --cert, --ca, --alpn, --insecure and --dtls. On listen, --cert is the
 * server certificate and --ca makes a client certificate required; on connect, --cert is
 * the client certificate and --ca replaces Node's root store. --dtls enables DTLS with
 * DTLS-SRTP offered (a peer that does not want SRTP still completes its handshake, without it).
 */
export function buildContext(tls: ISocketProvider, o: CliOptions, reporter: Reporter): ISocketContext {
  const context = tls.createSocketContext(reporter.log);
  const listening = o.command === 'listen';
  if (o.certFile !== null) {
    const pem = readPem('--cert', o.certFile);
    apply('--cert', () => (listening ? context.setServerCertificate(pem) : context.setClientCertificate(pem)));
  }
  if (o.caFile !== null) {
    const pem = readPem('--ca', o.caFile);
    apply('--ca', () => context.setCertificateAuthority(pem));
    if (listening) context.requireClientCertificate(true);
  }
  if (o.alpn !== null) {
    const alpn = o.alpn;
    apply('--alpn', () => context.setAlpnProtocols(alpn));
  }
  if (o.insecure) {
    context.setVerifyPeer(false);
    reporter.notice("warning: --insecure: the server's certificate and name are NOT verified");
  }
  if (o.dtls) context.enableDtls(true);
  return context;
}
