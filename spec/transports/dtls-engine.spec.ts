/**
 * The handshake's costs that werift entries 10, 11 and 12 (lib/transports/dtls-engine.ts) take
 * away, checked against werift's own: the signature with the key parsed once verifies with the
 * certificate; the key exchange in OpenSSL (dtls-kx.ts) agrees with werift's pure-JS curves
 * both ways; a second engine of the same certificate and key gets what the first parsed. Whole handshakes with werift peers are in dtls.spec.ts, with OpenSSL in
 * dtls-openssl.spec.ts.
 */
import { createPublicKey, createVerify, X509Certificate } from 'node:crypto';
import { createEngine, EngineTransport, nativeKeyExchange } from '../../lib/transports/dtls-engine';
import * as kx from '../../lib/transports/dtls-kx';
import { randomBytes } from '../helpers/net-helpers';
import { certOf, keyOf, loadPki } from '../helpers/tls-fixture';

const pki = loadPki();

/** A transport that goes nowhere: the engines here never handshake. */
const idle = (): EngineTransport => ({ onData: () => undefined, send: async () => undefined });

describe('handshake costs: werift entries 10, 11 and 12', () => {
  it('entry 10: the server engine signs with the parsed key, and the signature verifies with the certificate', async () => {
    const server = createEngine(idle(), { server: true, cert: certOf(pki.server), key: keyOf(pki.server), srtp: false, certificateRequest: false });
    const cipher = server.cipher as unknown as { localPrivateKey: { sign(d: Buffer, h: string): Buffer }; signatureData(d: Buffer, h: string): Buffer };
    const data = randomBytes(100);
    for (const signature of [cipher.localPrivateKey.sign(data, 'sha256'), cipher.signatureData(data, 'sha256')]) {
      expect(
        createVerify('sha256')
          .update(data)
          .verify(createPublicKey(certOf(pki.server)), signature),
      ).toBe(true);
    }
    expect(String(cipher.localPrivateKey.sign)).not.toContain('toPEM'); // ours, not @fidm/x509's
  });

  it("entry 11: installed, and our keys agree with werift's pure-JS curves both ways (X25519, P-256)", async () => {
    createEngine(idle(), { server: false, srtp: false, certificateRequest: false });
    expect(nativeKeyExchange()).toBe(true);
    /* eslint-disable @typescript-eslint/no-require-imports */
    const nacl = require('tweetnacl') as {
      box: { keyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } };
      scalarMult(n: Uint8Array, p: Uint8Array): Uint8Array;
    };
    const ec = require('werift-dtls/lib/dtls/src/cipher/ec.js') as {
      p256Keypair(): { privateKey: Buffer; publicKey: Buffer };
      p256PreMasterSecret(k: { publicKey: Buffer; privateKey: Buffer }): Buffer;
    };
    /* eslint-enable @typescript-eslint/no-require-imports */
    for (let i = 0; i < 5; i++) {
      const ours = kx.generateKeyPair(29)!;
      const theirs = nacl.box.keyPair();
      expect(ours.publicKey.length).toBe(32);
      const mine = kx.sharedSecret(Buffer.from(theirs.publicKey), ours.privateKey, 29)!;
      expect(mine.equals(Buffer.from(nacl.scalarMult(theirs.secretKey, ours.publicKey)))).toBe(true);

      const ours256 = kx.generateKeyPair(23)!;
      const theirs256 = ec.p256Keypair();
      expect(ours256.publicKey.length).toBe(65); // uncompressed, as werift sends it
      const mine256 = kx.sharedSecret(theirs256.publicKey, ours256.privateKey, 23)!;
      expect(mine256.equals(ec.p256PreMasterSecret({ publicKey: ours256.publicKey, privateKey: theirs256.privateKey }))).toBe(true);
    }
    // Keys we did not make, and curves we do not know, are werift's.
    expect(kx.sharedSecret(randomBytes(32), randomBytes(32), 29)).toBeNull();
    expect(kx.generateKeyPair(24)).toBeNull();
    // A peer key that is no point on the curve fails, as with werift's curves.
    expect(() => kx.sharedSecret(randomBytes(65), kx.generateKeyPair(23)!.privateKey, 23)).toThrow();
  });

  it('entry 12: later engines of the same certificate and key get what the first parsed, and sign with it', () => {
    const make = (): { localCert: Buffer; localPrivateKey: object; signatureHashAlgorithm: unknown; signatureData(d: Buffer, h: string): Buffer } =>
      createEngine(idle(), { server: true, cert: certOf(pki.server), key: keyOf(pki.server), srtp: false, certificateRequest: false }).cipher as never;
    const first = make();
    const second = make();
    expect(second.localCert).toBe(first.localCert);
    expect(second.localPrivateKey).toBe(first.localPrivateKey);
    expect(second.signatureHashAlgorithm).toEqual({ hash: 4, signature: 3 }); // SHA-256, ECDSA
    expect(second.localCert.equals(new X509Certificate(certOf(pki.server)).raw)).toBe(true); // the leaf's DER
    const data = randomBytes(64);
    expect(
      createVerify('sha256')
        .update(data)
        .verify(createPublicKey(certOf(pki.server)), second.signatureData(data, 'sha256')),
    ).toBe(true);
  });
});
