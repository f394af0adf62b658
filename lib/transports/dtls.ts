import type { Socket as DgramSocket, RemoteInfo } from 'node:dgram';
import { LogFlag, PeerCertificate, ShutdownReason, SocketOptions, USocket } from '../api';
import { DtlsSettings } from '../context';
import { DatagramBase } from '../core/datagram-base';
import { checkBuffer, checkCount } from '../core/validate';
import { SocketErrorCode, SocketStateError } from '../errors';
import { createEngine, Engine, EngineTransport, isDtlsRecord, isForgedAfterHandshake, readProtectedAlert, sendCloseNotify, srtpProfileOf, startClient, stopRetransmissions } from './dtls-engine';
import { checkPeerCertificate, peerCertificateOf } from './dtls-verify';
import { HandedDatagram } from './udp';

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Our role in the DTLS handshake, and for a client the name to verify. */
export interface DtlsRole {
  server: boolean;
  serverName?: string;
}

/**
 * A DTLS 1.2 socket over a UDP socket it took over (`upgradeToTls`). Each `send` is one
 * protected datagram, each `recv` one decrypted datagram (`socketRecvFromResult`). The engine
 * (werift-dtls) speaks the protocol; this socket owns the dgram handle, verifies the peer's
 * certificate (the engine does not) and keeps every rule of the contract.
 */
export class DtlsSocket extends DatagramBase {
  protected readonly flag = LogFlag.Tls;

  private engine: Engine | null = null;
  private dgram: DgramSocket | null = null;
  private readonly transport: EngineTransport;
  /** Bound server before a peer is locked: where the engine's replies go (the latest sender). */
  private replyTo: { address: string; port: number } | null = null;
  private connectedUdp = false;
  private waitingSends: Buffer[] = [];
  private inFlight = 0;
  private noise = 0;
  /** The peer sent close_notify: no more datagrams come. */
  private peerClosed = false;
  private hostAsWritten: string | undefined;
  private timer: NodeJS.Timeout | null = null;
  private peerCert: PeerCertificate | null = null;
  private readonly handshakeTimeoutMs: number;

