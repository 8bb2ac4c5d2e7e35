import { createHash, KeyObject } from 'node:crypto';

/** The algorithms a key may sign with; it follows from the key type (P-256 => ES256, RSA => RS256). */
export type SigningAlgorithm = 'ES256' | 'RS256';

/** A public key the server accepts tokens from, as published in the JWKS. */
export interface PublishedKey {
  kid: string;
  algorithm: SigningAlgorithm;
  publicKey: KeyObject;
  /** The public JWK, with `kid`, `alg` and `use`. */
  jwk: Record<string, unknown>;
}

export interface SigningKey extends PublishedKey {
  privateKey: KeyObject;
}

/** Why a token's key was refused; every such refusal is the same 401 for the client. */
export class UnknownSigningKeyError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnknownSigningKeyError';
  }
}

/**
 * The keys of one deployment: the one that signs, and the ones that are only accepted (the next
 * key, published ahead of use, and previous keys until their tokens have expired). Every key is
 * found by its `kid`, and a token is verified only with the algorithm of the key its `kid` names:
 * the token's own `alg` can never choose a weaker check.
 */
export class KeyRing {
  private readonly byKid = new Map<string, PublishedKey>();

  constructor(
    readonly signing: SigningKey,
    verifyOnly: PublishedKey[] = [],
  ) {
    this.byKid.set(signing.kid, signing);
    // The signing key listed again among the verify keys is the same key: keep one entry.
    for (const key of verifyOnly) if (!this.byKid.has(key.kid)) this.byKid.set(key.kid, key);
  }

  /** Every accepted key, the signing key first. */
  get keys(): PublishedKey[] {
    return [...this.byKid.values()];
  }

  /** The algorithms of the accepted keys (what a verifier may allow at all). */
  get algorithms(): SigningAlgorithm[] {
    return [...new Set(this.keys.map((key) => key.algorithm))];
  }

  find(kid: string): PublishedKey | undefined {
    return this.byKid.get(kid);
  }

  /**
   * The key a compact JWS names in its header, after checking that the header's `alg` is that
   * key's algorithm (and its `typ`, when one is required). Throws UnknownSigningKeyError
   * otherwise (a key no longer configured, a token without `kid`, an `alg` that does not match
   * the key, another type of token).
   */
  keyForToken(token: string, requiredType?: string): PublishedKey {
    const dot = token.indexOf('.');
    let header: { kid?: unknown; alg?: unknown; typ?: unknown };
    try {
      header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as typeof header;
    } catch {
      throw new UnknownSigningKeyError('unreadable token header');
    }
    if (dot <= 0 || header === null || typeof header !== 'object' || typeof header.kid !== 'string') {
      throw new UnknownSigningKeyError('token header has no kid');
    }
    const key = this.byKid.get(header.kid);
    if (!key) throw new UnknownSigningKeyError('unknown signing key');
    if (header.alg !== key.algorithm) throw new UnknownSigningKeyError(`alg ${String(header.alg)} does not match the key's ${key.algorithm}`);
    if (requiredType !== undefined && header.typ !== requiredType) throw new UnknownSigningKeyError(`typ ${String(header.typ)} is not ${requiredType}`);
    return key;
  }

  /** The JWKS document: every accepted public key, never a private part. */
  jwks(): { keys: Array<Record<string, unknown>> } {
    return { keys: this.keys.map((key) => key.jwk) };
  }
}

/** The algorithm a key is used with, or null for a key type we do not sign with. */
export function algorithmFor(key: KeyObject): SigningAlgorithm | null {
  const type = key.asymmetricKeyType;
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  // Below 2048 bits RSA is within reach of factoring; RFC 7518 requires at least 2048 for RS256.
  if (type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  return null;
}

/** The published form of a public key: its RFC 7638 thumbprint as `kid`, and its JWK. */
export function publishedKey(publicKey: KeyObject, algorithm: SigningAlgorithm): PublishedKey {
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  // RFC 7638: the required members only, in lexicographic order, no whitespace.
  const required = algorithm === 'ES256' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  const kid = createHash('sha256').update(JSON.stringify(required)).digest('base64url');
  return { kid, algorithm, publicKey, jwk: { ...jwk, kid, alg: algorithm, use: 'sig' } };
}
