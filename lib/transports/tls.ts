import { isIP, Socket } from 'node:net';
import { checkServerIdentity, ConnectionOptions, connect as tlsConnect, PeerCertificate, Server as TlsServer, TLSSocket } from 'node:tls';
import { LogFlag, SocketOptions } from '../api';
import { ClientTlsSettings, ServerTlsSettings, SocketContext } from '../context';
import type { DirectRead } from '../core/direct-read';
import { learnTlsParent, tlsParentOf, tlsParentUsable, tlsWritesThrough } from '../core/node-internals';
import { ResolvedEndpoint, SecureRole, SecureSession, StreamDialer, StreamSecurer, StreamTransport } from '../core/stream/transport';
import { SocketErrorCode, SocketStateError } from '../errors';
import { tcpDialer, tcpServer } from './tcp';

type Done = (err: NodeJS.ErrnoException | null, secured?: Socket) => void;

let defaultContext: SocketContext | undefined;

/** The context of a TLS socket: its own, or a default one (Node's root store, no certificate). */
function contextOf(options: SocketOptions): SocketContext {
  if (options.context === undefined || options.context === null) {
    defaultContext ??= new SocketContext();
    return defaultContext;
  }
  return options.context as SocketContext;
}

/** TLS clients on TCP addresses: they verify the server's chain and name by default. */
const tlsDialer: StreamDialer = {
  parseConnect: tcpDialer.parseConnect,

  dial(endpoint: ResolvedEndpoint, options: SocketOptions, role: SecureRole, onread: DirectRead): { socket: Socket; ready: string } {
    if ('path' in endpoint) throw new TypeError('a TLS socket cannot connect to a path');
    // allowHalfOpen reaches the TLSSocket (Node passes it on) though the typings omit it; so
    // does onread, which tls.connect takes when it makes the socket itself (Node >= 15.1).
    const connectOptions: ConnectionOptions & { allowHalfOpen: boolean; onread: DirectRead } = {
      host: endpoint.host, // an IP literal: names were resolved for the socket's family already
      port: endpoint.port,
      allowHalfOpen: true,
      onread,
      ...clientOptions(contextOf(options).clientSettings(), role),
    };
    const socket = tlsConnect(connectOptions);
    return { socket, ready: 'secureConnect' };
  },
};

/**
 * The TLS layer over a connected plain socket: the server side of accepted connections (through
 * a `tls.Server` shared by every connection of one context version), and either side of a
 * STARTTLS upgrade.
 */
export const tlsSecurer: StreamSecurer = {
  checkServerOptions(options: SocketOptions): void {
    const context = options.context;
    if (!(context instanceof SocketContext) || !context.hasServerCertificate) {
      throw new SocketStateError(
        SocketErrorCode.NoServerCertificate,
        'a TLS server side needs options.context with a server certificate (setServerCertificate)',
      );
    }
  },

  secure(raw: Socket, role: SecureRole, options: SocketOptions, done: Done): void {
    const context = contextOf(options);
    if (role.server) {
      secureServerSide(raw, context.serverSettings(), done);
      return;
    }
    const socket = tlsConnect({ socket: raw, ...clientOptions(context.clientSettings(), role) });
    const settle = (err: NodeJS.ErrnoException | null): void => {
      socket.removeListener('secureConnect', onSecure);
      socket.removeListener('error', settle);
      if (err) {
        done(err);
        return;
      }
      socket.allowHalfOpen = true; // as every stream socket here: BY_PEER waits for the app's reads
      done(null, socket);
    };
    const onSecure = (): void => settle(null);
    socket.once('secureConnect', onSecure);
    socket.once('error', settle);
  },

  establish(sock: Socket, describe: boolean): SecureSession {
    const tlsSocket = sock as TLSSocket;
    const alpn = typeof tlsSocket.alpnProtocol === 'string' ? tlsSocket.alpnProtocol : null;
    const cert = tlsSocket.getPeerCertificate(true);
    const peerCertificate = cert && Object.keys(cert).length > 0 ? cert : null;
    // Renegotiation is a DoS and injection surface nobody here needs (TLS 1.3 has none).
    tlsSocket.disableRenegotiation();
    let summary: string | null = null;
    if (describe) {
      // Says so on every connection whose peer was not verified (setVerifyPeer(false), or a server without requireClientCertificate).
      const verified = tlsSocket.authorized ? 'verified' : `NOT verified (${String(tlsSocket.authorizationError ?? 'no certificate checked')})`;
      summary = `TLS ${tlsSocket.getProtocol()} ${tlsSocket.getCipher()?.name ?? ''} ALPN=${alpn ?? 'none'} peer=${peerCertificate?.subject?.CN ?? 'none'} ${verified}`;
    }
    return { alpn, peerCertificate, summary };
  },

  /**
   * A TLS socket with nothing queued hands the bytes straight to OpenSSL, which encrypts them
   * (or copies what it cannot take yet) before `write()` returns — Node's TLS layer never keeps
   * a pointer to them. (A plain socket's write may keep pointing at the bytes until the kernel
   * took them all, so plain sockets always copy.) No public API promises this: it is taken only
   * where core/node-internals.ts (entry 3, `tlsWritesThrough`) allows it; elsewhere every TLS
   * send is copied.
   */
  writesThrough(sock: Socket): boolean {
    return sock instanceof TLSSocket && sock.writableLength === 0 && sock.writableCorked === 0 && !sock.destroyed && tlsWritesThrough();
  },
};

