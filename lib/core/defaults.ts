/**
 * Every default of the core, in one place: time-outs, queue lengths, buffer sizes, the
 * read-ahead, the backlog. Options documented in `docs/guide.md` override them per socket. The
 * layers above the core keep their own, since they may not import it: `DEFAULT_MAX_MESSAGE_SIZE`
 * and `DEFAULT_UNREAD_WARNING_MS` (messages/), `DEFAULT_STARTTLS_TIMEOUT_MS` (cli/).
 *
 * A time-out of 0 always means "no limit": the core arms its time-outs with `armTimeout`
 * (`core/timeout.ts`), the datagram listener's idle sweep and the layers' timers check 0 alike.
 */

// ---- time-outs (ms; 0 disables) ---------------------------------------------------------

/** Name resolution plus connect, then `SOCKET_CONNECT_FAILED` (option `connectTimeoutMs`). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** A TLS or DTLS handshake, then `SOCKET_TLS_HANDSHAKE_FAILED` (option `handshakeTimeoutMs`). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** `shutdown()` waits this long for queued data to reach the OS, then closes anyway (option `shutdownTimeoutMs`). */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

// ---- streams -----------------------------------------------------------------------------

/** Bytes read ahead while no recv is pending; then the Node socket is paused (option `readAheadBytes`). */
export const DEFAULT_READ_AHEAD = 256 * 1024;
/** Connections held before `listen()` or while undecided (option `backlog`). */
export const DEFAULT_BACKLOG = 511;
/** The mode of a local socket's file after `bind()` (option `fileMode`). */
export const DEFAULT_FILE_MODE = 0o666;

// ---- datagrams ---------------------------------------------------------------------------

/** Datagrams kept while no recv is pending; one more is dropped and counted (option `datagramQueueLength`). */
export const DEFAULT_DATAGRAM_QUEUE = 1024;
/** SO_RCVBUF / SO_SNDBUF: Node's 208 KiB default lost ~23 % of a 512-byte burst here (NODE-PITFALLS). */
export const DEFAULT_UDP_BUFFER = 1024 * 1024;

/**
 * A datagram listener: an accepted peer silent this long ends `SOCKET_LOST`, and a denied peer is
 * offered again after it (option `idleTimeoutMs`; 0: never).
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** DTLS listener: handshakes in progress at once (one more new peer's datagram is dropped, no state kept). */
export const DEFAULT_MAX_HANDSHAKES = 64;
