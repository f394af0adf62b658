/**
 * Inputs for the bad-input table (spec/reliability/bad-input.spec.ts) that the older tables do
 * not have. The connect addresses of spec/helpers/address-cases.ts are used as they are; these
 * are further malformed forms, bind addresses, and argument values, each with the outcome
 * CONTRACT.md and docs/errors.md give it.
 */

/** More connect addresses that are malformed for a socket of the given `ipv6` option. */
export const MORE_MALFORMED_CONNECT_ADDRESSES: ReadonlyArray<[string, boolean]> = [
  [' 127.0.0.1:80', false],
  ['127.0.0.1:+80', false],
  ['127.0.0.1:80:80', false],
  ['127.0.0.1:99999', false],
  ['1.2.3.4.5:80', false],
  ['256.0.0.1:80', false],
  ['a..b:80', false],
  [`${'h'.repeat(254)}:80`, false],
  ['\0:80', false],
  ['[127.0.0.1]:80', false],
  ['[::ffff:127.0.0.1]:80', false],
  ['[::1]:', true],
  ['[::1]:0', true],
  ['[::1]:65536', true],
  ['[::1]:80x', true],
  ['[::1]:80:80', true],
];

/** Bind addresses that are malformed (or of the wrong family) for the given `ipv6` option. */
export const MALFORMED_BIND_ADDRESSES: ReadonlyArray<[string, boolean]> = [
  ['300.0.0.1', false],
  ['1.2.3', false],
  ['::1', false],
  ['[::1]', false],
  ['127.0.0.1', true],
  ['bad host!!', false],
  ['127.0.0.1:80', false],
  ['[::1', true],
  ['-x.example', false],
];

/** `len` values that `send`/`recv` on a 16-byte buffer refuse, with the error. */
export const BAD_LENGTHS: ReadonlyArray<[string, unknown, 'RangeError' | 'TypeError']> = [
  ['0', 0, 'RangeError'],
  ['-1', -1, 'RangeError'],
  ['1.5', 1.5, 'RangeError'],
  ['NaN', NaN, 'RangeError'],
  ['Infinity', Infinity, 'RangeError'],
  ['17 (beyond the buffer)', 17, 'RangeError'],
  ['2**32', 2 ** 32, 'RangeError'],
  ["'4'", '4', 'TypeError'],
  ['null', null, 'TypeError'],
  ['true', true, 'TypeError'],
  ['{}', {}, 'TypeError'],
];

/** Things passed where a buffer goes, with the error (an empty buffer without `len` is a RangeError). */
export const BAD_BUFFERS: ReadonlyArray<[string, () => unknown, 'RangeError' | 'TypeError']> = [
  ['a string', () => 'sixteen bytes!!!', 'TypeError'],
  ['an ArrayBuffer', () => new ArrayBuffer(16), 'TypeError'],
  ['a DataView', () => new DataView(new ArrayBuffer(16)), 'TypeError'],
  ['an array of numbers', () => [1, 2, 3], 'TypeError'],
  ['null', () => null, 'TypeError'],
  ['undefined', () => undefined, 'TypeError'],
  ['an Int16Array', () => new Int16Array(8), 'TypeError'],
  ['a Float64Array', () => new Float64Array(2), 'TypeError'],
  ['a Uint8ClampedArray', () => new Uint8ClampedArray(16), 'TypeError'],
  ['an array-like object', () => ({ length: 16, byteLength: 16 }), 'TypeError'],
  ['an empty Uint8Array', () => new Uint8Array(0), 'RangeError'],
];

/** Bind port values refused before anything changes (beyond -1, 65536, 1.5 and '80' of the conformance suite). */
export const BAD_PORTS: ReadonlyArray<[string, unknown, 'RangeError' | 'TypeError']> = [
  ['NaN', NaN, 'RangeError'],
  ['Infinity', Infinity, 'RangeError'],
  ['2**53', 2 ** 53, 'RangeError'],
  ['null', null, 'TypeError'],
  ['true', true, 'TypeError'],
  ['{}', {}, 'TypeError'],
];

/** Values that are not a user (an object with a socketShutdown method). */
export const NOT_USERS: ReadonlyArray<[string, unknown]> = [
  ['null', null],
  ['undefined', undefined],
  ['{}', {}],
  ['{ socketShutdown: 1 }', { socketShutdown: 1 }],
  ["'user'", 'user'],
  ['42', 42],
  ['an array', []],
];
