/** The TCP fixture shared by every TCP spec: loopback IPv4, port 0, raw `net` peers. */
import { createTcpSocketProvider } from '../../lib';
import { rawConnect, rawServer } from './net-helpers';
import { StreamFixture } from './stream-harness';

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), Number(address.slice(i + 1))];
}

export const tcpFixture: StreamFixture = {
  provider: () => createTcpSocketProvider(),
  serverOptions: () => ({}),
  clientOptions: () => ({}),
  bindArgs: () => ['127.0.0.1', 0],
  connectAddress: (addr, port) => (addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`),
  rawConnect: async (address) => {
    const [host, port] = splitHostPort(address);
    return rawConnect(port, host);
  },
  rawServer: async () => {
    const srv = await rawServer(() => undefined, '127.0.0.1', { allowHalfOpen: true });
    return {
      address: `127.0.0.1:${srv.port}`,
      connection: (n, ms) => srv.connection(n, ms),
      close: () => srv.close(),
    };
  },
};
