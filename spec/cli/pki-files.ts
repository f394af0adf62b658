/**
 * The test PKI as the files the tool and openssl take, for the spec/cli TLS and DTLS tests:
 * made at run time (scripts/certs.ts) in a beforeAll, in a temp dir removed in afterAll.
 */
import { makeTestPki, TestPki } from '../../scripts/certs';
import { withTimeout } from '../helpers/net-helpers';
import { PemDir } from '../helpers/openssl';

export interface PkiFiles {
  ca: string;
  /** Certificate and key in one file, as --cert takes it. */
  server: string;
  client: string;
  /** The same, split for openssl. */
  serverPair: { cert: string; key: string };
  clientPair: { cert: string; key: string };
}

/** Registers the beforeAll/afterAll; both objects are filled in there (read their fields inside tests and hooks). */
export function usePkiFiles(): { pki: TestPki; files: PkiFiles } {
  const pki = {} as TestPki;
  const files = {} as PkiFiles;
  let pem: PemDir | null = null;
  beforeAll(async () => {
    Object.assign(pki, await withTimeout(makeTestPki(), 20000, 'the test PKI'));
    const dir = new PemDir();
    pem = dir;
    Object.assign(files, {
      ca: dir.write('ca.pem', `${pki.ca}\n`),
      server: dir.write('server.pem', pki.server),
      client: dir.write('client.pem', pki.client),
      serverPair: dir.writePair('server', pki.server),
      clientPair: dir.writePair('client', pki.client),
    });
  }, 30000);
  afterAll(() => pem?.remove());
  return { pki, files };
}
