// Certificates for the tests and the demo, made at run time (never committed): a CA, a server
// certificate for localhost / 127.0.0.1 / ::1, a second server name for SNI, a client
// certificate, and a self-signed "rogue" server that nobody trusts.
import { generate } from 'selfsigned';

/** PEM text: a certificate followed by its private key, as ISocketContext takes it. */
export type CertAndKey = string;

export interface TestPki {
  /** The CA certificate alone (to trust). */
  ca: string;
  /** localhost, 127.0.0.1, ::1; signed by the CA. */
  server: CertAndKey;
  /** other.test (for SNI); signed by the CA. */
  other: CertAndKey;
  /** CN=client, L=Springfield, O=Clients Inc; signed by the CA; for client authentication. */
  client: CertAndKey;
  /** localhost, self-signed: a server nobody should trust. */
  rogue: CertAndKey;
}

const validity = (): { notBeforeDate: Date; notAfterDate: Date } => {
  const now = Date.now();
  return { notBeforeDate: new Date(now - 3600_000), notAfterDate: new Date(now + 7 * 24 * 3600_000) };
};

async function leaf(
  cn: string,
  names: Array<{ type: 2; value: string } | { type: 7; ip: string }>,
  ca: { key: string; cert: string } | undefined,
  extra: Array<{ name: string; value: string }> = [],
  clientAuth = false,
): Promise<CertAndKey> {
  const pems = await generate([{ name: 'commonName', value: cn }, ...extra], {
    keyType: 'ec',
    algorithm: 'sha256',
    ...validity(),
    ca,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: !clientAuth, clientAuth },
      { name: 'subjectAltName', altNames: names },
    ],
  });
  return `${pems.cert}\n${pems.private}`;
}

/** Makes a fresh PKI (about a tenth of a second: EC P-256 keys). */
export async function makeTestPki(): Promise<TestPki> {
  const caPems = await generate([{ name: 'commonName', value: 'socket-provider test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ...validity(),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const ca = { key: caPems.private, cert: caPems.cert };
  const localNames = [
    { type: 2 as const, value: 'localhost' },
    { type: 7 as const, ip: '127.0.0.1' },
    { type: 7 as const, ip: '::1' },
  ];
  const [server, other, client, rogue] = await Promise.all([
    leaf('localhost', localNames, ca),
    leaf('other.test', [{ type: 2, value: 'other.test' }], ca),
    leaf(
      'client',
      [{ type: 2, value: 'client' }],
      ca,
      [
        { name: 'localityName', value: 'Springfield' },
        { name: 'organizationName', value: 'Clients Inc' },
      ],
      true,
    ),
    leaf('localhost', localNames, undefined),
  ]);
  return { ca: caPems.cert, server, other, client, rogue };
}
