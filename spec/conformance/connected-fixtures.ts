/**
 * What the connected-stream suite needs from a transport: two connected ends. A stream
 * transport gives them by a listener and a client (`connectedFromStream`); a socket pair by
 * `createSocketPair` (`pairFixture`), with no listener, no client and no address at all.
 */
import { createSocketPair, IoMux, ISocket, SocketOptions, SocketType } from '../../lib';
import { guard, RecordingUser } from '../helpers/recording-user';
import { StreamFixture, StreamHarness } from '../helpers/stream-harness';

/** Two connected ends of one connection. */
export interface ConnectedEnds {
  /** The end whose user got `socketConnectComplete`. */
  client: ISocket;
  /** The end whose user got `socketAcceptComplete`. */
  server: ISocket;
}

export interface ConnectOptions {
  /** Both ends (and whatever else the fixture makes for them, e.g. a listener) belong to this IoMux. */
  iomux?: IoMux;
}

export interface ConnectedStreamFixture {
  /** The `type` both ends report. */
  readonly type: SocketType;
  /**
   * What the ends report as addresses. 'ip': real addresses and ports, each end's remote the
   * other's local; 'path': a local socket (ports are 0); 'none': no addresses at all ('' and 0).
   */
  readonly addressing: 'ip' | 'path' | 'none';
  /** bytesSent/bytesReceived count application bytes exactly (else: at least). */
  readonly exactByteCounts: boolean;
  /**
   * Makes one connection: `clientUser` gets `socketConnectComplete`, `serverUser`
   * `socketAcceptComplete`; resolves (bounded) once both came. The ends are guarded sockets
   * (recording-user.ts), so every API call on them is checked.
   */
  connect(clientUser: RecordingUser, serverUser: RecordingUser, options?: ConnectOptions): Promise<ConnectedEnds>;
  /** After each test: closes whatever the fixture made besides the ends (listeners, raw peers, files). */
  cleanup(): Promise<void>;
}

/** The connected ends of a stream transport: a listener accepts for `serverUser`, a client connects for `clientUser`. */
export function connectedFromStream(fx: StreamFixture): ConnectedStreamFixture {
  let harness: StreamHarness | null = null;
  const h = (): StreamHarness => (harness ??= new StreamHarness(fx));
  const withMux = (options: SocketOptions, iomux?: IoMux): SocketOptions | undefined => (iomux ? { ...options, iomux } : undefined);
  return {
    get type() {
      return h().provider.type;
    },
    addressing: fx.addressing ?? 'ip',
    exactByteCounts: fx.exactByteCounts ?? true,
    async connect(clientUser, serverUser, o = {}) {
      const srv = await h().listen({ conn: () => serverUser, options: withMux(fx.serverOptions(), o.iomux) });
      const client = await h().connect(srv, clientUser, withMux(fx.clientOptions(), o.iomux));
      const { socket: server } = await srv.accepted(0);
      return { client, server };
    },
    async cleanup() {
      const done = harness;
      harness = null;
      if (done) await done.cleanup();
    },
  };
}

/**
 * The socket pair (lib/transports/pair.ts, docs/socket-pairs.md): `createSocketPair(a, b)`
 * makes both ends at once; `a` gets `socketConnectComplete`, `b` `socketAcceptComplete`.
 *
 * Where it legitimately differs from a network stream:
 * - addressing 'none': an in-process pipe has no address; both ends report '' and port 0
 *   (docs/socket-pairs.md: "Both ends have type 'local', mode 'client', and no addresses").
 * - type 'local' (an in-process connection, like a Unix socket pair).
 * - No listener and no client exist: the listener and client suites (bind, listen, accept,
 *   connect results, sends before the connection is up) do not apply to it.
 */
export function pairFixture(): ConnectedStreamFixture {
  return {
    type: 'local',
    addressing: 'none',
    exactByteCounts: true,
    async connect(clientUser, serverUser, o = {}) {
      const [a, b] = createSocketPair(clientUser, serverUser, o.iomux ? { iomux: o.iomux } : {});
      clientUser.adopt(a);
      serverUser.adopt(b);
      const client = guard(a);
      const server = guard(b);
      await clientUser.waitFor('socketConnectComplete', 1, 10000, client);
      await serverUser.waitFor('socketAcceptComplete', 1, 10000, server);
      return { client, server };
    },
    async cleanup() {
      // Nothing besides the two ends, which cleanupAndCheck() shuts down.
    },
  };
}
