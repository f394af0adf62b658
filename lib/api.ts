/**
 * The public interface of socket-provider: the provider, socket, user and context
 * types of CONTRACT.md, with the order and timing every callback keeps.
 *
 * @packageDocumentation
 */
import type { IoMux } from './core/iomux';
import type { RudpOptions, RudpStats, SendOptions } from './api-rudp';

/** Why a socket ended. Reported exactly once per socket through {@link USocket.socketShutdown}. */
export enum ShutdownReason {
  /** `shutdown()` was called (or the socket's IoMux was terminated). */
  Normal = 'SOCKET_SHUTDOWN_NORMAL',
  /** The peer closed cleanly and every byte it sent has been delivered. */
  ByPeer = 'SOCKET_SHUTDOWN_BY_PEER',
  /** An established connection broke: reset, broken pipe, time-out. */
  Lost = 'SOCKET_LOST',
  /** The address was malformed, had no port where one is needed, or was of the wrong family. */
  AddressInvalid = 'SOCKET_ADDRESS_INVALID',
  /** The OS would not give us a socket (e.g. out of file descriptors). */
  OpenFailed = 'SOCKET_OPEN_FAILED',
  /** The peer could not be reached: unreachable, timed out, name not resolved, no such file. */
  ConnectFailed = 'SOCKET_CONNECT_FAILED',
  /** The peer refused the connection (nobody listening). */
  ConnectRejected = 'SOCKET_CONNECT_REJECTED',
  /** Binding failed for a reason other than the address being taken (permission, no such interface…). */
  BindFailed = 'SOCKET_BIND_FAILED',
  /** Listening failed after a successful bind. */
  ListenFailed = 'SOCKET_LISTEN_FAILED',
  /** An incoming connection broke before it could be accepted. */
  AcceptFailed = 'SOCKET_ACCEPT_FAILED',
  /** The TLS/DTLS handshake failed: verification, protocol version, time-out… (reason in the log). */
  TlsHandshakeFailed = 'SOCKET_TLS_HANDSHAKE_FAILED',
  /** The address or path is already taken by another socket. */
  AddrInUse = 'SOCKET_ADDR_IN_USE',
  /** ALPN found no protocol in common, or the user vetoed the selected one. */
  AlpnSelectionFailed = 'SOCKET_ALPN_SELECTION_FAILED',
}

/**
 * Traffic class for {@link ISocket.setQoS}: the DSCP marking the seed asks the OS for. Node
 * offers no way to set IP_TOS on its sockets, so on Node the call is checked and logged and has
 * no effect on the packets (see `docs/porting.md`).
 */
export enum QosTrafficType {
  /** Ordinary data, no priority: what every socket has until `setQoS` is called. */
  BestEffort = 'QOS_BEST_EFFORT',
  /** Interactive audio and video streams (e.g. video calls). */
  AudioVideo = 'QOS_AUDIO_VIDEO',
  /** Voice: the most delay-sensitive class (e.g. RTP voice packets). */
  Voice = 'QOS_VOICE',
}

/**
 * The log channel a socket writes to: one per transport. The values are the words
 * `SOCKET_PROVIDER_LOG` takes (`tcp,tls`, or `all`).
 */
export enum LogFlag {
  /** TCP sockets. */
  Tcp = 'tcp',
  /** TLS and STARTTLS sockets, DTLS sockets, and contexts (e.g. the `setVerifyPeer(false)` warning). */
  Tls = 'tls',
  /** UDP sockets. */
  Udp = 'udp',
  /** Local sockets (Unix domain sockets, named pipes); `local` is accepted for it in `SOCKET_PROVIDER_LOG`. */
  Local = 'lds',
  /** Reliable-UDP sockets (`createRudpSocketProvider`). */
  Rudp = 'rudp',
}

/**
 * Where a socket writes its log lines; pass your own as the `log` option (or to
 * `createSocketContext`) to route them. Only lines whose flag is enabled are built and written.
 * The default writes to stderr and is off unless `SOCKET_PROVIDER_LOG` is set.
 */
export interface IInstanceLog {
  /** Whether lines for `flag` are wanted; sockets check it before building a message. */
  isEnabled(flag: LogFlag): boolean;
  /** Writes one line (without a newline at its end); called only when `isEnabled(flag)` said true. */
  log(flag: LogFlag, message: string): void;
}

