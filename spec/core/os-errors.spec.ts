import { ShutdownReason, SocketErrorCode, SocketStateError } from '../../lib';
import { reasonForError } from '../../lib/core/os-errors';

const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

describe('reasonForError', () => {
  it.each([
    ['ECONNREFUSED', 'connect', ShutdownReason.ConnectRejected],
    ['ETIMEDOUT', 'connect', ShutdownReason.ConnectFailed],
    ['EHOSTUNREACH', 'connect', ShutdownReason.ConnectFailed],
    ['ENOTFOUND', 'connect', ShutdownReason.ConnectFailed],
    ['ENOENT', 'connect', ShutdownReason.ConnectFailed],
    ['EMFILE', 'connect', ShutdownReason.OpenFailed],
    ['EADDRINUSE', 'bind', ShutdownReason.AddrInUse],
    ['EACCES', 'bind', ShutdownReason.BindFailed],
    ['EADDRNOTAVAIL', 'bind', ShutdownReason.BindFailed],
    ['ENFILE', 'bind', ShutdownReason.OpenFailed],
    ['ENAMETOOLONG', 'bind', ShutdownReason.AddressInvalid],
    ['EINVAL', 'listen', ShutdownReason.ListenFailed],
    ['ECONNRESET', 'accept', ShutdownReason.AcceptFailed],
    ['ECONNRESET', 'established', ShutdownReason.Lost],
    ['EPIPE', 'established', ShutdownReason.Lost],
    ['ETIMEDOUT', 'established', ShutdownReason.Lost],
    ['EMFILE', 'established', ShutdownReason.Lost],
  ] as const)('%s while %s -> %s', (code, phase, reason) => {
    expect(reasonForError(err(code), phase)).toBe(reason);
  });

  it('maps an error without a code to the phase reason', () => {
    expect(reasonForError(new Error('x'), 'connect')).toBe(ShutdownReason.ConnectFailed);
    expect(reasonForError(undefined, 'established')).toBe(ShutdownReason.Lost);
  });
});

describe('SocketStateError', () => {
  it('is an Error with a stable code and name', () => {
    const e = new SocketStateError(SocketErrorCode.RecvPending, 'x');
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('ERR_SOCKET_RECV_PENDING');
    expect(e.name).toBe('SocketStateError');
  });

  it('has 13 shutdown reasons with their contract strings', () => {
    expect(Object.values(ShutdownReason).sort()).toEqual(
      [
        'SOCKET_SHUTDOWN_NORMAL',
        'SOCKET_SHUTDOWN_BY_PEER',
        'SOCKET_LOST',
        'SOCKET_ADDRESS_INVALID',
        'SOCKET_OPEN_FAILED',
        'SOCKET_CONNECT_FAILED',
        'SOCKET_CONNECT_REJECTED',
        'SOCKET_BIND_FAILED',
        'SOCKET_LISTEN_FAILED',
        'SOCKET_ACCEPT_FAILED',
        'SOCKET_TLS_HANDSHAKE_FAILED',
        'SOCKET_ADDR_IN_USE',
        'SOCKET_ALPN_SELECTION_FAILED',
      ].sort(),
    );
  });
});
