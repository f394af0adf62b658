// The DTLS adapter: a DatagramSession over the engine (werift-dtls, reached only through
// dtls-engine.ts). The socket (core/datagram-secure.ts) runs the states, the time-out, the queues
// and the rules; this file speaks the protocol, filters what may reach the engine, and verifies
// the peer's certificate (the engine does not).
import { PeerCertificate, ShutdownReason } from '../api';
import { DtlsSettings } from '../context';
import { DatagramPath, HostPort, SendDone } from '../core/datagram-path';
import { DatagramSession, SessionEvents, SessionStart } from '../core/datagram-secure';
import {
  createEngine,
  Engine,
  EngineTransport,
  isDtlsRecord,
  isForgedAfterHandshake,
  readProtectedAlert,
  seedCookie,
  sendCloseNotify,
  srtpProfileOf,
  startClient,
  stopRetransmissions,
} from './dtls-engine';
import { ALERT_NO_APPLICATION_PROTOCOL, AlpnRefusal, DtlsAlpn, isPlainAlert } from './dtls-alpn';
import { ClientHelloView, readClientHello, withoutCookie } from './dtls-cookie';
import { checkPeerCertificate, peerCertificateOf } from './dtls-verify';

/** Our role in the DTLS handshake, and for a client the name to verify. */
export interface DtlsRole {
  server: boolean;
  serverName?: string;
  /** Server behind the DTLS listener's cookie gate: its first ClientHello carries the gate's cookie. */
  gated?: boolean;
}

/** A DTLS 1.2 session for `upgradeToTls` of a UDP socket, with the context's DTLS settings. */
export function createDtlsSession(settings: DtlsSettings, role: DtlsRole): DatagramSession {
  return new DtlsSession(settings, role);
}

class DtlsSession implements DatagramSession {
  private engine: Engine | null = null;
  private path: DatagramPath | null = null;
  private events: SessionEvents | null = null;
  private connected = false;
  /** The peer of a connected path, or (bound server) the latest sender: where records go. */
  private to: HostPort | null = null;
  private hostAsWritten: string | undefined;
  private readonly transport: EngineTransport = { onData: () => undefined, send: (data) => this.sendRecord(data) };
  private secured = false;
  private stopped = false;
  private noise = 0;
  /** Gated server: the gate's ClientHello was given to the engine. */
  private seeded = false;
  /** The engine's records are dropped (its own HelloVerifyRequest, when seeded). */
  private muted = false;
  private peerCert: PeerCertificate | null = null;
  /** With an ALPN list in the context: the ALPN side of the handshake. */
  private alpnSide: DtlsAlpn | null = null;
  /** werift's internals for ALPN were not found: the handshake fails at begin(). */
  private alpnMissing = false;

  constructor(
    private readonly settings: DtlsSettings,
    private readonly role: DtlsRole,
  ) {}

  start(start: SessionStart, events: SessionEvents): void {
    this.path = start.path;
    this.events = events;
    this.connected = start.connected;
    this.to = start.peer;
    this.hostAsWritten = start.hostAsWritten;
    const s = this.settings;
    const server = this.role.server;
    const identity = server ? s.serverIdentity : s.clientIdentity;
    const engine = createEngine(this.transport, {
      server,
      cert: identity?.cert,
      key: identity?.key,
      srtp: s.srtp,
      certificateRequest: server && s.requireClient,
    });
    this.engine = engine;
    if (s.alpn.length > 0) {
      this.alpnSide = new DtlsAlpn(s.alpn, server, (refusal) => this.refuseAlpn(refusal));
      this.alpnMissing = !this.alpnSide.attach(engine);
    }
    engine.onConnect.subscribe(() => this.onSecure());
    engine.onData.subscribe((data: Buffer) => events.sessionData(data));
    engine.onError.subscribe((err: Error) => this.onEngineError(err));
    engine.onClose.subscribe(() => events.sessionPeerClosed());
  }

