/**
 * The plaintext part of --starttls, in SMTP's words (RFC 3207), so the tool works against
 * `openssl s_client -starttls smtp` and real mail servers:
 *
 *   server: 220 <host> ESMTP socket-provider
 *   client: EHLO <host>                  server: 250-<host> / 250 STARTTLS
 *   client: STARTTLS                     server: 220 2.0.0 Ready to start TLS
 *
 * then both sides upgrade the same connection. Bytes that follow the last plaintext line
 * before the handshake are refused on both sides (they would be injected plaintext). The whole
 * exchange, from the connection to the upgrade, is bounded by --starttls-timeout: a peer that
 * stays silent or never asks for the upgrade does not hold the run.
 */
import { hostname } from 'node:os';
import { ISocket, ShutdownReason, USocket } from '../index';
import { ExitCode } from './exit';
import type { SessionEnv } from './pipe-session';
import { describePeer } from './report';

/** SMTP's longest text line (RFC 5321 §4.5.3.1.6) without the CRLF. */
const MAX_LINE = 998;
const RECV_BYTES = 1024;

/** Takes over the plaintext socket once the exchange is done. */
export type Upgrade = (plain: ISocket) => void;

type Step = 'more' | 'upgrade' | 'stop';

/** Reads the exchange line by line and ends the run if it fails, or takes too long, before the upgrade. */
abstract class PlainExchange extends USocket {
  private readonly buffer = new Uint8Array(RECV_BYTES);
  private text = '';
  private failure: { code: number; message: string } | null = null;
  private upgraded = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    protected readonly env: SessionEnv,
    private readonly upgrade: Upgrade,
    /** The longest the exchange may take, from `begin` to the upgrade; 0: no limit. */
    private readonly timeoutMs: number,
  ) {
    super();
  }

  /** One complete line from the peer, CR LF removed. */
  protected abstract onLine(socket: ISocket, line: string): Step;

  protected begin(socket: ISocket): void {
    this.env.ending.setCloser(() => socket.shutdown());
    if (this.timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.end(socket, ExitCode.StarttlsTimedOut, `STARTTLS timed out: no TLS upgrade within ${this.timeoutMs} ms (--starttls-timeout)`);
      }, this.timeoutMs);
    }
    socket.recv(this.buffer, RECV_BYTES, true);
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  override socketRecvResult(socket: ISocket, buffer: Uint8Array, len: number): void {
    this.text += Buffer.from(buffer.subarray(0, len)).toString('latin1');
    let eol: number;
    while ((eol = this.text.indexOf('\n')) >= 0) {
      const line = this.text.slice(0, eol).replace(/\r$/, '');
      this.text = this.text.slice(eol + 1);
      this.env.reporter.info(`<- ${line}`);
      const step = this.onLine(socket, line);
      if (step === 'stop') return;
      if (step === 'upgrade') {
        if (this.text.length > 0) {
          this.fail(socket, `plaintext after the last line before the TLS handshake: ${JSON.stringify(this.text.slice(0, 40))}`);
          return;
        }
        this.upgraded = true;
        this.stopTimer(); // the TLS handshake has its own time-out (handshakeTimeoutMs)
        this.upgrade(socket); // the plain socket falls silent; the TLS socket's user takes over
        return;
      }
    }
    if (this.text.length > MAX_LINE) this.fail(socket, `a line longer than ${MAX_LINE} bytes in the STARTTLS exchange`);
    else socket.recv(this.buffer, RECV_BYTES, true);
  }

  protected sendLine(socket: ISocket, line: string): void {
    this.env.reporter.info(`-> ${line}`);
    socket.send(Buffer.from(`${line}\r\n`, 'latin1'));
  }

  /** Ends the exchange: the connection is closed and the tool exits with the STARTTLS code. */
  protected fail(socket: ISocket, message: string): Step {
    this.end(socket, ExitCode.StarttlsFailed, `STARTTLS failed: ${message}`);
    return 'stop';
  }

  /** Closes the connection; its shutdown then exits with `code` (the first reason given wins). */
  private end(socket: ISocket, code: number, message: string): void {
    this.failure ??= { code, message };
    socket.shutdown();
  }

  override socketShutdown(_socket: ISocket, reason: ShutdownReason): void {
    this.stopTimer();
    if (this.upgraded) return;
    if (this.failure !== null) this.env.ending.exit(this.failure.code, this.failure.message);
    else if (reason === ShutdownReason.ByPeer) this.env.ending.exit(ExitCode.StarttlsFailed, 'STARTTLS failed: the peer closed the connection first');
    else this.env.ending.byReason(reason);
  }
}

