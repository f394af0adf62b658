/**
 * Every code that lib/core/os-errors.ts maps by name is one that this Node line really
 * produces (issue #17). The spec runs on each line of the CI matrix (README, "Supported Node
 * versions"): Node 22 and later bundle an OpenSSL whose reason strings, and so Node's
 * `ERR_SSL_…` codes, differ from Node 20's in places, and a mapped name that no longer occurs
 * would silently map nothing. Each OpenSSL and Node code is provoked for real with plain
 * `node:net`/`node:tls`/`node:fs`, and the error Node hands over is fed to `reasonForError`;
 * the errno names that cannot be provoked cheaply (EMFILE, ENOMEM, …) are looked up in this
 * Node's own errno table (libuv's names). A code added to the mapping without a proof here
 * fails the first test.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import * as util from 'node:util';
import { ShutdownReason } from '../../lib';
import { ErrorPhase, MAPPED_CODES, reasonForError } from '../../lib/core/os-errors';
import { closedPort, withTimeout } from '../helpers/net-helpers';
import { sslv3Alert } from '../helpers/openssl-codes';
import { certOf, keyOf, loadPki } from '../helpers/tls-fixture';

const pki = loadPki();
const WAIT = 10_000;

/** The errors of one real TLS handshake between plain Node peers, each side's as Node reports it. */
async function handshakeErrors(
  server: tls.TlsOptions,
  client: tls.ConnectionOptions,
): Promise<{ server: NodeJS.ErrnoException | null; client: NodeJS.ErrnoException | null }> {
  const out: { server: NodeJS.ErrnoException | null; client: NodeJS.ErrnoException | null } = { server: null, client: null };
  const srv = tls.createServer({ cert: certOf(pki.server), key: keyOf(pki.server), ...server }, (s) => s.destroy());
  srv.on('tlsClientError', (e: NodeJS.ErrnoException) => (out.server = e));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const c = tls.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', ca: pki.ca, servername: 'localhost', ...client });
    c.on('error', (e: NodeJS.ErrnoException) => (out.client = e));
    await withTimeout(new Promise((r) => c.on('close', r)), WAIT, 'the TLS client to close');
    // The server's tlsClientError may come a moment after the client saw the alert.
    for (let i = 0; i < 100 && out.server === null; i++) await new Promise((r) => setTimeout(r, 10));
  } finally {
    srv.close();
  }
  return out;
}

/** Disjoint ALPN lists: the server sends the fatal no_application_protocol alert (RFC 7301). */
const noCommonAlpn = (): ReturnType<typeof handshakeErrors> => handshakeErrors({ ALPNProtocols: ['a'] }, { ALPNProtocols: ['b'] });

async function listenError(port: number): Promise<NodeJS.ErrnoException> {
  const srv = net.createServer();
  return withTimeout(new Promise((r) => srv.once('error', r).listen(port, '127.0.0.1')), WAIT, 'the second listen to fail');
}

function thrown(f: () => unknown): NodeJS.ErrnoException {
  try {
    f();
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
  throw new Error('expected a throw');
}

/** How each mapped code is met on this line: the real error, and the phase it arrives in. */
const PROVOKE: Record<string, { phase: ErrorPhase; reason: ShutdownReason; error?: () => Promise<NodeJS.ErrnoException | null> }> = {
  // Server side of a handshake with no protocol in common.
  ERR_SSL_NO_APPLICATION_PROTOCOL: { phase: 'handshake', reason: ShutdownReason.AlpnSelectionFailed, error: async () => (await noCommonAlpn()).server },
  // Client side: the server's alert.
  ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL: {
    phase: 'handshake',
    reason: ShutdownReason.AlpnSelectionFailed,
    error: async () => (await noCommonAlpn()).client,
  },
  ECONNREFUSED: {
    phase: 'connect',
    reason: ShutdownReason.ConnectRejected,
    error: async () => {
      const port = await closedPort();
      return withTimeout(new Promise((r) => net.connect(port, '127.0.0.1').once('error', r)), WAIT, 'the refused connect');
    },
  },
  EADDRINUSE: {
    phase: 'bind',
    reason: ShutdownReason.AddrInUse,
    error: async () => {
      const holder = net.createServer();
      await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
      try {
        return await listenError((holder.address() as net.AddressInfo).port);
      } finally {
        holder.close();
      }
    },
  },
  ERR_INVALID_IP_ADDRESS: {
    phase: 'connect',
    reason: ShutdownReason.AddressInvalid,
    error: async () => thrown(() => net.connect({ port: 1, host: '127.0.0.1', localAddress: 'not-an-ip' }).destroy()),
  },
  ERR_INVALID_ADDRESS: {
    phase: 'bind',
    reason: ShutdownReason.AddressInvalid,
    error: async () => thrown(() => new net.SocketAddress({ address: 'not-an-ip' })),
  },
  ENAMETOOLONG: {
    phase: 'bind',
    reason: ShutdownReason.AddressInvalid,
    error: async () => thrown(() => fs.openSync(path.join(os.tmpdir(), 'x'.repeat(300)), 'r')),
  },
  // Out of descriptors or memory, no such address family or protocol: not provoked, looked up.
  EMFILE: { phase: 'connect', reason: ShutdownReason.OpenFailed },
  ENFILE: { phase: 'bind', reason: ShutdownReason.OpenFailed },
  ENOBUFS: { phase: 'connect', reason: ShutdownReason.OpenFailed },
  ENOMEM: { phase: 'listen', reason: ShutdownReason.OpenFailed },
  EAFNOSUPPORT: { phase: 'bind', reason: ShutdownReason.OpenFailed },
  EPROTONOSUPPORT: { phase: 'connect', reason: ShutdownReason.OpenFailed },
};

describe(`the error codes os-errors maps, on this Node (${process.version}, OpenSSL ${process.versions.openssl})`, () => {
  it('every mapped code has its proof below, and every proof is of a mapped code', () => {
    expect([...MAPPED_CODES].sort()).toEqual(Object.keys(PROVOKE).sort());
  });

  const provoked = Object.entries(PROVOKE).filter(([, p]) => p.error);
  it.each(provoked)('%s: Node produces it for real, and it maps as documented', async (code, p) => {
    const err = await p.error!();
    expect(err?.code).toBe(code);
    expect(reasonForError(err, p.phase)).toBe(p.reason);
  });

  const errnos = Object.entries(PROVOKE).filter(([, p]) => !p.error);
  it.each(errnos)('%s: a name in this Node’s errno table, and it maps as documented', (code, p) => {
    const names = new Set([...util.getSystemErrorMap().values()].map(([name]) => name));
    expect(names.has(code)).toBe(true);
    expect(reasonForError(Object.assign(new Error(code), { code }), p.phase)).toBe(p.reason);
  });

  it('a handshake-failure alert (no shared cipher) is not taken for the ALPN one: TLS_HANDSHAKE_FAILED, its code in either spelling', async () => {
    const errs = await handshakeErrors(
      { ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' },
      { ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384', maxVersion: 'TLSv1.2' },
    );
    expect(errs.server?.code).toBe('ERR_SSL_NO_SHARED_CIPHER');
    // ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE on Node 20 (OpenSSL 3.0), ERR_SSL_SSL/TLS_ALERT_… after it.
    expect(errs.client?.code).toMatch(sslv3Alert('HANDSHAKE_FAILURE'));
    expect(reasonForError(errs.server, 'handshake')).toBe(ShutdownReason.TlsHandshakeFailed);
    expect(reasonForError(errs.client, 'handshake')).toBe(ShutdownReason.TlsHandshakeFailed);
  });
});
