import { ParseResult } from './address';

/** A local socket address: a filesystem path, a Linux abstract name, or a Windows named pipe. */
export type LocalAddress = { kind: 'path'; path: string } | { kind: 'abstract'; path: string } | { kind: 'pipe'; path: string };

/** sun_path is 108 bytes on Linux (104 on macOS and the BSDs), including the final NUL. */
export function maxLocalPathBytes(platform: NodeJS.Platform): number {
  return platform === 'linux' ? 107 : 103;
}

const PIPE_RE = /^\\\\[.?]\\pipe\\[^\\]+/i;

/**
 * Parses a local socket address for `platform`: `\0name` (Linux abstract namespace),
 * `\\.\pipe\name` (Windows), otherwise a filesystem path (absolute or relative to the
 * working directory). Names that the platform cannot use are malformed.
 */
export function parseLocalAddress(address: string, platform: NodeJS.Platform = process.platform): ParseResult<LocalAddress> {
  if (typeof address !== 'string' || address.length === 0) return { error: 'empty path' };
  if (address.indexOf('\0', 1) >= 0) return { error: 'a NUL byte inside the address' };
  if (PIPE_RE.test(address)) {
    return platform === 'win32' ? { kind: 'pipe', path: address } : { error: `named pipes exist only on Windows: ${JSON.stringify(address)}` };
  }
  if (platform === 'win32') return { error: `on Windows a local address is a named pipe (\\\\.\\pipe\\name), got ${JSON.stringify(address)}` };
  const bytes = Buffer.byteLength(address);
  if (address[0] === '\0') {
    if (platform !== 'linux') return { error: 'the abstract namespace (a path starting with \\0) exists only on Linux' };
    if (address.length === 1) return { error: 'empty abstract name' };
    if (bytes > maxLocalPathBytes(platform) + 1) return { error: `abstract name of ${bytes - 1} bytes is longer than ${maxLocalPathBytes(platform)}` };
    return { kind: 'abstract', path: address };
  }
  if (bytes > maxLocalPathBytes(platform)) return { error: `path of ${bytes} bytes is longer than the OS limit of ${maxLocalPathBytes(platform)}` };
  return { kind: 'path', path: address };
}