/** An SMTP reply line: code, and whether more lines of the same reply follow. */
function parseReply(line: string): { code: number; more: boolean } | null {
  const m = /^([2-5][0-9]{2})([ -]|$)/.exec(line);
  return m ? { code: Number(m[1]), more: m[2] === '-' } : null;
}

/** connect --starttls: waits for the greeting, sends EHLO, then STARTTLS, upgrades on 220. */
export class StarttlsClient extends PlainExchange {
  private state: 'greeting' | 'ehlo' | 'starttls' = 'greeting';

  override socketConnectComplete(socket: ISocket): void {
    this.env.reporter.info(`connected in plaintext to ${describePeer(socket)}; STARTTLS exchange`);
    this.begin(socket);
  }

  protected onLine(socket: ISocket, line: string): Step {
    const reply = parseReply(line);
    if (!reply) return this.fail(socket, `not an SMTP reply: ${JSON.stringify(line.slice(0, 80))}`);
    if (reply.more) return 'more';
    if (this.state === 'greeting') {
      if (reply.code !== 220) return this.fail(socket, `the server's greeting was ${JSON.stringify(line)}`);
      this.state = 'ehlo';
      this.sendLine(socket, `EHLO ${hostname() || 'localhost'}`);
      return 'more';
    }
    if (this.state === 'ehlo') {
      if (reply.code !== 250) return this.fail(socket, `EHLO refused: ${JSON.stringify(line)}`);
      this.state = 'starttls';
      this.sendLine(socket, 'STARTTLS');
      return 'more';
    }
    if (reply.code !== 220) return this.fail(socket, `STARTTLS refused: ${JSON.stringify(line)}`);
    return 'upgrade';
  }
}

/** listen --starttls: greets, answers EHLO/HELO/NOOP/RSET/QUIT, and upgrades after STARTTLS. */
export class StarttlsServer extends PlainExchange {
  private readonly name = hostname() || 'localhost';

  override socketAcceptComplete(socket: ISocket): void {
    this.env.reporter.info(`accepted a plaintext connection from ${describePeer(socket)}; STARTTLS exchange`);
    this.sendLine(socket, `220 ${this.name} ESMTP socket-provider`);
    this.begin(socket);
  }

  protected onLine(socket: ISocket, line: string): Step {
    const verb = line.split(' ')[0].toUpperCase();
    switch (verb) {
      case 'EHLO':
        this.sendLine(socket, `250-${this.name}`);
        this.sendLine(socket, '250 STARTTLS');
        return 'more';
      case 'HELO':
        this.sendLine(socket, `250 ${this.name}`);
        return 'more';
      case 'NOOP':
      case 'RSET':
        this.sendLine(socket, '250 2.0.0 OK');
        return 'more';
      case 'STARTTLS':
        this.sendLine(socket, '220 2.0.0 Ready to start TLS'); // queued: sent before the handshake
        return 'upgrade';
      case 'QUIT':
        this.sendLine(socket, '221 2.0.0 Bye');
        return this.fail(socket, 'the client quit before STARTTLS');
      default:
        this.sendLine(socket, '530 5.7.0 Must issue a STARTTLS command first');
        return 'more';
    }
  }
}
