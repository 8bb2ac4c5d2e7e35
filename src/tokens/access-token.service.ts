import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import type { JwtHeader } from 'jsonwebtoken';
import { KeyRing } from '../config/key-ring';
import { deepFreeze, ExtraClaims } from '../config/extra-claims';

/** The `typ` of AuthSwitch access tokens (RFC 9068), so that no other JWT signed with the same key passes as one. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

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
  /** The route group the token was issued for; group routes accept only their own tokens. */
  grp?: string;
  /** Present (true) when the user had verified their address when the token was signed. */
  evf?: true;
  /** Client tokens only (RFC 9068): the machine client, equal to `sub`. User tokens never carry it. */
  client_id?: string;
  /** Client tokens only: the granted scopes, space-separated. */
  scope?: string;
  /** The host's extra claims (the `claims` option), under one name so they never shadow a registered claim. */
  ext?: ExtraClaims;
}

/** What ties a token to revocable state and to its group. */
export interface AccessTokenStamp {
  version?: number;
  familyId?: string;
  group?: string;
}

export interface AccessTokenSubject {
  id: string;
  email: string;
  name: string;
  roles: string[];
  emailVerified?: boolean;
  /** The host's extra claims for this user (ExtraClaimsService), if any. */
  claims?: ExtraClaims;
}

/** Why a token was refused; the HTTP answer is always the same 401. */
export class InvalidAccessTokenError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidAccessTokenError';
  }
}

/**
 * Signs access tokens (through @nestjs/jwt's JwtService, with the key ring's signing key) and
 * remembers the ones already verified.
 *
 * A verified signature never changes, so the claims of a verified token are kept (bounded by
 * JWT_VERIFIED_CACHE_SIZE): a repeated token skips the signature maths. The memo is keyed by a
 * SHA-256 of the whole token, never by a part of it (a changed header or payload is a new key),
 * and the digest keeps an entry small. Expiry is checked on every hit; revocation is checked by
 * the caller on every request.
 */
@Injectable()
export class AccessTokenService {
  private readonly verified: LRUCache<string, AccessTokenClaims>;

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions,
    private readonly jwt: JwtService,
  ) {
    this.verified = new LRUCache({ max: options.jwt.verifiedTokenCacheSize });
  }

  get ttlSeconds(): number {
    return this.options.jwt.accessTokenTtlSeconds;
  }

  get keys(): KeyRing {
    return this.options.jwt.keys;
  }

  sign(subject: AccessTokenSubject, issuedAt: number, stamp: AccessTokenStamp = {}): { token: string; claims: AccessTokenClaims } {
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
      ...(stamp.group ? { grp: stamp.group } : {}),
      ...(subject.emailVerified ? { evf: true as const } : {}),
      ...(subject.claims ? { ext: subject.claims } : {}),
    };
    // iss, aud, kid and the algorithm come from the JwtModule options (the key ring's signing
    // key). The header's typ marks an access token (RFC 9068): other JWTs that an application
    // signs with the same JwtService are never accepted as one.
    const token = this.jwt.sign({ ...claims }, { header: { typ: ACCESS_TOKEN_TYPE } as JwtHeader });
    return { token, claims };
  }

  /**
   * A machine client's token: `sub` = `client_id`, its scopes, and no roles, profile, group or
   * refresh family. Accepted by every jwt and any group; @Scopes decides where it is of use.
   */
  signForClient(clientId: string, scopes: readonly string[], issuedAt: number): { token: string; claims: AccessTokenClaims } {
    const claims = { sub: clientId, client_id: clientId, scope: scopes.join(' '), jti: randomUUID(), iat: issuedAt, exp: issuedAt + this.ttlSeconds };
    const token = this.jwt.sign({ ...claims }, { header: { typ: ACCESS_TOKEN_TYPE } as JwtHeader });
    return { token, claims: readAccessTokenClaims(claims) };
  }

  /** The claims of a token verified before and not yet expired, synchronously; else undefined. */
  recall(token: string): AccessTokenClaims | undefined {
    const key = memoKey(token);
    const cached = this.verified.get(key);
    if (cached && cached.exp + this.options.jwt.clockToleranceSeconds <= Date.now() / 1000) {
      this.verified.delete(key);
      throw new InvalidAccessTokenError('token expired');
    }
    return cached;
  }

  /** Remembers the claims of a token whose signature, issuer, audience and expiry were checked. */
  remember(token: string, claims: AccessTokenClaims): void {
    this.verified.set(memoKey(token), claims);
  }

  /** How many verified tokens are remembered now. */
  get rememberedCount(): number {
    return this.verified.size;
  }

  /**
   * The signature, `typ`, `iss`, `aud` and `exp` of a token (JwtService with the key ring), using
   * and filling the memo. Not revocation: JwtStrategy.principalForToken() adds that, and is what
   * code holding a token outside a request should call; requests take the Passport `jwt` path.
   */
  async verify(token: string): Promise<AccessTokenClaims> {
    const cached = this.recall(token);
    if (cached) return cached;
    let payload: Record<string, unknown>;
    try {
      const verified = await this.jwt.verifyAsync<{ header: JwtHeader; payload: Record<string, unknown> }>(token, { complete: true });
      if (verified.header.typ !== ACCESS_TOKEN_TYPE) throw new Error(`typ ${String(verified.header.typ)} is not ${ACCESS_TOKEN_TYPE}`);
      payload = verified.payload;
    } catch (error) {
      throw new InvalidAccessTokenError((error as Error).message);
    }
    const claims = readAccessTokenClaims(payload);
    this.remember(token, claims);
    return claims;
  }
}

function memoKey(token: string): string {
  // 44 one-byte characters instead of a token of 500 or more.
  return createHash('sha256').update(token).digest('base64');
}

/** The claims of a verified payload, or InvalidAccessTokenError when one is missing or mistyped. */
export function readAccessTokenClaims(payload: Record<string, unknown>): AccessTokenClaims {
  if (payload.client_id !== undefined) return readClientClaims(payload);
  const { sub, jti, iat, exp, email, name, roles, ver = 0, fam, grp, evf, ext } = payload;
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
    (fam !== undefined && typeof fam !== 'string') ||
    (grp !== undefined && typeof grp !== 'string') ||
    (evf !== undefined && evf !== true) ||
    (ext !== undefined && (ext === null || typeof ext !== 'object' || Array.isArray(ext)))
  ) {
    throw new InvalidAccessTokenError('malformed claims');
  }
  return {
    sub,
    jti,
    iat,
    exp,
    email,
    name,
    roles,
    ver,
    ...(fam !== undefined ? { fam } : {}),
    ...(grp !== undefined ? { grp } : {}),
    ...(evf ? { evf } : {}),
    // Frozen once here: the memo hands the same claims to every request of this token.
    ...(ext !== undefined ? { ext: deepFreeze(ext as ExtraClaims) } : {}),
  };
}

/** A client token's claims, with an empty profile so that every reader sees one shape. */
function readClientClaims(payload: Record<string, unknown>): AccessTokenClaims {
  const { sub, jti, iat, exp, client_id, scope } = payload;
  if (
    typeof client_id !== 'string' ||
    sub !== client_id ||
    typeof jti !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number' ||
    typeof scope !== 'string' ||
    payload.roles !== undefined ||
    payload.grp !== undefined
  ) {
    throw new InvalidAccessTokenError('malformed claims');
  }
  return { sub: client_id, jti, iat, exp, email: '', name: '', roles: [], ver: 0, client_id, scope };
}