/** The transport kind of a provider and of the sockets it makes. */
export type SocketType = 'tcp' | 'tls' | 'udp' | 'local' | 'rudp';

/** A socket's mode: decided by its first `connect()` (client) or `bind()` (server), then fixed. */
export type SocketMode = 'none' | 'client' | 'server';

/**
 * The subject or issuer of a {@link PeerCertificate}: each attribute of the certificate's
 * name under its short name (`CN`, `O`, `OU`, `L`, `ST`, `C`, …), as Node's `tls` gives it.
 *
 * An attribute the name carries once is a string. One it carries more than once (two `OU`s,
 * say) is, on a TLS socket, an array of strings in the certificate's order, as Node's `tls`
 * gives it (a DTLS socket reads the name with `crypto.X509Certificate` and keeps the last
 * value). X.509 lets any attribute repeat, so Node guarantees no attribute to be a single
 * string, and the type says `string | string[]`: `cert.subject.CN === 'localhost'` works as it
 * is, and `[cert.subject.CN ?? []].flat()` gives every value as a list.
 */
export interface PeerCertificateName {
  /** Common name (for a server, often its host name). */
  CN?: string | string[];
  /** Organization. */
  O?: string | string[];
  /** Organizational unit. */
  OU?: string | string[];
  /** Locality (city). */
  L?: string | string[];
  /** State or province. */
  ST?: string | string[];
  /** Country code. */
  C?: string | string[];
  /** Any other attribute, under the short name OpenSSL knows it by (or its OID). */
  [attribute: string]: string | string[] | undefined;
}

/**
 * The peer's certificate, in the shape of Node's `tls.PeerCertificate`. The fields Node always
 * fills are typed as such (`valid_to`, `fingerprint256` and the rest are plain strings); the
 * optional ones are there only when the certificate has that extension or key type, or only
 * for TLS (a DTLS socket reads its peer's certificate with `crypto.X509Certificate` and fills
 * the always-present fields and `subjectaltname`).
 */
export interface PeerCertificate {
  /** Whom the certificate was issued to. */
  subject: PeerCertificateName;
  /** Who signed it. */
  issuer: PeerCertificateName;
  /** Start of the validity period, as OpenSSL prints it (`Jan 31 12:34:56 2025 GMT`); `new Date(valid_from)` reads it. */
  valid_from: string;
  /** End of the validity period, in the same form as `valid_from`. */
  valid_to: string;
  /** The serial number, as upper-case hexadecimal digits. */
  serialNumber: string;
  /** SHA-1 of the certificate's DER, as colon-separated upper-case hex. */
  fingerprint: string;
  /** SHA-256 of the certificate's DER, as colon-separated upper-case hex (compare it with a pinned fingerprint). */
  fingerprint256: string;
  /** SHA-512 of the certificate's DER, as colon-separated upper-case hex. */
  fingerprint512: string;
  /** Whether the certificate is a CA's (basicConstraints CA:TRUE). */
  ca: boolean;
  /** The certificate's DER bytes (`new crypto.X509Certificate(raw)` reads everything else). */
  raw: Buffer;
  /** The subjectAltName entries as one string (`DNS:localhost, IP Address:127.0.0.1`); absent (TLS) or empty (DTLS) without the extension. */
  subjectaltname?: string;
  /** TLS: the extended key usage OIDs (`1.3.6.1.5.5.7.3.1` is serverAuth), when the extension is present. */
  ext_key_usage?: string[];
  /** TLS: the key size in bits. */
  bits?: number;
  /** TLS: the public key, DER-encoded. */
  pubkey?: Buffer;
  /** TLS, EC keys: the curve's ASN.1 name (`prime256v1`). */
  asn1Curve?: string;
  /** TLS, EC keys: the curve's NIST name (`P-256`). */
  nistCurve?: string;
  /** TLS, RSA keys: the public exponent, as hex (`0x10001`). */
  exponent?: string;
  /** TLS, RSA keys: the modulus, as hex. */
  modulus?: string;
  /** TLS: the AuthorityInfoAccess extension (OCSP and CA issuer URLs), when present. */
  infoAccess?: Record<string, string[] | undefined>;
  /** TLS: the certificate that signed this one, as the peer sent it (a self-signed one refers to itself). */
  issuerCertificate?: PeerCertificate;
}

