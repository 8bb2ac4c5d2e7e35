import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Seals the pair a refresh token was traded for, so that it can wait on the spent token's row
 * for a retry (REFRESH_REUSE_GRACE_SECONDS) without the database ever holding a usable
 * credential: AES-256-GCM under a key derived from the spent token's plaintext, which only its
 * holder has. The row stores SHA-256(token); the key is SHA-256 over a label and the token, a
 * different input, so the stored hash says nothing about the key. The row's id is the
 * additional data: a sealed value copied onto another row does not open.
 */
const KEY_LABEL = 'authswitch/refresh-successor/v1\0';
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

function keyOf(token: string): Buffer {
  return createHash('sha256').update(KEY_LABEL).update(token).digest();
}

/** `v1.<iv>.<ciphertext>.<tag>`, base64url: what the `successor` column holds. */
export function sealSuccessor(token: string, tokenId: string, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyOf(token), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(tokenId));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv, ciphertext, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
}

/** The plaintext, or null when the value is malformed, tampered with, or sealed under another token or row. */
export function openSuccessor(token: string, tokenId: string, sealed: string): string | null {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) return null;
  const [iv, ciphertext, tag] = parts.slice(1).map((part) => Buffer.from(part, 'base64url'));
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(token), iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(tokenId));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
