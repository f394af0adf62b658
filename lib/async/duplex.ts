/**
 * Node streams over the async layer: `toDuplex(conn)` is a `stream.Duplex` whose reads are
 * `readSome()` (one at a time, only while the readable side wants data) and whose writes
 * are `write()` (the write callback runs at the send result).
 */
import { Duplex } from 'node:stream';
import type { PeerCertificate, ShutdownReason } from '../api';
import type { Connection, MessageConnection } from './api';
import { AsyncSocket } from './connection';
import { cleanEnd, SocketClosedError } from './errors';

/** Options of {@link toDuplex}. */
export interface DuplexOptions {
  /**
   * What `end()` does. The socket API has no half-close: closing sends the peer the end of
   * the stream and stops reading too. `false` (the default, as `net.Socket`): `end()` sends
   * what was written and closes the connection; bytes the peer sends after that are not read.
   * `true`: `end()` sends what was written ('finish' follows) and the connection stays open
   * for reading until the peer closes (or `destroy()`); the peer learns of our end only then,
   * so the protocol must tell it when to close. Either way, the peer closing ends the readable
   * side (after every byte) and then the writable side.
   */
  allowHalfOpen?: boolean;
  /** Streams: the most bytes one read asks for (each is one `readSome`). Default 65 536. */
  readSize?: number;
  /** The readable side's buffer (bytes; messages and datagrams: their count). Default 64 KiB (16 in object mode). */
  readableHighWaterMark?: number;
  /** The writable side's buffer (bytes; messages and datagrams: their count). Default 64 KiB (16 in object mode). */
  writableHighWaterMark?: number;
}

/**
 * A `stream.Duplex` over a connection: bytes for a stream connection; object mode (one chunk
 * = one message or datagram) for a {@link MessageConnection} or a datagram connection.
 *
 * Backpressure both ways: a `readSome` is out only while the readable side is below its
 * high-water mark, so a full readable stops `recv` (and the socket's bounded read-ahead then
 * holds the peer back); a write's callback runs at its send result, so `write()` returning
 * false and 'drain' follow the socket. Errors: a socket that ends with an error destroys the
 * stream with a {@link SocketClosedError} (`reason`, `lastErrorCode`); `destroy()` closes the
 * connection. `end()` follows {@link DuplexOptions.allowHalfOpen}. The connection's facts are
 * mirrored (`remoteAddress`, `alpnProtocol`, …) so that `http`/`http2` can use the stream
 * (`createConnection`, `server.emit('connection', duplex)`).
 */
export function toDuplex(conn: Connection | MessageConnection, options: DuplexOptions = {}): SocketDuplex {
  if (typeof (conn as Connection)?.readSome !== 'function' && typeof (conn as MessageConnection)?.receive !== 'function') {
    throw new TypeError('toDuplex: expected a Connection or a MessageConnection');
  }
  return new DuplexImpl(conn, options);
}

/** The facts a {@link SocketDuplex} mirrors from its connection, as `net.Socket` / `tls.TLSSocket` name them. */
export interface DuplexFacts {
  /** The connection underneath. */
  readonly connection: Connection | MessageConnection;
  /** The peer's address. */
  readonly remoteAddress: string | undefined;
  /** The peer's port. */
  readonly remotePort: number | undefined;
  /** The local address. */
  readonly localAddress: string | undefined;
  /** The local port. */
  readonly localPort: number | undefined;
  /** TLS/DTLS: the negotiated ALPN protocol, or false (as `tls.TLSSocket`). */
  readonly alpnProtocol: string | false;
  /** TLS/DTLS: the peer's certificate, or null. */
  getPeerCertificate(): PeerCertificate | null;
  /** Accepted for `net.Socket` compatibility; the socket's `noDelay` option decides (default on). */
  setNoDelay(noDelay?: boolean): this;
  /** Accepted for `net.Socket` compatibility; the socket's `keepAlive` option decides. */
  setKeepAlive(enable?: boolean, initialDelay?: number): this;
  /** Accepted for `net.Socket` compatibility and ignored: use an AbortSignal or your own timer. */
  setTimeout(timeout: number, callback?: () => void): this;
}

