/**
 * A stream listener's life as its log shows it (public API only): `bind()` then `listen()` in
 * one go — before the bind has completed — must still end in `listening`, as when `listen()`
 * comes after `socketBindResult`. (Before #16 the first order left the socket `bound` for ever,
 * and the log never showed `-> listening`.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalSocketProvider, createTcpSocketProvider, IInstanceLog, IoMux, ISocket, ISocketProvider, LogFlag, ShutdownReason, USocket } from '../../lib';

/** A log that keeps every line of every flag. */
class CapturingLog implements IInstanceLog {
  readonly lines: string[] = [];
  isEnabled(): boolean {
    return true;
  }
  log(_flag: LogFlag, message: string): void {
    this.lines.push(message);
  }
  /** The state transitions logged for the socket with log id `id`, as `old -> new`. */
  transitions(id: string): string[] {
    const out: string[] = [];
    for (const line of this.lines) {
      const m = /^(#\d+) (\w+ -> \w+)/.exec(line);
      if (m && m[1] === id) out.push(m[2]);
    }
    return out;
  }
}

/** A listener that accepts every connection and counts what happens. */
class ListenerUser extends USocket {
  bound: Promise<number>;
  offered: Promise<void>;
  private resolveBound!: (port: number) => void;
  private resolveOffered!: () => void;
  readonly accepted: ISocket[] = [];
  readonly ended: ShutdownReason[] = [];

  constructor(private readonly peer: USocket) {
    super();
    this.bound = new Promise((resolve) => (this.resolveBound = resolve));
    this.offered = new Promise((resolve) => (this.resolveOffered = resolve));
  }
  override socketBindResult(_socket: ISocket, _addr: string, port: number): void {
    this.resolveBound(port);
  }
  override socketListenResult(socket: ISocket): void {
    socket.accept(this.peer);
    this.resolveOffered();
  }
  socketShutdown(_socket: ISocket, reason: ShutdownReason): void {
    this.ended.push(reason);
  }
}

class QuietUser extends USocket {
  readonly sockets: ISocket[] = [];
  override socketAcceptComplete(socket: ISocket): void {
    this.sockets.push(socket);
  }
  socketShutdown(): void {}
}

/** The log id of the socket: the `#n` of the first line that mentions `binding`. */
function idOf(log: CapturingLog): string {
  const line = log.lines.find((l) => / -> binding/.test(l));
  if (!line) throw new Error(`no binding line in ${JSON.stringify(log.lines)}`);
  return line.split(' ')[0];
}

interface Case {
  name: string;
  provider: () => ISocketProvider;
  bindArgs: () => [string | null, number];
  connectTo: (port: number, path: string | null) => string;
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sp-listener-state-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const cases: Case[] = [
  { name: 'TCP', provider: createTcpSocketProvider, bindArgs: () => ['127.0.0.1', 0], connectTo: (port) => `127.0.0.1:${port}` },
  ...(process.platform === 'win32'
    ? []
    : [
        {
          name: 'local',
          provider: createLocalSocketProvider,
          bindArgs: (): [string, number] => [join(dir, `l${Math.random().toString(36).slice(2, 8)}.sock`), 0],
          connectTo: (_port: number, path: string | null) => path!,
        },
      ]),
];

describe.each(cases)('a $name listener', ({ provider, bindArgs, connectTo }) => {
  let iomux: IoMux;
  beforeEach(() => {
    iomux = new IoMux();
  });
  afterEach(() => {
    iomux.terminate();
  });

  async function run(listenAtOnce: boolean): Promise<{ log: CapturingLog; listener: ListenerUser; peer: QuietUser }> {
    const log = new CapturingLog();
    const p = provider();
    const peer = new QuietUser();
    const listener = new ListenerUser(peer);
    const server = p.createSocket(listener, { iomux, log });
    const [address, port] = bindArgs();
    server.bind(address, port);
    if (listenAtOnce) server.listen();
    const boundPort = await listener.bound;
    if (!listenAtOnce) server.listen();
    // The listener works either way: a client is offered and accepted.
    const client = p.createSocket(new QuietUser(), { iomux });
    client.connect(connectTo(boundPort, address));
    await listener.offered;
    return { log, listener, peer };
  }

  it('bind(); listen(); in one go ends in listening, and the log says so', async () => {
    const { log } = await run(true);
    const id = idOf(log);
    expect(log.transitions(id)).toEqual(['idle -> binding', 'binding -> bound', 'bound -> listening']);
  });

  it('listen() after socketBindResult logs bound -> listening once', async () => {
    const { log } = await run(false);
    const id = idOf(log);
    expect(log.transitions(id)).toEqual(['idle -> binding', 'binding -> bound', 'bound -> listening']);
  });

  it('a listener shut down after listening logs listening -> closed', async () => {
    const { log } = await run(true);
    const id = idOf(log);
    iomux.terminate();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.transitions(id).slice(-1)).toEqual(['listening -> closed']);
  });
});
