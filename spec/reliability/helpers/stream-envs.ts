/** The transports the stream fuzzing runs on: providers, options and addresses of each. */
import { createLocalSocketProvider, createTcpSocketProvider, createTlsSocketProvider, ISocketContext } from '../../../lib';
import { tempPath } from '../../helpers/net-helpers';
import { clientContext, serverContext, TestPki } from '../../helpers/tls-fixture';
import { StreamEnv } from './stream-fuzz';
import { StreamKind } from './stream-peers';

/** A STARTTLS handshake with a peer that never answers ends after this (keeps runs short). */
export const FUZZ_UPGRADE_HANDSHAKE_MS = 300;

const ipAddress = (addr: string, port: number): string => (addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`);

/** The fuzz environment of `kind`; `pki` must be readable (inside a test) when TLS is used. */
export function streamEnv(kind: StreamKind, pki: TestPki): StreamEnv {
  let server: ISocketContext | null = null;
  let client: ISocketContext | null = null;
  const serverCtx = (): ISocketContext => (server ??= serverContext(pki));
  const clientCtx = (): ISocketContext => (client ??= clientContext(pki));
  return {
    kind,
    pki,
    provider: () => (kind === 'tcp' ? createTcpSocketProvider() : kind === 'tls' ? createTlsSocketProvider() : createLocalSocketProvider()),
    tlsProvider: () => createTlsSocketProvider(),
    serverOptions: () => (kind === 'tls' ? { context: serverCtx() } : {}),
    clientOptions: () => (kind === 'tls' ? { context: clientCtx() } : {}),
    bindArgs: () => (kind === 'local' ? [tempPath('sp-fuzz'), 0] : ['127.0.0.1', 0]),
    connectAddress: (addr, port) => (kind === 'local' ? addr : ipAddress(addr, port)),
    upgradeOptions: (role) =>
      role === 'A'
        ? { serverSide: true, context: serverCtx(), handshakeTimeoutMs: FUZZ_UPGRADE_HANDSHAKE_MS }
        : { context: clientCtx(), serverName: 'localhost', handshakeTimeoutMs: FUZZ_UPGRADE_HANDSHAKE_MS },
  };
}