/**
 * What {@link ISocketProvider.createSocket}, {@link ISocket.setUser}, {@link ISocket.accept}
 * and {@link ISocketProvider.upgradeToTls} take as a user: any object with a `socketShutdown`
 * method and any of the other {@link USocket} callbacks it cares about. A {@link USocket}
 * subclass is one; so is a plain object, without a cast:
 *
 * ```ts
 * import { createTcpSocketProvider, ShutdownReason } from 'socket-provider';
 *
 * let endedWith: ShutdownReason | undefined;
 * const socket = createTcpSocketProvider().createSocket({
 *   socketConnectComplete(s) { s.send(Buffer.from('hello')); s.shutdown(); },
 *   socketShutdown(s, reason) { endedWith = reason; },
 * });
 * socket.connect('127.0.0.1:7');
 * ```
 *
 * A callback it does not have does nothing, as the default methods of `USocket` do.
 */
export interface SocketUser {
  /** Client: the connection is up (see {@link USocket.socketConnectComplete}). */
  socketConnectComplete?(socket: ISocket): void;
  /** Server: `bind()` succeeded (see {@link USocket.socketBindResult}). */
  socketBindResult?(socket: ISocket, localAddr: string, localPort: number): void;
  /** Server: a connection waits; `accept` it in here or deny it (see {@link USocket.socketListenResult}). */
  socketListenResult?(socket: ISocket, remoteAddr: string, remotePort: number): void;
  /** The new socket of an accepted connection (see {@link USocket.socketAcceptComplete}). */
  socketAcceptComplete?(socket: ISocket): void;
  /** The socket ended, for `reason`: exactly once per socket, nothing follows (see {@link USocket.socketShutdown}). The one required callback. */
  socketShutdown(socket: ISocket, reason: ShutdownReason): void;
  /** One `send`/`sendTo` was handed to the OS (see {@link USocket.socketSendResult}). */
  socketSendResult?(socket: ISocket): void;
  /** A stream `recv` completed (see {@link USocket.socketRecvResult}). */
  socketRecvResult?(socket: ISocket, buffer: Uint8Array, len: number): void;
  /** A datagram `recv` completed (see {@link USocket.socketRecvFromResult}). */
  socketRecvFromResult?(socket: ISocket, buffer: Uint8Array, len: number, srcAddr: string, srcPort: number): void;
  /** The pending `recv` was cancelled (see {@link USocket.socketRecvCanceled}). */
  socketRecvCanceled?(socket: ISocket, buffer: Uint8Array): void;
  /** A STARTTLS/DTLS upgrade finished (see {@link USocket.socketUpgradeToTlsComplete}). */
  socketUpgradeToTlsComplete?(socket: ISocket): void;
  /** ALPN chose `protocol`; return false to refuse it. Absent: every protocol is accepted (see {@link USocket.socketAcceptSelectedAlpnProtocol}). */
  socketAcceptSelectedAlpnProtocol?(socket: ISocket, protocol: string): boolean;
}

/**
 * Options for {@link ISocketProvider.createSocket}. A listening socket's options (and context)
 * apply to the sockets it accepts. Every limit here is documented in `docs/guide.md`.
 */
