/**
 * The DTLS listener's cookie gate (lib/transports/dtls-cookie.ts, RFC 6347 §4.2.1): the secret
 * is replaced every rotation period; a cookie made under the previous secret is still accepted,
 * one made two rotations ago is not. The gate's clock is injected: no sleeps, no timing.
 */
import { randomBytes } from 'node:crypto';
import { COOKIE_LENGTH, CookieGate, DEFAULT_SECRET_ROTATION_MS } from '../../lib/transports/dtls-cookie';
import { clientHello, cookieOfVerifyRequest } from '../helpers/dtls-hello';

const ADDRESS = '127.0.0.1';
const PORT = 40000;

/** A gate on a clock the test moves. */
function gateAt(): { gate: CookieGate; clock: { now: number } } {
  const clock = { now: 1000 };
  return { gate: new CookieGate(DEFAULT_SECRET_ROTATION_MS, () => clock.now), clock };
}

/** The cookie the gate answers a ClientHello (without one) of `random` with. */
function cookieFor(gate: CookieGate, random: Buffer, address = ADDRESS, port = PORT): Buffer {
  const replies: Buffer[] = [];
  expect(gate.check(clientHello({ random }), address, port, (r) => replies.push(r))).toBe('answered');
  expect(replies).toHaveLength(1);
  const cookie = cookieOfVerifyRequest(replies[0]) as Buffer;
  expect(cookie).toHaveLength(COOKIE_LENGTH);
  return cookie;
}

/** The gate's verdict on the ClientHello of `random` carrying `cookie`, and whether it answered. */
function verdict(gate: CookieGate, random: Buffer, cookie: Buffer, address = ADDRESS, port = PORT): { verdict: string; replies: number } {
  let replies = 0;
  const v = gate.check(clientHello({ random, cookie, recordSeq: 1, messageSeq: 1 }), address, port, () => replies++);
  return { verdict: v, replies };
}

it('a cookie is admitted under the secret that made it and under the next one, not two rotations later', () => {
  const { gate, clock } = gateAt();
  const random = randomBytes(32);
  const cookie = cookieFor(gate, random);
  expect(verdict(gate, random, cookie)).toEqual({ verdict: 'admit', replies: 0 });

  clock.now += DEFAULT_SECRET_ROTATION_MS; // one rotation: the cookie's secret is the previous one now
  expect(verdict(gate, random, cookie)).toEqual({ verdict: 'admit', replies: 0 });

  clock.now += DEFAULT_SECRET_ROTATION_MS; // two rotations: its secret is gone
  expect(verdict(gate, random, cookie)).toEqual({ verdict: 'answered', replies: 1 });
  // The new HelloVerifyRequest's cookie is admitted.
  expect(verdict(gate, random, cookieFor(gate, random))).toEqual({ verdict: 'admit', replies: 0 });
});

it('within one rotation period nothing rotates; two periods without a ClientHello make both secrets stale at once', () => {
  const { gate, clock } = gateAt();
  const random = randomBytes(32);
  const cookie = cookieFor(gate, random);
  clock.now += DEFAULT_SECRET_ROTATION_MS - 1;
  expect(verdict(gate, random, cookie).verdict).toBe('admit');
  // The gate saw no ClientHello for two periods: the cookie's secret is neither current nor previous.
  clock.now += 2 * DEFAULT_SECRET_ROTATION_MS;
  expect(verdict(gate, random, cookie).verdict).toBe('answered');
});

it('a cookie made in the previous period is admitted, one made then and presented after the next rotation is not', () => {
  const { gate, clock } = gateAt();
  const early = randomBytes(32);
  const earlyCookie = cookieFor(gate, early);
  clock.now += DEFAULT_SECRET_ROTATION_MS;
  const late = randomBytes(32);
  const lateCookie = cookieFor(gate, late); // made under the new secret
  expect(verdict(gate, early, earlyCookie).verdict).toBe('admit');
  expect(verdict(gate, late, lateCookie).verdict).toBe('admit');
  clock.now += DEFAULT_SECRET_ROTATION_MS;
  expect(verdict(gate, early, earlyCookie).verdict).toBe('answered');
  expect(verdict(gate, late, lateCookie).verdict).toBe('admit'); // one rotation old
});

it('a cookie is bound to the address, the port and the ClientHello (random); other ClientHellos get a HelloVerifyRequest', () => {
  const { gate } = gateAt();
  const random = randomBytes(32);
  const cookie = cookieFor(gate, random);
  expect(verdict(gate, random, cookie, ADDRESS, PORT + 1)).toEqual({ verdict: 'answered', replies: 1 });
  expect(verdict(gate, random, cookie, '127.0.0.2', PORT)).toEqual({ verdict: 'answered', replies: 1 });
  expect(verdict(gate, randomBytes(32), cookie)).toEqual({ verdict: 'answered', replies: 1 });
  const forged = Buffer.from(cookie);
  forged[0] ^= 1;
  expect(verdict(gate, random, forged)).toEqual({ verdict: 'answered', replies: 1 });
  expect(verdict(gate, random, cookie)).toEqual({ verdict: 'admit', replies: 0 });
});

it('anything but a ClientHello is garbage: no reply', () => {
  const { gate } = gateAt();
  const replies: Buffer[] = [];
  expect(gate.check(Buffer.from('not a DTLS record at all'), ADDRESS, PORT, (r) => replies.push(r))).toBe('garbage');
  const hello = clientHello();
  hello[13] = 2; // a ServerHello's handshake type
  expect(gate.check(hello, ADDRESS, PORT, (r) => replies.push(r))).toBe('garbage');
  expect(replies).toEqual([]);
});
