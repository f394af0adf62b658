/** Helpers of the rudp specs: a listener with message-collecting accepted users, and a client. */
import { createRudpSocketProvider, IInstanceLog, ISocket, LogFlag, SocketOptions } from '../../lib';
import { guardProvider, RecordingUser } from '../helpers/recording-user';

export const WAIT = 20000;
export const rudp = guardProvider(createRudpSocketProvider());

/** A recording user that reads message after message (one per recv) into `messages`; `echo` sends each back. */
export function messageUser(label: string, opts: { echo?: boolean; bufferSize?: number } = {}): RecordingUser & { messages: Buffer[] } {
  const u = new RecordingUser(label) as RecordingUser & { messages: Buffer[] };
  u.messages = [];
  const buf = new Uint8Array(opts.bufferSize ?? 600 * 1024);
  const start = (s: ISocket): void => s.recv(buf);
  u.on('socketConnectComplete', start);
  u.on('socketAcceptComplete', start);
  u.on('socketRecvFromResult', (s: ISocket, b: Uint8Array, n: number) => {
    const m = Buffer.from(b.subarray(0, n));
    u.messages.push(m);
    if (opts.echo) s.send(m);
    s.recv(buf);
  });
  return u;
}

/** A bound, listening rudp socket; `accept` decides for each peer. */
export async function rudpListener(
  accept: () => RecordingUser | null | undefined,
  options: SocketOptions = {},
): Promise<{ l: ISocket; lu: RecordingUser; port: number }> {
  const lu = new RecordingUser('listener', { accept });
  const l = rudp.createSocket(lu, options);
  l.bind('127.0.0.1', 0);
  l.listen();
  await lu.waitFor('socketBindResult', 1, WAIT, l);
  return { l, lu, port: l.localPort as number };
}

/** Bytes whose content tells their index and length, to check messages intact. */
export function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

/** A log that keeps the rudp lines (`LogFlag.Rudp`) it is given, in order. */
export function memoryLog(): IInstanceLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, isEnabled: (flag) => flag === LogFlag.Rudp, log: (_flag, message) => lines.push(message) };
}

/** What a call threw: a `SocketStateError`'s code (or the error as text), 'nothing' if it returned. */
export function thrown(f: () => void): string {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return 'nothing';
}