export interface SocketOptions extends RudpOptions {
  /** The address family of this socket: IPv6 when true. Default false (IPv4). */
  ipv6?: boolean;
  /** Certificates, CA, ALPN, DTLS (TLS and DTLS only): a context made by {@link ISocketProvider.createSocketContext}. */
  context?: ISocketContext;
  /** Where this socket logs. Default: the package's own log, off unless `SOCKET_PROVIDER_LOG` is set. */
  log?: IInstanceLog;
  /** The IoMux the socket belongs to: its callbacks run on that IoMux's queue, and its `terminate()` ends the socket. Default: the process-wide IoMux. */
  iomux?: IoMux;
  /** TCP_NODELAY on connections (client and accepted). Default true: send() is a message, not a byte stream to coalesce. */
  noDelay?: boolean;
  /** SO_KEEPALIVE on connections; a number sets the initial delay in ms. Default off. */
  keepAlive?: boolean | number;
  /** How long a connect may take before it fails with `SOCKET_CONNECT_FAILED`, in ms. Default 30 000. 0 disables. */
  connectTimeoutMs?: number;
  /** Listen backlog; also the most connections held between `bind()` and `listen()`. Default 511. */
  backlog?: number;
  /**
   * Listening socket: most connections at once, live accepted plus offered and undecided; further ones are refused and logged. Default unlimited.
   * A datagram listener (`listen()` on a bound UDP socket) counts peers: a datagram from one more peer is dropped and counted (`stats().listener.refusedDatagrams`).
   */
  maxConnections?: number;
  /**
   * Datagram listener (UDP and DTLS), inherited by its accepted sockets: an accepted peer that sends nothing for this
   * long ends with `SOCKET_LOST`, and a denied peer may be offered again after it. In ms; default 60 000; 0 disables.
   * rudp (client, listener and the connections it accepts): a connection that hears nothing from its peer for this
   * long ends with `SOCKET_LOST`; default 10 000; 0 disables (docs/rudp.md).
   */
  idleTimeoutMs?: number;
  /** Bytes read ahead while no `recv` is pending before the socket stops reading. Default 256 KiB. */
  readAheadBytes?: number;
  /**
   * How long `shutdown()` may take to hand queued data to the OS before closing anyway, in ms. Default 30 000.
   * rudp: how long it may wait for the peer to acknowledge the reliable messages queued (docs/rudp.md).
   */
  shutdownTimeoutMs?: number;
  /** UDP: datagrams kept while no recv is pending; more are dropped and counted (`droppedDatagrams`). Default 1024. */
  datagramQueueLength?: number;
  /** UDP: SO_RCVBUF in bytes. Default 1 MiB (Node's 208 KiB default dropped datagrams under load). */
  recvBufferSize?: number;
  /** UDP: SO_SNDBUF in bytes. Default 1 MiB. */
  sendBufferSize?: number;
  /** UDP: allow sending to broadcast addresses (SO_BROADCAST). Default false. */
  broadcast?: boolean;
  /** UDP: multicast groups to join once bound. */
  multicastGroups?: string[];
  /** UDP: whether multicast datagrams we send come back to us. Default: the OS's (on). */
  multicastLoopback?: boolean;
  /** Local sockets: the mode of the socket file `bind()` creates. Default 0o666 (every local user may connect); 0o600 narrows it to the owner. */
  fileMode?: number;
  /** TLS: how long a handshake may take before it fails with `SOCKET_TLS_HANDSHAKE_FAILED`, in ms. Default 10 000. 0 disables. */
  handshakeTimeoutMs?: number;
  /**
   * TCP, TLS, UDP: `bind()` sets SO_REUSEPORT, so several processes (or sockets) bind the same
   * address and port and the kernel spreads the load: connections among listeners, and each
   * peer's datagrams to one socket. The socket then has its own handle in a `cluster` worker too
   * (not the primary's shared one). Default false. Only where Node and the OS have it (Node
   * 22.12+ / 23.1+ on Linux, FreeBSD, Solaris, AIX); elsewhere, and on local sockets,
   * `createSocket` throws `SocketStateError` `ERR_SOCKET_REUSEPORT_UNAVAILABLE` rather than bind a
   * single process without it. Applies to `bind()` only (not to a UDP socket's `connect()` or the
   * port a first `sendTo` binds). See `docs/multicore.md`.
   */
  reusePort?: boolean;
  /**
   * DTLS listener (`upgradeToTls` of a listening UDP socket): most handshakes in progress at once; a datagram from one
   * more new peer is dropped (`stats().listener.refusedDatagrams`) with no state kept. Default 64.
   */
  maxHandshakes?: number;
}

/** Options for {@link ISocketProvider.upgradeToTls}. */
export interface UpgradeOptions extends SocketOptions {
  /** This side acts as the TLS server. Default false: this side starts the handshake. */
  serverSide?: boolean;
  /** Client side: SNI and the name the server's certificate must carry. */
  serverName?: string;
}

/**
 * Certificates, trust, ALPN and DTLS settings shared by any number of sockets. A change
 * affects connections made after it only.
 */
