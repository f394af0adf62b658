/**
 * The `reusePort` option in one process: its checks and the capability it depends on. Where it is
 * not available, createSocket throws ERR_SOCKET_REUSEPORT_UNAVAILABLE: the tests branch on the
 * capability, never skip. The capability answer itself is checked against a real double bind with
 * Node's own net and dgram. What the option does (load spread, UDP affinity) is tested with real
 * cluster workers in cluster.spec.ts.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import {
  createLocalSocketProvider,
  createTcpSocketProvider,
  createTlsSocketProvider,
  createUdpSocketProvider,
  ISocketProvider,
  SocketErrorCode,
  SocketStateError,
  USocket,
} from '../../lib';
import { reusePortUnavailable } from '../../lib/core/validate';
import { withTimeout } from '../helpers/net-helpers';

const why = reusePortUnavailable();
class Quiet extends USocket {
  socketShutdown(): void {}
}
const noop = new Quiet();

/** Whether Node's own net and dgram let two sockets bind one port with reusePort (on Node 20 they ignore the option). */
async function nodeDoubleBinds(): Promise<{ tcp: boolean; udp: boolean }> {
  const tcp = await new Promise<boolean>((resolve) => {
    const a = net.createServer();
    a.listen({ port: 0, host: '127.0.0.1', reusePort: true } as net.ListenOptions, () => {
      const b = net.createServer();
      const done = (ok: boolean): void => {
        a.close();
        b.close();
        resolve(ok);
      };
      b.once('error', () => done(false));
      b.listen({ port: (a.address() as net.AddressInfo).port, host: '127.0.0.1', reusePort: true } as net.ListenOptions, () => done(true));
    });
  });
  const udp = await new Promise<boolean>((resolve) => {
    const a = dgram.createSocket({ type: 'udp4', reusePort: true } as dgram.SocketOptions);
    a.bind(0, '127.0.0.1', () => {
      const b = dgram.createSocket({ type: 'udp4', reusePort: true } as dgram.SocketOptions);
      const done = (ok: boolean): void => {
        a.close();
        b.close();
        resolve(ok);
      };
      b.once('error', () => done(false));
      b.bind(a.address().port, '127.0.0.1', () => done(true));
    });
  });
  return { tcp, udp };
}

describe('reusePort: the option', () => {
  it('is a boolean', () => {
    for (const provider of [createTcpSocketProvider(), createUdpSocketProvider()]) {
      expect(() => provider.createSocket(noop, { reusePort: 'yes' as unknown as boolean })).toThrow(TypeError);
    }
  });

  it('false or absent changes nothing, on every line', () => {
    for (const provider of [createTcpSocketProvider(), createUdpSocketProvider(), createLocalSocketProvider()]) {
      provider.createSocket(noop, { reusePort: false }).shutdown();
      provider.createSocket(noop).shutdown();
    }
  });

  it('a local socket has no port to share: ERR_SOCKET_REUSEPORT_UNAVAILABLE', () => {
    expect(() => createLocalSocketProvider().createSocket(noop, { reusePort: true })).toThrow(
      expect.objectContaining({ name: 'SocketStateError', code: SocketErrorCode.ReusePortUnavailable }),
    );
  });

  it('the capability the library reads agrees with what Node really does (a double bind)', async () => {
    const real = await withTimeout(nodeDoubleBinds(), 10_000, 'the double-bind probe');
    if (process.platform === 'linux') expect(real).toEqual({ tcp: why === null, udp: why === null });
    else if (why === null) expect(real).toEqual({ tcp: true, udp: true });
  });

  it(`TCP, TLS, UDP: ${why === null ? 'available on this Node' : 'unavailable on this Node: createSocket throws'}`, () => {
    const providers: ISocketProvider[] = [createTcpSocketProvider(), createTlsSocketProvider(), createUdpSocketProvider()];
    for (const provider of providers) {
      if (why === null) {
        provider.createSocket(noop, { reusePort: true }).shutdown();
        continue;
      }
      let thrown: unknown;
      try {
        provider.createSocket(noop, { reusePort: true });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(SocketStateError);
      expect((thrown as SocketStateError).code).toBe(SocketErrorCode.ReusePortUnavailable);
      expect((thrown as Error).message).toContain(process.versions.node);
    }
  });

  it('the capability by version and platform', () => {
    expect(reusePortUnavailable('20.19.0', 'linux')).toMatch(/no reusePort/);
    expect(reusePortUnavailable('22.11.0', 'linux')).toMatch(/no reusePort/);
    expect(reusePortUnavailable('23.0.0', 'linux')).toMatch(/no reusePort/);
    expect(reusePortUnavailable('22.12.0', 'linux')).toBeNull();
    expect(reusePortUnavailable('23.1.0', 'linux')).toBeNull();
    expect(reusePortUnavailable('24.0.0', 'freebsd')).toBeNull();
    expect(reusePortUnavailable('24.0.0', 'win32')).toMatch(/win32/);
    expect(reusePortUnavailable('24.0.0', 'darwin')).toMatch(/darwin/);
  });
});
