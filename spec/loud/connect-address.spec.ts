/**
 * Issue #18: connect-address mistakes say what is wrong. A `net`-style `connect('127.0.0.1', 80)`
 * throws a TypeError that says the address is one string "host:port"; `connect('localhost')`
 * (no port) ends with SOCKET_ADDRESS_INVALID, logs how to write it, and sets
 * `stats().lastErrorCode`.
 */
import { createTcpSocketProvider, createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketProvider, ShutdownReason, USocket } from '../../lib';
import { deferred, LinesLog } from './helpers';

class Ends extends USocket {
  readonly ended = deferred<ShutdownReason>();
  socketShutdown(s: ISocket, reason: ShutdownReason): void {
    this.ended.resolve(reason);
  }
}

const providers: Array<[string, ISocketProvider]> = [
  ['tcp', createTcpSocketProvider()],
  ['tls', createTlsSocketProvider()],
];

describe.each(providers)('%s connect(address, serverName)', (name, provider) => {
  it('connect("127.0.0.1", 80) throws a TypeError naming the "host:port" form, and changes nothing', () => {
    const socket = provider.createSocket(new Ends());
    let error: unknown;
    try {
      socket.connect('127.0.0.1', 80 as unknown as string);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain('connect(address, serverName): serverName must be a string');
    expect((error as Error).message).toContain('the address is one string "host:port", e.g. connect("127.0.0.1:80")');
    expect(socket.mode).toBe('none');
    socket.shutdown();
  });

  it('connect(80) says the same', () => {
    const socket = provider.createSocket(new Ends());
    expect(() => socket.connect(80 as unknown as string)).toThrow(/address must be a string, got number 80; the address is one string "host:port"/);
    socket.shutdown();
  });

  it('connect("localhost") ends with SOCKET_ADDRESS_INVALID, logs how to write it, and sets lastErrorCode', async () => {
    const log = new LinesLog();
    const user = new Ends();
    const socket = provider.createSocket(user, { log });
    socket.connect('localhost');
    expect(await user.ended.wait('the end')).toBe(ShutdownReason.AddressInvalid);
    expect(log.having('missing port in "localhost"')[0]).toContain('write "localhost:PORT"');
    expect(socket.stats().lastErrorCode).toBe('ERR_INVALID_ADDRESS');
  });
});

describe('UDP connect', () => {
  it('connect("localhost") ends with SOCKET_ADDRESS_INVALID, logs how to write it, and sets lastErrorCode', async () => {
    const log = new LinesLog();
    const user = new Ends();
    const socket = createUdpSocketProvider().createSocket(user, { log });
    socket.connect('localhost');
    expect(await user.ended.wait('the end')).toBe(ShutdownReason.AddressInvalid);
    expect(log.having('missing port in "localhost"')[0]).toContain('write "localhost:PORT"');
    expect(socket.stats().lastErrorCode).toBe('ERR_INVALID_ADDRESS');
  });

  it('a bracketed IPv6 address without a port is told to add it after the bracket', async () => {
    const log = new LinesLog();
    const user = new Ends();
    const socket = createUdpSocketProvider().createSocket(user, { log, ipv6: true });
    socket.connect('[::1]');
    expect(await user.ended.wait('the end')).toBe(ShutdownReason.AddressInvalid);
    expect(log.having('write "[::1]:PORT"')).toHaveLength(1);
  });
});

describe('lastErrorCode', () => {
  it('a fresh socket has no lastErrorCode', () => {
    const socket = createTcpSocketProvider().createSocket(new Ends());
    expect(socket.stats().lastErrorCode).toBeNull();
    socket.shutdown();
  });
});
