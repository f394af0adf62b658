// Certificates for the tests, the demo and the benchmarks: the package's own test PKI
// (lib/testing.ts, exported as socket-provider/testing), made at run time and never committed:
// a CA, a server certificate for localhost / 127.0.0.1 / ::1, a second server name for SNI, a
// client certificate, and a self-signed "rogue" server that nobody trusts.
export { makeTestPki, type TestPki, type TestPkiOptions } from '../lib/testing';

/** PEM text: a certificate followed by its private key, as ISocketContext takes it. */
export type CertAndKey = string;