/**
 * TLS over Node's `tls`, on TCP addresses. Servers hold connections as plain TCP until
 * accepted, then run the handshake with the securer.
 */
export const tlsTransport: StreamTransport = {
  type: 'tls',
  flag: LogFlag.Tls,
  dialer: tlsDialer,
  server: tcpServer,
  securer: tlsSecurer,

  checkOptions(options: SocketOptions): void {
    if (options.context !== undefined && options.context !== null && !(options.context instanceof SocketContext)) {
      throw new TypeError('options.context must be made by createSocketContext()');
    }
  },
};

/** Client options: SNI, verification of chain and name, ALPN offer, TLS 1.2 minimum. */
function clientOptions(settings: ClientTlsSettings, role: SecureRole): ConnectionOptions {
  const verifyName = role.serverName ?? role.hostAsWritten;
  return {
    secureContext: settings.secureContext,
    minVersion: 'TLSv1.2',
    // SNI carries host names only (RFC 6066): an IP address is verified, not sent.
    servername: verifyName !== undefined && isIP(verifyName) === 0 ? verifyName : undefined,
    rejectUnauthorized: settings.verifyPeer,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      if (!settings.verifyPeer) return undefined;
      if (verifyName === undefined) return Object.assign(new Error('no name to verify the server certificate against'), { code: 'ERR_TLS_NO_NAME' });
      return checkServerIdentity(verifyName, cert);
    },
    ALPNProtocols: settings.alpn.length > 0 ? settings.alpn : undefined,
  };
}

// ---- the server side ---------------------------------------------------------------------

/** Handshakes in flight, by the plain socket handed to the shared `tls.Server`. */
const inFlight = new WeakMap<Socket, Done>();
/** One `tls.Server` per server settings object (a new object after every context change). */
const servers = new WeakMap<ServerTlsSettings, TlsServer>();

function secureServerSide(raw: Socket, settings: ServerTlsSettings, done: Done): void {
  inFlight.set(raw, done);
  // The TLSSocket inherits allowHalfOpen from the raw socket. Half-open during the handshake
  // would keep a socket whose client gave up open (no 'close', so no 'tlsClientError'); it is
  // turned back on once the handshake is done (BY_PEER waits for the app's reads).
  raw.allowHalfOpen = false;
  // The documented way to run a server handshake on an existing socket: hand it to a
  // tls.Server that never listens (NODE-PITFALLS: a bare TLSSocket skips client checks). The
  // server emits only the TLSSocket; one shared server per context version finds the plain
  // socket under it by Node's private `_parent` (core/node-internals.ts, entry 2). Until that
  // is known to hold (the first handshake tells), and where it does not, each handshake gets a
  // server of its own, which knows its socket.
  let server: TlsServer;
  if (tlsParentUsable()) {
    server = servers.get(settings) ?? makeServer(settings, null);
    servers.set(settings, server);
  } else {
    server = makeServer(settings, raw);
  }
  server.emit('connection', raw);
}

/** The plain socket under a server-side TLSSocket: `own` for a server of one handshake, else by `_parent`. */
function rawOf(tlsSocket: TLSSocket, own: Socket | null): Socket | undefined {
  if (own === null) return tlsParentOf(tlsSocket);
  learnTlsParent(tlsSocket, own);
  return own;
}

function settleServer(tlsSocket: TLSSocket, own: Socket | null, err: NodeJS.ErrnoException | null): void {
  const raw = rawOf(tlsSocket, own);
  const done = raw && inFlight.get(raw);
  if (!raw || !done) {
    tlsSocket.destroy(); // its owner gave up (time-out, shutdown) meanwhile
    return;
  }
  inFlight.delete(raw);
  if (err) {
    tlsSocket.destroy();
    done(err);
  } else {
    tlsSocket.allowHalfOpen = true;
    done(null, tlsSocket);
  }
}

/** A never-listening `tls.Server` for `settings`: shared (`own` null), or for the handshake of `own` only. */
function makeServer(settings: ServerTlsSettings, own: Socket | null): TlsServer {
  const alpn = settings.alpn;
  const server = new TlsServer({
    ...settings.serverOptions,
    // Our own per-socket timer bounds the handshake (option handshakeTimeoutMs).
    handshakeTimeout: 0,
    // The server picks by its own preference; nothing in common sends the fatal
    // no_application_protocol alert (undefined), as RFC 7301 asks.
    ALPNCallback: alpn.length > 0 ? ({ protocols }: { protocols: string[] }) => alpn.find((p) => protocols.includes(p)) : undefined,
  });
  server.on('secureConnection', (tlsSocket: TLSSocket) => {
    if (settings.requireClient && !tlsSocket.authorized) {
      const why = tlsSocket.authorizationError ? String(tlsSocket.authorizationError) : 'no client certificate';
      settleServer(tlsSocket, own, Object.assign(new Error(`client certificate refused: ${why}`), { code: 'ERR_TLS_CLIENT_CERT_REFUSED' }));
      return;
    }
    settleServer(tlsSocket, own, null);
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, tlsSocket: TLSSocket) => settleServer(tlsSocket, own, err));
  return server;
}