/** What {@link toDuplex} returns: a `stream.Duplex` with the connection's facts. */
export type SocketDuplex = Duplex & DuplexFacts;

class DuplexImpl extends Duplex implements DuplexFacts {
  /** The connection underneath. */
  readonly connection: Connection | MessageConnection;
  private reading = false;
  private readonly readSize: number;
  private readonly halfOpen: boolean;
  private readonly pull: () => Promise<Buffer | null>;
  private readonly put: (chunk: Buffer) => Promise<void>;

  constructor(conn: Connection | MessageConnection, options: DuplexOptions = {}) {
    const objectMode = !('readSome' in conn) || (conn as Connection).datagram;
    const halfOpen = options.allowHalfOpen ?? false;
    super({
      objectMode,
      allowHalfOpen: true, // our own: the peer's end ends the writable side below
      readableHighWaterMark: options.readableHighWaterMark ?? (objectMode ? 16 : 65_536),
      writableHighWaterMark: options.writableHighWaterMark ?? (objectMode ? 16 : 65_536),
    });
    this.connection = conn;
    this.halfOpen = halfOpen;
    this.readSize = options.readSize ?? 65_536;
    if ('readSome' in conn) {
      this.pull = () => conn.readSome({ max: this.readSize });
      this.put = (chunk) => conn.write(chunk);
    } else {
      this.pull = () => conn.receive();
      this.put = (chunk) => conn.send(chunk);
    }
    // An error end while nothing was reading or writing still destroys the stream.
    void conn.closed.then((reason: ShutdownReason) => {
      if (!cleanEnd(reason) && !this.destroyed) this.destroy(new SocketClosedError(reason, this.lastErrorCode(), 'stream'));
    });
  }

  private lastErrorCode(): string | null {
    try {
      return this.connection.stats().lastErrorCode;
    } catch {
      return null;
    }
  }

  override _read(): void {
    if (this.reading) return;
    this.reading = true;
    this.pull().then(
      (chunk) => {
        this.reading = false;
        if (this.destroyed) return;
        if (chunk !== null) {
          this.push(chunk);
          return;
        }
        this.push(null);
        // The peer closed (or we did): nothing more can be written either.
        if (!this.writableEnded) this.end();
        else if (this.halfOpen) this.connection.end();
      },
      (err: unknown) => {
        this.reading = false;
        if (!this.destroyed) this.destroy(err as Error);
      },
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.put(chunk).then(() => callback(), callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    if (this.writableObjectMode) {
      // One message or datagram each: send them all, the callback at the last one's result.
      Promise.all(chunks.map((c) => this.put(c.chunk))).then(() => callback(), callback);
      return;
    }
    this.put(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk))).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // Every write got its send result by now.
    if (!this.halfOpen || this.readableEnded) this.connection.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.connection.end();
    callback(err);
  }

  /** The peer's address. */
  get remoteAddress(): string | undefined {
    return this.connection.remoteAddress;
  }
  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.connection.remotePort;
  }
  /** The local address. */
  get localAddress(): string | undefined {
    return this.connection.localAddress;
  }
  /** The local port. */
  get localPort(): number | undefined {
    return this.connection.localPort;
  }
  /** TLS/DTLS: the negotiated ALPN protocol, or false (as `tls.TLSSocket`). */
  get alpnProtocol(): string | false {
    return this.connection.alpnProtocol ?? false;
  }
  /** TLS/DTLS: the peer's certificate, or null. */
  getPeerCertificate(): PeerCertificate | null {
    return this.connection.peerCertificate;
  }
  /** Accepted for `net.Socket` compatibility; the socket's `noDelay` option decides (default on). */
  setNoDelay(): this {
    return this;
  }
  /** Accepted for `net.Socket` compatibility; the socket's `keepAlive` option decides. */
  setKeepAlive(): this {
    return this;
  }
  /** Accepted for `net.Socket` compatibility and ignored: use an AbortSignal or your own timer. */
  setTimeout(): this {
    return this;
  }
}

/** Whether `conn` is one of ours (for the checks of other modules). */
export function isConnection(conn: unknown): conn is Connection {
  return conn instanceof AsyncSocket;
}