  begin(): void {
    if (this.alpnMissing) {
      this.events!.sessionFailed('ALPN over DTLS needs werift internals not found in this werift version (see werift entries 6–8 in transports/dtls-alpn.ts)');
      return;
    }
    if (!this.role.server) startClient(this.engine!).catch((err: Error) => this.onEngineError(err));
  }

  receive(msg: Buffer, address: string, port: number, secured: boolean): void {
    const events = this.events!;
    // Noise (not a DTLS record) and, once the session is up, unprotected alerts and ClientHellos
    // (which only a forger would send) never reach the engine; nor do they redirect our replies.
    if (!isDtlsRecord(msg) || (secured && isForgedAfterHandshake(msg))) {
      if (this.noise++ === 0 || (this.noise & (this.noise - 1)) === 0) {
        events.sessionTrace(`dropped a datagram that is not a DTLS record we accept, from ${address}:${port}; ${this.noise} so far`);
      }
      return;
    }
    if (!this.connected && !secured) this.to = { address, port }; // a bound server answers the latest sender
    if (!secured && this.alpnSide && !this.role.server && isPlainAlert(msg, ALERT_NO_APPLICATION_PROTOCOL)) {
      this.alpnSide.peerRefused = true; // unauthenticated: it names the time-out's end, it does not end the handshake
      events.sessionTrace('the peer sent a no_application_protocol alert during the DTLS handshake (no ALPN protocol in common)');
    }
    if (secured && msg[0] === 21) {
      // A protected alert ends the session (close_notify, or a fatal error); one that does not
      // decrypt is a forgery and is ignored.
      const alert = readProtectedAlert(this.engine!, msg);
      if (alert) {
        events.sessionTrace(`alert from the peer: level ${alert.level}, description ${alert.description}`);
        events.sessionPeerClosed();
      } else {
        events.sessionTrace('ignored an alert record that does not decrypt');
      }
      return;
    }
    try {
      const hello = this.role.gated && !this.seeded && !secured ? readClientHello(msg) : null;
      if (hello && hello.cookie.length > 0) this.seed(msg, hello);
      else this.transport.onData(msg);
    } catch (err) {
      // Garbage must never take the socket (or the process) down.
      events.sessionTrace(`the DTLS engine refused a datagram: ${(err as Error).message}`);
    }
  }

  /**
   * The gate's ClientHello (with our cookie) to a fresh server engine: werift makes its choices
   * from the ClientHello without the cookie (its HelloVerifyRequest muted, its cookie seeded with
   * ours), then the ClientHello itself goes on to its ServerHello flight. Without the seeding
   * (werift's internals not found), werift answers with a HelloVerifyRequest of its own: one
   * more round trip, after which the handshake goes on as usual.
   */
  private seed(msg: Buffer, hello: ClientHelloView): void {
    this.seeded = true;
    const stripped = withoutCookie(msg, hello);
    if (!seedCookie(this.engine!, Buffer.from(hello.cookie))) {
      this.events!.sessionTrace('werift cookie not seeded: its own HelloVerifyRequest adds a round trip');
      this.transport.onData(stripped);
      return;
    }
    this.muted = true;
    try {
      this.transport.onData(stripped);
    } finally {
      this.muted = false;
    }
    this.transport.onData(msg);
  }