export interface ISocketContext {
  /**
   * PEM text with the certificate (chain) and its private key. Without `hostName` it is the
   * default certificate. With one it serves that SNI name, and it is also the default while no
   * default is set (the seed's call with a host name keeps working for clients without SNI, and
   * gives {@link ISocketContext.getCertificateFingerprint} its value); a default set later takes over.
   */
  setServerCertificate(pem: string | Uint8Array, hostName?: string): void;
  /** PEM text with the client certificate (chain) and its key; `hostName` is reserved and ignored. */
  setClientCertificate(pem: string | Uint8Array, hostName?: string): void;
  /** Sends no client certificate, even if one was set. */
  disableClientCertificate(): void;
  /** ALPN protocols in order of preference. */
  setAlpnProtocols(protocols: readonly string[]): void;
  /** SHA-256 of our own certificate's DER: the default server certificate, else the client certificate; null when neither is set. */
  getCertificateFingerprint(): Uint8Array | null;
  /** Makes upgrades of UDP sockets use DTLS 1.2; `useSrtp` negotiates DTLS-SRTP. */
  enableDtls(useSrtp?: boolean): void;
  /** Whom to trust. Default: Node's root store. */
  setCertificateAuthority(pem: string | Uint8Array): void;
  /** Server: require and verify a client certificate (two-way authentication). */
  requireClientCertificate(required?: boolean): void;
  /** Default true. False is an explicit, logged opt-out of peer verification. */
  setVerifyPeer(verify: boolean): void;
}

/**
 * A socket. It becomes a client by `connect()` or a server by `bind()` and then stays so.
 * No method ever calls the user back synchronously; results arrive through the user's
 * {@link USocket} callbacks.
 */
export interface ISocket {
  /** The transport kind. */
  readonly type: SocketType;
  /** `none` until the first `connect()` (client) or `bind()` (server). Accepted sockets are `client`. */
  readonly mode: SocketMode;

