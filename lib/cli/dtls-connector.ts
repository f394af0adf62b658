import { ISocket, ISocketContext, ISocketProvider, ShutdownReason, USocket } from '../index';
import { formatAddress } from './address';
import type { SessionEnv } from './pipe-session';

/**
 * `connect tls --dtls`: the user of the UDP socket until it is connected, then upgraded to the
 * client side of DTLS; `session` takes the DTLS socket over (its handshake's end, its data).
 * The UDP socket reports an end only if it fails before the upgrade.
 */
export class DtlsConnector extends USocket {
  constructor(
    private readonly env: SessionEnv,
    private readonly tls: ISocketProvider,
    private readonly session: USocket,
    private readonly context: ISocketContext,
    private readonly serverName: string | null,
  ) {
    super();
  }

  override socketConnectComplete(socket: ISocket): void {
    this.env.reporter.info(`udp socket connected to ${formatAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0, false)}; DTLS handshake`);
    const dtls = this.tls.upgradeToTls(socket, this.session, { context: this.context, serverName: this.serverName ?? undefined, log: this.env.reporter.log });
    this.env.ending.setCloser(() => dtls.shutdown()); // the UDP socket is taken over: its methods throw now
  }

  override socketShutdown(_socket: ISocket, reason: ShutdownReason): void {
    this.env.ending.byReason(reason);
  }
}
