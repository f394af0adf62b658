import { isAddressError } from '../../lib/core/address';
import { parseLocalAddress } from '../../lib/core/local-address';

/** `prefix` padded with 'a' to exactly `bytes` UTF-8 bytes. */
function pathOfBytes(bytes: number, prefix = '/tmp/'): string {
  const p = prefix + 'a'.repeat(bytes - Buffer.byteLength(prefix));
  expect(Buffer.byteLength(p)).toBe(bytes);
  return p;
}

const refused = (address: string, platform: NodeJS.Platform): boolean => isAddressError(parseLocalAddress(address, platform));

describe('parseLocalAddress', () => {
  describe.each(['linux', 'darwin'] as const)('on %s', (platform) => {
    it.each(['/tmp/app.sock', '/var/run/some dir/with spaces.sock', '/tmp/ünïcode-☃.sock'])('takes the absolute path %j', (p) => {
      expect(parseLocalAddress(p, platform)).toEqual({ kind: 'path', path: p });
    });

    it.each(['app.sock', './run/app.sock', '../up/app.sock', 'a'])('takes the relative path %j as it is', (p) => {
      expect(parseLocalAddress(p, platform)).toEqual({ kind: 'path', path: p });
    });

    it('refuses an empty address', () => {
      expect(refused('', platform)).toBe(true);
    });

    it.each(['/tmp/a\0b.sock', 'rel\0', '/tmp/x.sock\0'])('refuses %j: a NUL inside the path', (p) => {
      expect(refused(p, platform)).toBe(true);
    });

    it.each(['\\\\.\\pipe\\name', '\\\\?\\pipe\\name', '\\\\.\\PIPE\\other'])('refuses the Windows named pipe %j', (p) => {
      expect(refused(p, platform)).toBe(true);
    });

    it('refuses a non-string address', () => {
      expect(isAddressError(parseLocalAddress(null as unknown as string, platform))).toBe(true);
      expect(isAddressError(parseLocalAddress(42 as unknown as string, platform))).toBe(true);
    });
  });

  describe('path length limits (sun_path, counted in bytes)', () => {
    it('linux: 107 bytes are taken, 108 are refused', () => {
      const ok = pathOfBytes(107);
      expect(parseLocalAddress(ok, 'linux')).toEqual({ kind: 'path', path: ok });
      expect(refused(pathOfBytes(108), 'linux')).toBe(true);
      expect(refused(pathOfBytes(300), 'linux')).toBe(true);
    });

    it('darwin: 103 bytes are taken, 104 are refused', () => {
      const ok = pathOfBytes(103);
      expect(parseLocalAddress(ok, 'darwin')).toEqual({ kind: 'path', path: ok });
      expect(refused(pathOfBytes(104), 'darwin')).toBe(true);
    });

    it('counts UTF-8 bytes, not characters', () => {
      // 5 + 2 × 51 = 107 bytes in 56 characters: taken; one more 2-byte character: 109, refused.
      const ok = '/tmp/' + 'é'.repeat(51);
      expect(ok.length).toBe(56);
      expect(Buffer.byteLength(ok)).toBe(107);
      expect(parseLocalAddress(ok, 'linux')).toEqual({ kind: 'path', path: ok });
      const tooLong = ok + 'é';
      expect(tooLong.length).toBeLessThan(107);
      expect(refused(tooLong, 'linux')).toBe(true);
    });

    it('a relative path has the same limit', () => {
      expect(parseLocalAddress(pathOfBytes(107, 'r/'), 'linux')).toEqual({ kind: 'path', path: pathOfBytes(107, 'r/') });
      expect(refused(pathOfBytes(108, 'r/'), 'linux')).toBe(true);
    });
  });

  describe('the Linux abstract namespace', () => {
    it('takes \\0name on linux', () => {
      expect(parseLocalAddress('\0my-abstract', 'linux')).toEqual({ kind: 'abstract', path: '\0my-abstract' });
      expect(parseLocalAddress('\0/looks/like/a/path', 'linux')).toEqual({ kind: 'abstract', path: '\0/looks/like/a/path' });
    });

    it('refuses a bare \\0 (empty name)', () => {
      expect(refused('\0', 'linux')).toBe(true);
    });

    it('a name of 107 bytes after the NUL is taken, 108 refused', () => {
      const ok = '\0' + 'n'.repeat(107);
      expect(parseLocalAddress(ok, 'linux')).toEqual({ kind: 'abstract', path: ok });
      expect(refused('\0' + 'n'.repeat(108), 'linux')).toBe(true);
    });

    it.each(['darwin', 'win32', 'freebsd'] as const)('is refused on %s', (platform) => {
      expect(refused('\0my-abstract', platform)).toBe(true);
    });
  });

  describe('on win32', () => {
    it.each(['\\\\.\\pipe\\name', '\\\\?\\pipe\\name', '\\\\.\\pipe\\socket-provider-42', '\\\\.\\PIPE\\Mixed'])('takes the named pipe %j', (p) => {
      expect(parseLocalAddress(p, 'win32')).toEqual({ kind: 'pipe', path: p });
    });

    it.each([
      ['an absolute POSIX path', '/tmp/app.sock'],
      ['a relative path', 'app.sock'],
      ['a drive path', 'C:\\temp\\app.sock'],
      ['a UNC share', '\\\\server\\share\\app'],
      ['a pipe without a name', '\\\\.\\pipe\\'],
      ['a pipe prefix with a wrong host marker', '\\\\x\\pipe\\name'],
      ['an abstract name', '\0name'],
      ['an empty address', ''],
    ])('refuses %s (%j)', (_what, p) => {
      expect(refused(p, 'win32')).toBe(true);
    });

    it('refuses a NUL inside a pipe name', () => {
      expect(refused('\\\\.\\pipe\\na\0me', 'win32')).toBe(true);
    });
  });

  it('defaults to the running platform', () => {
    const probe = ['/tmp/app.sock', '\0abstract', '\\\\.\\pipe\\name', pathOfBytes(104), pathOfBytes(108)];
    for (const p of probe) expect(parseLocalAddress(p)).toEqual(parseLocalAddress(p, process.platform));
  });
});
