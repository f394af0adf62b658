import { IInstanceLog, ISocket, LogFlag } from '../index';
import { formatAddress } from './address';

/**
 * The package's log for `--verbose`: every flag on, to stderr, in the default log's line
 * format. Without --verbose the sockets keep the default log, so SOCKET_PROVIDER_LOG still works.
 */
class StderrLog implements IInstanceLog {
  isEnabled(_flag: LogFlag): boolean {
    return true;
  }

  log(flag: LogFlag, message: string): void {
    process.stderr.write(`${new Date().toISOString()} socket-provider ${flag}: ${message}\n`);
  }
}

/** The tool's own lines on stderr (stdout carries only the peer's bytes). */
export class Reporter {
  /** The log to give sockets and contexts: undefined keeps the package default. */
  readonly log: IInstanceLog | undefined;

  constructor(readonly verbose: boolean) {
    this.log = verbose ? new StderrLog() : undefined;
  }

  /** A progress line, shown with --verbose only. */
  info(message: string): void {
    if (this.verbose) process.stderr.write(`socket-provider: ${message}\n`);
  }

  /** A line shown always: the listening address, warnings. */
  notice(message: string): void {
    process.stderr.write(`socket-provider: ${message}\n`);
  }
}

/** `ADDR:PORT (tls, ALPN h2, certificate CN=localhost)`, or for DTLS `ADDR:PORT (DTLS, SRTP_AES128_CM_SHA1_80, …)`, for --verbose. */
export function describePeer(socket: ISocket, dtls = false): string {
  const where = socket.type === 'local' ? 'a local socket' : formatAddress(socket.remoteAddress ?? '', socket.remotePort ?? 0, false);
  const facts: string[] = [dtls ? 'DTLS' : socket.type];
  if (socket.type === 'tls') facts.push(`ALPN ${socket.alpnProtocol ?? 'none'}`);
  else if (dtls && socket.alpnProtocol !== null) facts.push(`ALPN ${socket.alpnProtocol}`);
  if (dtls) facts.push(socket.getSrtpKeyingMaterial()?.profile ?? 'no SRTP');
  if (socket.type === 'tls' || dtls) {
    const cn = socket.getPeerCertificate()?.subject?.CN;
    if (cn) facts.push(`certificate CN=${cn}`);
  }
  return `${where} (${facts.join(', ')})`;
}
