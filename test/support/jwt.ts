import { createHmac, createPrivateKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

export function decodeSegment(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8'));
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** `alg: none`: a token with no signature at all. */
export function unsignedToken(payload: Record<string, unknown>, kid?: string): string {
  return `${b64({ alg: 'none', typ: 'JWT', kid })}.${b64(payload)}.`;
}

/** The classic key-confusion attack: HMAC-SHA256 keyed with the server's *public* key. */
export function hs256WithPublicKey(payload: Record<string, unknown>, publicKeyPem: string, kid: string): string {
  const signingInput = `${b64({ alg: 'HS256', typ: 'JWT', kid })}.${b64(payload)}`;
  return `${signingInput}.${createHmac('sha256', publicKeyPem).update(signingInput).digest('base64url')}`;
}

/** The payload changed after signing; the signature is the original one. */
export function tamperedToken(token: string, change: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64({ ...decodeSegment(token, 1), ...change })}.${signature}`;
}

/** A token signed with a given key and arbitrary claims (for wrong iss/aud, expired, unknown kid). */
export async function signWith(
  key: KeyObject | string,
  header: { alg: string; kid?: string; typ?: string },
  payload: Record<string, unknown>,
): Promise<string> {
  const keyObject = typeof key === 'string' ? createPrivateKey(key) : key;
  // AuthSwitch access tokens are typed at+jwt (RFC 9068); a test that wants another typ says so.
  return new SignJWT(payload).setProtectedHeader({ typ: 'at+jwt', ...header }).sign(keyObject);
}

export function strangerKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}