  constructor(
    user: USocket,
    options: SocketOptions,
    private readonly settings: DtlsSettings,
  ) {
    super(user, options);
    this.handshakeTimeoutMs = checkCount('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
    this.transport = { onData: () => undefined, send: (data) => this.sendRecord(data) };
    this.register();
  }

  // ---- facts -----------------------------------------------------------------------------

  override getPeerCertificate(): PeerCertificate | null {
    return this.peerCert;
  }
  override getSrtpKeyingMaterial(): { profile: string; material: Uint8Array } | null {
    if (this.state !== 'connected' || !this.engine) return null;
    const profile = srtpProfileOf(this.engine);
    if (!profile) return null;
    return { profile: profile.name, material: new Uint8Array(this.engine.exportKeyingMaterial('EXTRACTOR-dtls_srtp', profile.keyingLength)) };
  }

  // ---- the handshake -------------------------------------------------------------------------

  /** Takes over `handed` and runs the handshake in `role`. */
  start(handed: HandedDatagram, role: DtlsRole): void {
    this.modeValue = 'client'; // a secure end that sends and receives, as an accepted socket
    const d = handed.dgram;
    this.dgram = d;
    this.connectedUdp = handed.connected;
    this.peer = handed.peer;
    this.hostAsWritten = handed.hostAsWritten;
    const info = d.address();
    this.local = { address: info.address, port: info.port };
    d.on('message', this.onDatagram);
    d.on('error', (err: NodeJS.ErrnoException) => this.trace(`UDP error ${this.codeOf(err)} (${err.message})`));
    this.setState('handshaking', `DTLS ${role.server ? 'server' : 'client'}${handed.connected ? '' : ', serving the first peer to complete a handshake'}`);
    this.markHandshakeStart();
    this.timer = setTimeout(() => {
      this.trace(`DTLS handshake not finished within ${this.handshakeTimeoutMs} ms`);
      this.noteError('ERR_TLS_HANDSHAKE_TIMEOUT');
      this.reportShutdown(ShutdownReason.TlsHandshakeFailed);
    }, this.handshakeTimeoutMs || 2 ** 31 - 1);
    const identity = role.server ? this.settings.serverIdentity : this.settings.clientIdentity;
    const engine = createEngine(this.transport, {
      server: role.server,
      cert: identity?.cert,
      key: identity?.key,
      srtp: this.settings.srtp,
      certificateRequest: role.server && this.settings.requireClient,
    });
    this.engine = engine;
    engine.onConnect.subscribe(() => this.onSecure(role));
    engine.onData.subscribe((data: Buffer) => this.onAppData(data));
    engine.onError.subscribe((err: Error) => this.onEngineError(err));
    engine.onClose.subscribe(() => this.onPeerClosed());
    // Datagrams that came before the upgrade (an early ClientHello) go to the engine first.
    for (const q of handed.queued) this.onDatagram(q.data as Buffer, { address: q.address, port: q.port } as RemoteInfo);
    if (!role.server) startClient(engine).catch((err: Error) => this.onEngineError(err));
  }

  /** A record from the engine: to the peer, or (before one is locked) to the latest sender. */
  private sendRecord(data: Buffer): Promise<void> {
    const d = this.dgram;
    const to = this.peer ?? this.replyTo;
    if (!d || this.ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err: Error | null): void => {
        if (!err) resolve();
        // An application record is reported by transmit() (and not counted as sent); a
        // handshake record is retransmitted by the engine, which must not see a rejection.
        else if (data[0] === 23) reject(err);
        else {
          this.trace(`sending a DTLS handshake record failed: ${this.codeOf(err)} ${err.message}`);
          resolve();
        }
      };
      if (this.connectedUdp) d.send(data, done);
      else if (to) d.send(data, to.port, to.address, done);
      else resolve();
    });
  }

  private readonly onDatagram = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.ended) return;
    const peer = this.peer;
    if (peer && !this.isFromPeer(rinfo.address, rinfo.port)) {
      this.noteStranger(rinfo.address, rinfo.port); // counted in strangerDatagrams
      return;
    }
    // Noise (not a DTLS record) and, once the session is up, unprotected alerts and ClientHellos
    // (which only a forger would send) never reach the engine; nor do they redirect our replies.
    if (!isDtlsRecord(msg) || (this.state === 'connected' && isForgedAfterHandshake(msg))) {
      if (this.noise++ === 0 || (this.noise & (this.noise - 1)) === 0) {
        this.trace(`dropped a datagram that is not a DTLS record we accept, from ${rinfo.address}:${rinfo.port}; ${this.noise} so far`);
      }
      return;
    }
    if (!peer) this.replyTo = { address: rinfo.address, port: rinfo.port };
    if (this.state === 'connected' && msg[0] === 21 && this.engine) {
      // A protected alert ends the session (close_notify, or a fatal error); one that does not
      // decrypt is a forgery and is ignored.
      const alert = readProtectedAlert(this.engine, msg);
      if (alert) {
        this.trace(`alert from the peer: level ${alert.level}, description ${alert.description}`);
        this.onPeerClosed();
      } else {
        this.trace('ignored an alert record that does not decrypt');
      }
      return;
    }
    try {
      this.transport.onData(msg);
    } catch (err) {
      // Garbage must never take the socket (or the process) down.
      this.trace(`the DTLS engine refused a datagram: ${(err as Error).message}`);
    }
  };

  private onSecure(role: DtlsRole): void {
    if (this.state !== 'handshaking' || !this.engine) return;
    const s = this.settings;
    const der = this.engine.remoteCertificate;
    // As for TLS: serverName, else the host as written in the UDP socket's connect().
    const checkName = role.server ? undefined : role.serverName ?? this.hostAsWritten ?? this.peer?.address;
    const mustCheck = role.server ? s.requireClient && s.verifyPeer : s.verifyPeer;
    if (mustCheck) {
      const why = checkPeerCertificate(der, { trusted: s.trusted, name: checkName });
      if (why) {
        this.trace(`DTLS peer certificate refused: ${why}`);
        this.reportShutdown(ShutdownReason.TlsHandshakeFailed);
        return;
      }
    } else if (!role.server) {
      this.trace('DTLS peer certificate NOT verified (setVerifyPeer(false))');
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.peer ??= this.replyTo; // a bound server now serves this peer only
    this.peerCert = peerCertificateOf(der);
    const srtp = srtpProfileOf(this.engine);
    this.markHandshakeDone();
    this.setState('connected', `DTLS with ${this.peer?.address}:${this.peer?.port}${srtp ? `, ${srtp.name}` : ''}, peer=${this.peerCert?.subject?.CN ?? 'none'}`);
    this.emit((user) => {
      if (!this.shutdownCalled) user.socketUpgradeToTlsComplete?.(this);
    });
    const waiting = this.waitingSends;
    this.waitingSends = [];
    for (const data of waiting) {
      this.unsentBytes -= data.byteLength; // counted again by transmit
      this.transmit(data);
    }
    if (this.shutdownCalled) this.closeWhenFlushed();
  }

  /**
   * An engine error. During the handshake it is logged, not fatal: a late or repeated flight,
   * or a stranger's record, can upset the engine without the handshake being lost; the
   * handshake time-out bounds the wait either way.
   */
  private onEngineError(err: Error): void {
    this.trace(`DTLS engine error${this.state === 'handshaking' ? ' during the handshake' : ''}: ${err?.message ?? String(err)}`);
  }

  /**
   * A protected alert after the handshake: the peer closed the session. BY_PEER once the
   * datagrams that arrived before it were read. During the handshake an alert is unprotected
   * and anyone may forge one, so it is logged and the handshake time-out decides.
   */
  private onPeerClosed(): void {
    if (this.ended || this.shutdownCalled) return;
    if (this.state === 'handshaking') {
      this.trace('an alert arrived during the DTLS handshake (unauthenticated: the time-out decides)');
      return;
    }
    this.trace(`the peer closed the DTLS session (${this.receiver.queued} datagrams still to deliver)`);
    this.peerClosed = true;
    this.checkPeerDone();
  }

  /** BY_PEER once the peer closed and every datagram it sent before was delivered. */
  private checkPeerDone(): void {
    if (this.peerClosed && this.receiver.queued === 0 && !this.ended && !this.shutdownCalled) this.reportShutdown(ShutdownReason.ByPeer);
  }

  // ---- data ---------------------------------------------------------------------------------

  private onAppData(data: Buffer): void {
    if (this.ignoresCalls || this.peerClosed || !this.peer) return;
    this.received += data.byteLength;
    this.messagesReceived++;
    this.receiver.arrive(data, this.peer.address, this.peer.port);
  }

  send(data: Uint8Array, len?: number): void {
    this.throwIfTakenOver('send');
    const n = checkBuffer('send', data, len);
    if (this.ignoresCalls) return;
    const copy = Buffer.allocUnsafe(n);
    copy.set(n === data.byteLength ? data : data.subarray(0, n));
    if (this.state === 'connected') this.transmit(copy);
    else {
      this.waitingSends.push(copy);
      this.unsentBytes += copy.byteLength;
    }
  }

  private transmit(data: Buffer): void {
    const engine = this.engine!;
    this.inFlight++;
    this.unsentBytes += data.byteLength;
    engine
      .send(data)
      .then(
        () => {
          this.sent += data.byteLength;
        },
        (err: Error) => this.trace(`a protected datagram was refused: ${err.message}`),
      )
      .finally(() => {
        this.inFlight--;
        this.unsentBytes -= data.byteLength;
        this.emitSendResult();
        if (this.shutdownCalled && this.inFlight === 0) this.closeWhenFlushed();
      });
  }

  override sendTo(): void {
    this.throwIfTakenOver('sendTo');
    throw new SocketStateError(SocketErrorCode.WrongMode, 'sendTo() on a DTLS socket: it talks to its one peer; use send()');
  }

  /** A recv served from the queue may have taken the last datagram before the peer's close_notify. */
  protected override afterRecvRequest(): void {
    this.checkPeerDone();
  }

  // ---- modes that do not apply ------------------------------------------------------------------

  connect(): void {
    this.throwIfTakenOver('connect');
    throw new SocketStateError(SocketErrorCode.AlreadyConnected, 'connect() on a DTLS socket: it is already connected to its peer');
  }

  bind(): void {
    this.throwIfTakenOver('bind');
    throw new SocketStateError(SocketErrorCode.WrongMode, 'bind() on a DTLS socket');
  }

  // ---- closing -------------------------------------------------------------------------------------

  shutdown(): void {
    this.throwIfTakenOver('shutdown');
    if (this.ignoresCalls) return this.shutdownAfterEnd();
    this.shutdownCalled = true;
    this.cancelPendingRecv();
    this.receiver.clear();
    if (this.state !== 'connected') {
      this.reportShutdown(ShutdownReason.Normal);
      return;
    }
    this.closeWhenFlushed();
  }

  /** After the last protected datagram: close_notify, then NORMAL. */
  private closeWhenFlushed(): void {
    if (this.inFlight > 0 || this.ended) return;
    const engine = this.engine!;
    sendCloseNotify(engine)
      .catch((err: Error) => this.trace(`close_notify not sent: ${err.message}`))
      .finally(() => this.reportShutdown(ShutdownReason.Normal));
  }

  protected override onEnded(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.receiver.clear();
    for (const data of this.waitingSends) this.unsentBytes -= data.byteLength; // never sent
    this.waitingSends = [];
    // The engine may still retransmit a flight: stop it, and sendRecord drops everything now.
    if (this.engine) stopRetransmissions(this.engine);
    const d = this.dgram;
    this.dgram = null;
    try {
      d?.close();
    } catch {
      // already closed
    }
  }
}
