import { isAddressError, parseBindHost, parseHostPort } from '../../lib/core/address';
import { MALFORMED_CONNECT_ADDRESSES } from '../helpers/address-cases';

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:80', false, { host: '127.0.0.1', port: 80, kind: 'ip' }],
    ['[::1]:443', true, { host: '::1', port: 443, kind: 'ip' }],
    ['[2001:db8::1]:65535', true, { host: '2001:db8::1', port: 65535, kind: 'ip' }],
    ['localhost:8080', false, { host: 'localhost', port: 8080, kind: 'name' }],
    ['example.com:1', true, { host: 'example.com', port: 1, kind: 'name' }],
  ])('accepts %s (ipv6=%s)', (address, ipv6, expected) => {
    expect(parseHostPort(address, ipv6)).toEqual(expected);
  });

  it.each(MALFORMED_CONNECT_ADDRESSES)('refuses %j (ipv6=%s)', (address, ipv6) => {
    const result = parseHostPort(address, ipv6);
    expect(isAddressError(result)).toBe(true);
  });
});

describe('parseBindHost', () => {
  it('maps null and empty to the any-address of the family', () => {
    expect(parseBindHost(null, false)).toEqual({ host: '0.0.0.0', kind: 'ip' });
    expect(parseBindHost(undefined, true)).toEqual({ host: '::', kind: 'ip' });
    expect(parseBindHost('', false)).toEqual({ host: '0.0.0.0', kind: 'ip' });
  });

  it('takes IPv6 with or without brackets, and checks the family', () => {
    expect(parseBindHost('::1', true)).toEqual({ host: '::1', kind: 'ip' });
    expect(parseBindHost('[::1]', true)).toEqual({ host: '::1', kind: 'ip' });
    expect(isAddressError(parseBindHost('::1', false))).toBe(true);
    expect(isAddressError(parseBindHost('127.0.0.1', true))).toBe(true);
    expect(isAddressError(parseBindHost('300.0.0.1', false))).toBe(true);
  });
});

describe('parseHostPort: the last good parse is kept', () => {
  it('answers the same address with the same result, and a different family or address anew', () => {
    const first = parseHostPort('127.0.0.1:4242', false);
    expect(parseHostPort('127.0.0.1:4242', false)).toBe(first);
    // The cache must not answer for the other family: an IPv4 literal on an IPv6 socket is refused.
    expect(isAddressError(parseHostPort('127.0.0.1:4242', true))).toBe(true);
    expect(parseHostPort('127.0.0.1:4243', false)).toEqual({ host: '127.0.0.1', port: 4243, kind: 'ip' });
    // An error is never kept: the good address after it still parses.
    expect(isAddressError(parseHostPort('127.0.0.1:0', false))).toBe(true);
    expect(parseHostPort('127.0.0.1:4243', false)).toEqual({ host: '127.0.0.1', port: 4243, kind: 'ip' });
  });
});
