/**
 * Connection pairs for the async-layer specs: TCP, TLS, local sockets and STARTTLS, made with
 * the async layer itself (listen + connect), loopback only, port 0, unique socket paths.
 * Everything made is closed by `cleanup()` (bounded).
 */
import { getEventListeners } from 'node:events';
import { createLocalSocketProvider, createTcpSocketProvider, createTlsSocketProvider, ISocketProvider, ShutdownReason, SocketOptions } from '../../lib';
import { connect, Connection, listen, Listener, ListenOptions } from '../../lib/async';
import { tempPath, withTimeout } from '../helpers/net-helpers';
import { clientContext, serverContext, TestPki } from '../helpers/tls-fixture';

export const WAIT = 15_000;

export interface Pair {
  client: Connection;
  server: Connection;
  listener: Listener;
}

export interface AsyncFixture {
  name: string;
  /** A listener (options apply to it and its connections) and one connection through it. */
  pair(listenOptions?: ListenOptions, clientOptions?: SocketOptions): Promise<Pair>;
  /** A listener alone, and how to connect to it. */
  listener(options?: ListenOptions): Promise<{ listener: Listener; connect: (o?: SocketOptions & { signal?: AbortSignal }) => Promise<Connection> }>;
  cleanup(): Promise<void>;
}

const closers: Array<{ end(): void; closed: Promise<ShutdownReason> } | Listener> = [];

/** Closes everything the fixtures made; resolves once every one reported its end (bounded). */
export async function closeAll(): Promise<void> {
  const all = closers.splice(0);
  for (const c of all) {
    if ('close' in c && typeof c.close === 'function') c.close();
    else (c as Connection).end();
  }
  await withTimeout(Promise.all(all.map((c) => c.closed)), WAIT, 'every connection and listener of the test to end');
}

/** Registers a connection or listener for `closeAll()`. */
export function track<T extends Connection | Listener>(c: T): T {
  closers.push(c);
  return c;
}

/** How many abort listeners `signal` still has (none may be left once a call settled). */
export function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

function fixture(
  name: string,
  provider: () => ISocketProvider,
  bindArgs: () => [string, number],
  addressOf: (l: Listener) => string,
  serverOptions: () => SocketOptions = () => ({}),
  clientOptions: () => SocketOptions & { serverName?: string } = () => ({}),
  upgrade?: (pair: Pair) => Promise<Pair>,
): AsyncFixture {
  const self: AsyncFixture = {
    name,
    async listener(options = {}) {
      const p = provider();
      const [address, port] = bindArgs();
      const l = track(await withTimeout(listen(p, address, port, { ...serverOptions(), ...options }), WAIT, 'listen'));
      return {
        listener: l,
        connect: async (o = {}) => track(await connect(p, addressOf(l), { ...clientOptions(), ...o })),
      };
    },
    async pair(listenOptions = {}, clientOpts = {}) {
      const { listener, connect: dial } = await self.listener(listenOptions);
      const [client, server] = await withTimeout(Promise.all([dial(clientOpts), listener.accept()]), WAIT, 'a connection');
      let pair: Pair = { client, server: track(server!), listener };
      if (upgrade) pair = await withTimeout(upgrade(pair), WAIT, 'the STARTTLS upgrade');
      return pair;
    },
    cleanup: closeAll,
  };
  return self;
}

export const tcpFixture = (): AsyncFixture =>
  fixture(
    'TCP',
    createTcpSocketProvider,
    () => ['127.0.0.1', 0],
    (l) => `127.0.0.1:${l.port}`,
  );

export const localFixture = (): AsyncFixture =>
  fixture(
    'local',
    createLocalSocketProvider,
    () => [tempPath('async'), 0],
    (l) => l.address,
  );

export const tlsFixture = (pki: TestPki): AsyncFixture =>
  fixture(
    'TLS',
    createTlsSocketProvider,
    () => ['127.0.0.1', 0],
    (l) => `127.0.0.1:${l.port}`,
    () => ({ context: serverContext(pki) }),
    () => ({ context: clientContext(pki), serverName: 'localhost' }),
  );

export const starttlsFixture = (pki: TestPki): AsyncFixture =>
  fixture(
    'STARTTLS',
    createTcpSocketProvider,
    () => ['127.0.0.1', 0],
    (l) => `127.0.0.1:${l.port}`,
    () => ({}),
    () => ({}),
    async ({ client, server, listener }) => {
      const tls = createTlsSocketProvider();
      const [c, s] = await Promise.all([
        client.startTls(tls, { context: clientContext(pki), serverName: 'localhost' }),
        server.startTls(tls, { serverSide: true, context: serverContext(pki) }),
      ]);
      return { client: track(c), server: track(s), listener };
    },
  );