  /** The engine's handshake is done: verify the peer (the engine does not), then report. */
  private onSecure(): void {
    const engine = this.engine!;
    const events = this.events!;
    if (this.stopped || this.secured) return;
    const s = this.settings;
    const server = this.role.server;
    const der = engine.remoteCertificate;
    // As for TLS: serverName, else the host as written in the UDP socket's connect().
    const checkName = server ? undefined : (this.role.serverName ?? this.hostAsWritten ?? this.to?.address);
    const mustCheck = server ? s.requireClient && s.verifyPeer : s.verifyPeer;
    if (mustCheck) {
      const why = checkPeerCertificate(der, { trusted: s.trusted, name: checkName });
      if (why) {
        events.sessionFailed(`DTLS peer certificate refused: ${why}`);
        return;
      }
    } else if (!server) {
      events.sessionTrace('DTLS peer certificate NOT verified (setVerifyPeer(false))');
    }
    const alpnRefused = !server && this.alpnSide ? this.alpnSide.settle(engine) : null;
    if (alpnRefused) {
      events.sessionFailed(alpnRefused, ShutdownReason.AlpnSelectionFailed);
      return;
    }
    this.secured = true;
    this.peerCert = peerCertificateOf(der);
    const srtp = srtpProfileOf(engine);
    const alpn = this.alpnSide ? `, ALPN=${this.alpnSide.protocol ?? 'none'}` : '';
    events.sessionSecured(this.to, `${srtp ? `, ${srtp.name}` : ''}${alpn}, peer=${this.peerCert?.subject?.CN ?? 'none'}`);
  }

  /** Server: ALPN refused the client's offer: the fatal alert goes out, then the handshake ends. */
  private refuseAlpn(refusal: AlpnRefusal): void {
    const events = this.events!;
    void this.sendRecord(refusal.record).then(() => events.sessionFailed(refusal.why, refusal.reason));
  }

  /**
   * An engine error. During the handshake it is logged, not fatal: a late or repeated flight,
   * or a stranger's record, can upset the engine without the handshake being lost; the
   * handshake time-out bounds the wait either way.
   */
  private onEngineError(err: Error): void {
    this.events!.sessionTrace(`DTLS engine error${this.secured ? '' : ' during the handshake'}: ${err?.message ?? String(err)}`);
  }

  /** A record from the engine: to the peer, or (before one is locked) to the latest sender. */
  private sendRecord(data: Buffer): Promise<void> {
    const path = this.path;
    const to = this.to;
    if (!path || this.stopped || this.muted) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err: Error | null): void => {
        if (!err) resolve();
        // An application record is reported by send() (and not counted as sent); a handshake
        // record is retransmitted by the engine, which must not see a rejection.
        else if (data[0] === 23) reject(err);
        else {
          this.events!.sessionTrace(`sending a DTLS handshake record failed: ${this.events!.sessionErrorCode(err)} ${err.message}`);
          resolve();
        }
      };
      if (this.connected) path.send(data, undefined, undefined, done);
      else if (to) path.send(data, to.port, to.address, done);
      else resolve();
    });
  }

  send(data: Buffer, done: SendDone): void {
    this.engine!.send(data).then(
      () => done(null),
      (err: Error) => done(err),
    );
  }

  close(done: () => void): void {
    sendCloseNotify(this.engine!)
      .catch((err: Error) => this.events!.sessionTrace(`close_notify not sent: ${err.message}`))
      .finally(done);
  }

  stop(): void {
    this.stopped = true;
    // The engine may still retransmit a flight: stop it, and sendRecord drops everything now.
    if (this.engine) stopRetransmissions(this.engine);
  }

  peerCertificate(): PeerCertificate | null {
    return this.peerCert;
  }

  alpn(): string | null {
    return this.secured ? (this.alpnSide?.protocol ?? null) : null;
  }

  handshakeTimeoutReason(): ShutdownReason {
    return this.alpnSide?.peerRefused ? ShutdownReason.AlpnSelectionFailed : ShutdownReason.TlsHandshakeFailed;
  }

  keyingMaterial(): { profile: string; material: Uint8Array } | null {
    const engine = this.engine;
    const profile = engine ? srtpProfileOf(engine) : null;
    if (!engine || !profile) return null;
    return { profile: profile.name, material: new Uint8Array(engine.exportKeyingMaterial('EXTRACTOR-dtls_srtp', profile.keyingLength)) };
  }
}