  /**
   * Client mode: connects to `"host:port"` (`"[v6]:port"`, or a path for local sockets).
   * Reports `socketConnectComplete` (TLS: after the handshake and ALPN), or `socketShutdown`
   * with the reason it failed. A malformed address is reported (`SOCKET_ADDRESS_INVALID`), not thrown.
   * @param serverName TLS: the SNI name sent and the name the server's certificate must carry
   *   (default: the host as written in `address`). Ignored by other transports.
   * @throws SocketStateError on a server-mode socket, a second `connect()`, or a socket shut
   *   down before it had a mode; TypeError if `address` is not a string.
   */
  connect(address: string, serverName?: string): void;
  /**
   * Server mode: binds to `localAddress` (null: all interfaces; a path for local sockets) and
   * `localPort` (0: the OS picks). Reports `socketBindResult` with the real address and port,
   * or `socketShutdown` (e.g. `SOCKET_ADDR_IN_USE`).
   * @param reuseAddr UDP: let several sockets share the port (SO_REUSEADDR). TCP listeners always have it.
   * @throws SocketStateError on a client-mode socket, a second `bind()`, or a socket shut down
   *   before it had a mode;
   *   RangeError for a port outside 0–65535; TypeError for arguments of the wrong type.
   */
  bind(localAddress?: string | null, localPort?: number, reuseAddr?: boolean): void;
  /**
   * Server mode, stream sockets: starts reporting `socketListenResult` for each incoming connection.
   * @throws SocketStateError before `bind()`, on a client socket, a second time, or on UDP.
   */
  listen(): void;
  /**
   * Only inside `socketListenResult`: accepts the offered connection for `remoteUser`
   * (it then gets `socketAcceptComplete(newSocket)`), or denies it with null.
   * Not calling it denies the connection too.
   * @throws SocketStateError outside `socketListenResult`.
   */
  accept(remoteUser: USocket | SocketUser | null): void;
  /**
   * Sends what is queued, closes, then reports `socketShutdown(SOCKET_SHUTDOWN_NORMAL)`.
   * A pending `recv` is cancelled first. Later calls are ignored.
   */
  shutdown(): void;
  /**
   * Queues the first `len` bytes of `data` (default: all of it); the caller may reuse `data` at
   * once. May be called before the connection is up: the data is sent once it is. One
   * `socketSendResult` follows once the bytes were handed to the OS. UDP and DTLS: one datagram.
   * rudp: one message, sent as `options` say (reliable or not, on which lane; default reliable
   * on lane 0), and its `socketSendResult` once acknowledged (unreliable: once sent). Other
   * sockets ignore `options` (docs/rudp.md, "Send options").
   * @throws RangeError/TypeError for bad arguments (rudp: also a lane that is not one of the
   *   socket's `lanes`); SocketStateError on a server-mode stream socket, a bound UDP socket
   *   (use `sendTo`), or a socket with no mode yet.
   */
  send(data: Uint8Array, len?: number, options?: SendOptions): void;
  /**
   * UDP: sends one datagram to `dstAddress:dstPort` (an IP literal of the socket's family);
   * binds the socket to an ephemeral port first if it has no mode yet. One `socketSendResult`
   * follows. Does nothing on stream sockets.
   * @throws SocketStateError on a connected UDP socket or a DTLS socket (use `send`); TypeError
   *   for an address that is not an IP literal; RangeError for a port outside 1–65535 or a bad `len`.
   */
  sendTo(data: Uint8Array, len: number | undefined, dstAddress: string, dstPort: number): void;
  /**
   * Asks for `len` bytes (default `buffer.byteLength`) into the front of `buffer`:
   * exactly `len`, or with `recvPartial` as soon as 1..len are there. UDP and DTLS: one
   * datagram, cut to `len`. Completes with `socketRecvResult` (UDP, DTLS:
   * `socketRecvFromResult`) or `socketRecvCanceled`, always before `socketShutdown`.
   *
   * `buffer` must stay usable while the recv is pending. If the app detaches it meanwhile
   * (transfers its `ArrayBuffer`: `postMessage(…, [buffer.buffer])`, `structuredClone(…,
   * { transfer })`) or shrinks a resizable `ArrayBuffer` below `len`, the socket finds out
   * before it writes to it and never throws: the recv is cancelled (`socketRecvCanceled(socket,
   * buffer)`) and the bytes (UDP, DTLS: the datagram) wait for the next recv. On a stream, an
   * exact recv that had already taken some bytes cannot give them back (they left with the
   * buffer): after the cancel the socket ends with `SOCKET_LOST`, since its byte stream now has
   * a gap.
   * @throws SocketStateError if a recv is already pending, on a server-mode stream socket, or
   *   on a socket with no mode yet; RangeError/TypeError for bad arguments.
   */
  recv(buffer: Uint8Array, len?: number, recvPartial?: boolean): void;
  /** Cancels the pending recv: `socketRecvCanceled(socket, buffer)` follows. Nothing happens when none is pending. */
  recvCancel(): void;
  /**
   * Sends every later callback to `user`, from this moment (also callbacks already queued).
   * @throws TypeError if `user` has no `socketShutdown` method.
   */
  setUser(user: USocket | SocketUser): void;
  /** The bound or connected local address; null before there is one. */
  getLocalAddress(): {
    /** The local IP address (or the path of a local socket). */
    address: string;
    /** The local port (0 for local sockets). */
    port: number;
  } | null;
  /**
   * DSCP marking where the platform allows; on Node it is logged and has no effect (see docs/guide.md).
   * @throws TypeError if `type` is not a {@link QosTrafficType}.
   */
  setQoS(type: QosTrafficType): void;

