import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { errors as joseErrors, JWTPayload, jwtVerify, ProtectedHeaderParameters, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { SigningKeyService } from './signing-key.service';

export interface AccessTokenClaims {
  sub: string;
  jti: string;
  iat: number;
  exp: number;
  email: string;
  name: string;
  roles: string[];
  /** The user's credential version the token was built from (0 when absent). */
  ver: number;
  /** The refresh family the token was issued from, if any. */
  fam?: string;
}

/** What ties a token to revocable state: the user version, and the refresh family. */
export interface AccessTokenStamp {
  version?: number;
  familyId?: string;
}

export interface AccessTokenSubject {
  id: string;
  email: string;
  name: string;
  roles: string[];
}

/** Why a token was refused; the HTTP answer is always the same 401. */
export class InvalidAccessTokenError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidAccessTokenError';
  }
}

/**
 * Signs and verifies access tokens. Verification pins the algorithm of our own key, requires
 * our `kid`, and always checks `iss`, `aud` and `exp`.
 *
 * A verified signature never changes, so verified tokens are remembered (bounded, until they
 * expire): a repeated token skips the signature maths. The cache is keyed by the whole token,
 * never by a part of it, so a changed header or payload is always verified afresh. Expiry is
 * still checked on every call, and revocation is checked by the caller on every request.
 */
@Injectable()
export class AccessTokenService {
  private readonly verified = new LRUCache<string, AccessTokenClaims>({ max: 20_000 });

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: SigningKeyService,
  ) {}

  get ttlSeconds(): number {
    return this.config.jwt.accessTokenTtlSeconds;
  }

  async sign(subject: AccessTokenSubject, issuedAt: number, stamp: AccessTokenStamp = {}): Promise<{ token: string; claims: AccessTokenClaims }> {
    const claims: AccessTokenClaims = {
      sub: subject.id,
      jti: randomUUID(),
      iat: issuedAt,
      exp: issuedAt + this.ttlSeconds,
      email: subject.email,
      name: subject.name,
      roles: [...subject.roles],
      ver: stamp.version ?? 0,
      ...(stamp.familyId ? { fam: stamp.familyId } : {}),
    };
    const { email, name, roles, ver, fam } = claims;
    const token = await new SignJWT({ email, name, roles, ver, ...(fam ? { fam } : {}) })
      .setProtectedHeader({ alg: this.keys.algorithm, kid: this.keys.kid, typ: 'JWT' })
      .setIssuer(this.config.jwt.issuer)
      .setAudience(this.config.jwt.audience)
      .setSubject(claims.sub)
      .setJti(claims.jti)
      .setIssuedAt(claims.iat)
      .setExpirationTime(claims.exp)
      .sign(this.keys.privateKey);
    return { token, claims };
  }

  /** The claims of a token verified before and not yet expired, synchronously; else undefined. */
  verifyCached(token: string): AccessTokenClaims | undefined {
    const cached = this.verified.get(token);
    if (cached && cached.exp + this.config.jwt.clockToleranceSeconds <= Date.now() / 1000) {
      this.verified.delete(token);
      throw new InvalidAccessTokenError('token expired');
    }
    return cached;
  }

  async verify(token: string): Promise<AccessTokenClaims> {
    const cached = this.verifyCached(token);
    if (cached) return cached;

    const nowSeconds = Date.now() / 1000;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header: ProtectedHeaderParameters) => this.keyFor(header), {
        algorithms: [this.keys.algorithm],
        issuer: this.config.jwt.issuer,
        audience: this.config.jwt.audience,
        clockTolerance: this.config.jwt.clockToleranceSeconds,
        requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti'],
        typ: 'JWT',
      }));
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof InvalidAccessTokenError) {
        throw new InvalidAccessTokenError(error.message);
      }
      throw error;
    }
    const claims = this.readClaims(payload);
    const ttlMs = Math.max(1, (claims.exp - nowSeconds) * 1000);
    this.verified.set(token, claims, { ttl: ttlMs });
    return claims;
  }

  private keyFor(header: ProtectedHeaderParameters) {
    if (header.kid !== this.keys.kid) throw new InvalidAccessTokenError('unknown signing key');
    return this.keys.publicKey;
  }

  private readClaims(payload: JWTPayload): AccessTokenClaims {
    const { sub, jti, iat, exp, email, name, roles, ver = 0, fam } = payload as Record<string, unknown>;
    if (
      typeof sub !== 'string' ||
      typeof jti !== 'string' ||
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      typeof email !== 'string' ||
      typeof name !== 'string' ||
      !Array.isArray(roles) ||
      !roles.every((role) => typeof role === 'string') ||
      typeof ver !== 'number' ||
      (fam !== undefined && typeof fam !== 'string')
    ) {
      throw new InvalidAccessTokenError('malformed claims');
    }
    return { sub, jti, iat, exp, email, name, roles, ver, ...(fam !== undefined ? { fam } : {}) };
  }
}
