/**
 * `options.tls` of connect/listen/startTls: the socket context described as Node's `tls`
 * options are (certificates, trust, ALPN), made into an `ISocketContext` by the layer.
 */
import type { ISocketContext, ISocketProvider } from '../api';
import type { TlsContextOptions } from './api';

/** The context `options.context` names, else one made from `options.tls`, else none. */
export function contextOf(provider: ISocketProvider, options: { context?: ISocketContext; tls?: TlsContextOptions }): ISocketContext | undefined {
  if (options.context || !options.tls) return options.context;
  const t = options.tls;
  const ctx = provider.createSocketContext();
  if (t.certificate !== undefined) {
    if (t.role === 'client') ctx.setClientCertificate(t.certificate);
    else ctx.setServerCertificate(t.certificate);
  }
  if (t.ca !== undefined) ctx.setCertificateAuthority(t.ca);
  if (t.alpn) ctx.setAlpnProtocols(t.alpn);
  if (t.requireClientCertificate) ctx.requireClientCertificate(true);
  if (t.verifyPeer === false) ctx.setVerifyPeer(false);
  if (t.dtls) ctx.enableDtls(t.dtls === 'srtp');
  return ctx;
}