  /** Local address, once bound or connected. */
  readonly localAddress?: string;
  /** Local port, once bound or connected. */
  readonly localPort?: number;
  /** The peer's address, once connected. */
  readonly remoteAddress?: string;
  /** The peer's port, once connected. */
  readonly remotePort?: number;
  /** Bytes handed to the OS so far. */
  readonly bytesSent: number;
  /** Bytes received from the network so far (delivered or read ahead). */
  readonly bytesReceived: number;
  /** Listening socket: live accepted connections. 0 on other sockets. */
  readonly connectionCount: number;
  /** UDP: datagrams dropped because the receive queue was full. 0 on other sockets. */
  readonly droppedDatagrams?: number;
  /** TLS/DTLS: the negotiated ALPN protocol, or null. */
  readonly alpnProtocol: string | null;
  /** TLS/DTLS: the peer's certificate in Node's shape, or null. */
  getPeerCertificate(): PeerCertificate | null;
  /** DTLS-SRTP: the negotiated profile and RFC 5764 keying material, or null. */
  getSrtpKeyingMaterial(): {
    /** The SRTP protection profile, e.g. `SRTP_AES128_CM_SHA1_80`. */
    profile: string;
    /** 2×(key + salt) bytes exported with the label `EXTRACTOR-dtls_srtp`: client key, server key, client salt, server salt. */
    material: Uint8Array;
  } | null;
  /**
   * A snapshot of this socket's counters (beyond the seed). The counters are kept anyway;
   * a snapshot is only assembled when asked for, so a socket nobody asks costs nothing extra.
   */
  stats(): SocketStats;
}

/** What {@link ISocket.stats} returns: counters and timings of one socket, at the time of the call. */
export interface SocketStats extends RudpStats {
  /** Bytes handed to the OS (as {@link ISocket.bytesSent}). */
  bytesSent: number;
  /** Bytes received from the network, delivered or read ahead (as {@link ISocket.bytesReceived}). */
  bytesReceived: number;
  /** Sends completed: stream sends whose bytes reached the OS; UDP/DTLS datagrams sent. */
  messagesSent: number;
  /** Stream: recv results delivered; UDP/DTLS: datagrams received (queued and dropped ones included). */
  messagesReceived: number;
  /** Bytes accepted by `send`/`sendTo` and not yet handed to the OS. */
  queuedSendBytes: number;
  /** Bytes received and waiting for a `recv` (stream read-ahead; UDP: queued datagrams). */
  readAheadBytes: number;
  /** UDP/DTLS: datagrams dropped because the receive queue was full (as {@link ISocket.droppedDatagrams}). */
  droppedDatagrams: number;
  /**
   * Connected UDP and DTLS: datagrams dropped because they did not come from the peer. The OS
   * filters a connected UDP socket, except for datagrams that reached its port in the moment
   * between the bind that `connect()` makes and the connect itself; a DTLS socket serves one
   * peer (a bound DTLS server, the first that completes a handshake) and ignores every other
   * source. Not in `bytesReceived` or `messagesReceived`. 0 on other sockets.
   */
  strangerDatagrams: number;
  /** Client: milliseconds from `connect()` to the connection being established (before any TLS handshake); else null. */
  connectMs: number | null;
  /** TLS/DTLS (also STARTTLS and accepted connections): milliseconds the handshake took; else null. */
  handshakeMs: number | null;
  /** The code of the last network or TLS error seen (`ECONNRESET`, `ERR_TLS_CERT_ALTNAME_INVALID`, …), or null. */
  lastErrorCode: string | null;
  /** Listening stream socket: totals over its connections; null on other sockets. */
  listener: ListenerStats | null;
}

/** The totals of a listening socket, part of {@link SocketStats}. */
export interface ListenerStats {
  /** Connections accepted (handed to a user with `accept(user)`). */
  accepted: number;
  /** Connections offered in `socketListenResult` and denied (`accept(null)` or no call). */
  denied: number;
  /** Connections closed before they were offered (`maxConnections`, `backlog`, the listener closing). */
  refused: number;
  /** Accepted connections still open (as {@link ISocket.connectionCount}). */
  live: number;
  /** Bytes sent over all accepted connections, open and ended. */
  bytesSent: number;
  /** Bytes received over all accepted connections, open and ended. */
  bytesReceived: number;
  /** Datagram listener: datagrams of denied peers, dropped. */
  deniedDatagrams?: number;
  /** Datagram listener: datagrams of peers that were not offered (`maxConnections`, the listener shut down, DTLS: handshakes at their bound), dropped. */
  refusedDatagrams?: number;
  /** Datagram listener: datagrams of an offered peer beyond `datagramQueueLength` while the app decided, dropped. */
  overflowDatagrams?: number;
  /** DTLS listener: datagrams that are no DTLS record, or ClientHellos without a valid cookie answered statelessly, or records of no handshake. */
  garbageDatagrams?: number;
  /** DTLS listener: handshakes in progress now. */
  handshaking?: number;
}

