// The ECDHE of the DTLS handshake with node:crypto (OpenSSL) instead of werift's pure-JS
// curves (tweetnacl for X25519, @noble/curves for P-256): about 2 ms of CPU per handshake and
// side in JS, about 0.1–0.2 ms natively. Same inputs and outputs as werift's functions (raw
// keys, an uncompressed P-256 point, the raw shared secret), so werift cannot tell; installed
// by werift entry 11 in dtls-engine.ts.
import { createECDH, createPublicKey, diffieHellman, ECDH, generateKeyPairSync, KeyObject } from 'node:crypto';

/** werift's named-curve numbers (RFC 8422). */
const SECP256R1 = 23;
const X25519 = 29;

export interface KeyPair {
  curve: number;
  privateKey: Buffer;
  publicKey: Buffer;
}

/** The private side of each pair we made, by the raw private key werift keeps and hands back. */
const privateSides = new WeakMap<Buffer, ECDH | KeyObject>();

/** A key pair for `curve`, or null for a curve we do not make (werift's own then). */
export function generateKeyPair(curve: number): KeyPair | null {
  if (curve === SECP256R1) {
    const ecdh = createECDH('prime256v1');
    const publicKey = ecdh.generateKeys(); // uncompressed: 0x04, x, y
    const privateKey = leftPad(ecdh.getPrivateKey(), 32);
    privateSides.set(privateKey, ecdh);
    return { curve, privateKey, publicKey };
  }
  if (curve === X25519) {
    const pair = generateKeyPairSync('x25519');
    const jwk = pair.privateKey.export({ format: 'jwk' });
    const privateKey = Buffer.from(jwk.d!, 'base64url');
    privateSides.set(privateKey, pair.privateKey);
    return { curve, privateKey, publicKey: Buffer.from(jwk.x!, 'base64url') };
  }
  return null;
}

/**
 * The ECDHE shared secret (the premaster secret) of our `privateKey` (made by
 * {@link generateKeyPair}) and the peer's `publicKey`, or null when the key is not one of ours
 * (werift's own then). A peer key that is not a valid point throws, as werift's curves do.
 */
export function sharedSecret(publicKey: Buffer, privateKey: Buffer, curve: number): Buffer | null {
  const side = privateSides.get(privateKey);
  if (!side) return null;
  if (curve === SECP256R1 && !(side instanceof KeyObject)) return side.computeSecret(publicKey);
  if (curve === X25519 && side instanceof KeyObject) {
    const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: publicKey.toString('base64url') }, format: 'jwk' });
    return diffieHellman({ privateKey: side, publicKey: peer });
  }
  return null;
}

function leftPad(b: Buffer, length: number): Buffer {
  return b.byteLength >= length ? b : Buffer.concat([Buffer.alloc(length - b.byteLength), b]);
}