/**
 * Makes sockets of one transport. A socket does not depend on the provider that made it.
 */
export interface ISocketProvider {
  /** The transport of the sockets this provider makes. */
  readonly type: SocketType;
  /** A new context for certificates, trust, ALPN and DTLS (used by TLS and DTLS sockets). */
  createSocketContext(log?: IInstanceLog): ISocketContext;
  /**
   * A new socket in mode `none` whose callbacks go to `user`.
   * @throws TypeError if `user` has no `socketShutdown` method; SocketStateError if the IoMux was terminated.
   */
  createSocket(user: USocket | SocketUser, options?: SocketOptions): ISocket;
  /**
   * TLS provider only: a new TLS socket that takes over a connected (or accepted) socket
   * (STARTTLS), or a DTLS socket over a UDP socket when `options.context` has `enableDtls()`.
   * From then on the old socket makes no callbacks and its methods throw. The new socket
   * reports `socketUpgradeToTlsComplete`, or `socketShutdown(SOCKET_TLS_HANDSHAKE_FAILED)`.
   * @throws SocketStateError on any other provider, for a socket that is not connected, has a
   *   recv pending or is already TLS (`docs/errors.md` lists every case).
   */
  upgradeToTls(socket: ISocket, user: USocket | SocketUser, options?: UpgradeOptions): ISocket;
}

/**
 * The application's side of a socket: subclass it and override what you need. A plain
 * object with `socketShutdown` and whichever other methods it needs works too (its type is
 * {@link SocketUser}).
 *
 * Rules that always hold: no callback runs inside an `ISocket` or provider method;
 * `socketShutdown` comes exactly once per socket and nothing follows it; a pending `recv`
 * completes or is cancelled before `socketShutdown`; send results come one per send, in order;
 * callbacks go to the socket's current user.
 */
export abstract class USocket {
  /** Client: the connection is up (TLS: handshake and ALPN done). Sends and recvs may follow. */
  socketConnectComplete(socket: ISocket): void {}
  /** Server: `bind()` succeeded on `localAddr:localPort` (the real port when 0 was asked). */
  socketBindResult(socket: ISocket, localAddr: string, localPort: number): void {}
  /**
   * Server: a connection from `remoteAddr:remotePort` waits. Call `socket.accept(user)` in
   * here to take it, or `accept(null)` (or nothing) to deny it.
   */
  socketListenResult(socket: ISocket, remoteAddr: string, remotePort: number): void {}
  /** The new socket of a connection accepted for this user; it is in `client` mode. */
  socketAcceptComplete(socket: ISocket): void {}
  /**
   * The socket ended, for `reason`. Called exactly once per socket, after a pending recv was
   * completed or cancelled; nothing follows it. The only callback an app must implement.
   */
  abstract socketShutdown(socket: ISocket, reason: ShutdownReason): void;
  /** The bytes of one `send`/`sendTo` were handed to the OS; one per send, in call order. */
  socketSendResult(socket: ISocket): void {}
  /** A stream `recv` completed: `len` bytes are at the front of `buffer`. */
  socketRecvResult(socket: ISocket, buffer: Uint8Array, len: number): void {}
  /** A datagram `recv` completed with one datagram (cut to the asked length) from `srcAddr:srcPort`. */
  socketRecvFromResult(socket: ISocket, buffer: Uint8Array, len: number, srcAddr: string, srcPort: number): void {}
  /** The pending `recv` on `buffer` was cancelled (by `recvCancel()` or because the socket closed). */
  socketRecvCanceled(socket: ISocket, buffer: Uint8Array): void {}
  /** A STARTTLS/DTLS upgrade finished its handshake; `socket` is the new secure socket. */
  socketUpgradeToTlsComplete(socket: ISocket): void {}
  /**
   * ALPN chose `protocol`; called on both sides before `socketConnectComplete`,
   * `socketAcceptComplete` or `socketUpgradeToTlsComplete`. Return false to refuse it (the
   * socket then ends with `SOCKET_ALPN_SELECTION_FAILED`). The default accepts every protocol.
   */
  socketAcceptSelectedAlpnProtocol(socket: ISocket, protocol: string): boolean {
    return true;
  }
}
