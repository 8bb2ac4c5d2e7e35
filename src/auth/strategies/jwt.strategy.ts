import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../../config/auth-switch.options';
import type { AuthenticatedRequest, ClientPrincipal, Principal } from '../../common/authenticated-request';
import { ACCESS_TOKEN_TYPE, AccessTokenClaims, AccessTokenService, InvalidAccessTokenError, readAccessTokenClaims } from '../../tokens/access-token.service';
import { DeviceActivity } from '../../tokens/device-activity';
import { RevocationService } from '../../tokens/revocation.service';
import { AUTH_SWITCH_PASSPORT, PassportInstance } from './passport-instance';
import { authError } from '../../common/auth-errors';

/** `Bearer <compact JWS>` and nothing else; passport-jwt's own pattern lets trailing text pass. */
const STRICT_BEARER = /^Bearer +[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/i;
const fromBearerHeader = ExtractJwt.fromAuthHeaderAsBearerToken();
const bearerToken = (req: Request): string | null => {
  const header = req.headers.authorization;
  return typeof header === 'string' && STRICT_BEARER.test(header) ? fromBearerHeader(req) : null;
};

/**
 * `jwt`: passport-jwt over the key ring. The header's `kid` picks the key (an unknown kid, or an
 * `alg` that is not that key's, is refused before any maths), jsonwebtoken verifies with the
 * key's KeyObject, and `iss`, `aud` and `exp` are always checked. `validate()` then applies
 * what a signature cannot know: revocation (the token, its refresh family, the user's version)
 * and the route group the token was issued for.
 *
 * A token verified before skips passport-jwt's verification (its claims are remembered, see
 * AccessTokenService) and goes straight to the same checks, so the warm path costs a hash and a
 * map lookup rather than a signature check.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) options: AuthSwitchOptions,
    @Inject(AUTH_SWITCH_PASSPORT) own: PassportInstance,
    private readonly accessTokens: AccessTokenService,
    private readonly revocation: RevocationService,
    private readonly activity: DeviceActivity,
  ) {
    const keys = options.jwt.keys;
    super({
      jwtFromRequest: bearerToken,
      secretOrKeyProvider: (_req: Request, rawJwtToken: string, done: (error: unknown, key?: unknown) => void) => {
        try {
          done(null, keys.keyForToken(rawJwtToken, ACCESS_TOKEN_TYPE).publicKey);
        } catch (error) {
          done(error);
        }
      },
      // The ring's algorithms only; keyForToken has already matched the header's alg to its key.
      algorithms: keys.algorithms,
      issuer: options.jwt.issuer,
      audience: options.jwt.audience,
      jsonWebTokenOptions: { clockTolerance: options.jwt.clockToleranceSeconds },
      passReqToCallback: true,
    } as unknown as ConstructorParameters<typeof Strategy>[0]);
    own.use('jwt', this);
  }

  authenticate(req: Request, options?: object): void {
    const token = bearerToken(req);
    if (token) {
      let claims: AccessTokenClaims | undefined;
      try {
        claims = this.accessTokens.recall(token);
      } catch (error) {
        return this.fail(error, 401);
      }
      if (claims) {
        try {
          return this.success(this.principalFor(req as AuthenticatedRequest, claims));
        } catch (error) {
          return this.error(error as Error);
        }
      }
    }
    super.authenticate(req, options);
  }

  /** Called by passport-jwt once the signature, issuer, audience and expiry have been checked. */
  validate(req: AuthenticatedRequest, payload: Record<string, unknown>): Principal {
    let claims: AccessTokenClaims;
    try {
      claims = readAccessTokenClaims(payload);
    } catch (error) {
      if (error instanceof InvalidAccessTokenError) throw authError('INVALID_ACCESS_TOKEN');
      throw error;
    }
    this.accessTokens.remember(bearerToken(req)!, claims);
    return this.principalFor(req, claims);
  }

  /**
   * A token held in hand outside an HTTP request (a WebSocket handshake, a queued job): the
   * checks a request gets, signature, `typ`, `iss`, `aud`, `exp`, then revocation, and the group
   * boundary when a group is named. Use this, not AccessTokenService.verify(), which checks the
   * signature only.
   */
  async principalForToken(token: string, group?: string): Promise<Principal> {
    let claims: AccessTokenClaims;
    try {
      claims = await this.accessTokens.verify(token);
    } catch (error) {
      if (error instanceof InvalidAccessTokenError) throw authError('INVALID_ACCESS_TOKEN');
      throw error;
    }
    const routeGroup = group === undefined ? undefined : { name: group, strategy: 'jwt' as const };
    return this.principalFor({ routeGroup } as AuthenticatedRequest, claims);
  }

  /** What a verified token still has to pass on every request. */
  private principalFor(req: AuthenticatedRequest, claims: AccessTokenClaims): Principal {
    // A feed that is not current could miss a revocation: 503 rather than trust the token.
    this.revocation.assertCurrent();
    if (claims.client_id !== undefined) return this.clientPrincipal(claims, claims.client_id);
    if (this.revocation.isRevoked({ userId: claims.sub, version: claims.ver, jti: claims.jti, familyId: claims.fam })) {
      throw authError('TOKEN_REVOKED');
    }
    // Groups are a boundary: a token issued on /partner/auth/login is no key to /api/... .
    // Routes outside any group (/auth/...) accept the tokens of every group.
    const group = req.routeGroup?.name;
    if (group && claims.grp !== group) throw authError('TOKEN_OF_ANOTHER_GROUP');
    // For the device list: a map lookup, and a set at most once a minute per family.
    if (claims.fam) this.activity.markFamily(claims.fam);
    return {
      id: claims.sub,
      email: claims.email,
      name: claims.name,
      // A copy: the remembered claims must not change if a handler edits the user.
      roles: [...claims.roles],
      ...(claims.evf ? { emailVerified: true } : {}),
      via: 'jwt',
      jti: claims.jti,
      exp: claims.exp,
      ...(claims.grp ? { group: claims.grp } : {}),
      ...(claims.fam ? { familyId: claims.fam } : {}),
      ...(claims.ext ? { claims: claims.ext } : {}),
    };
  }

  /**
   * A machine client's token: revoked with its client (clients:revoke) or alone (its jti). Not
   * bound to a group: a client token is accepted by every jwt and any group, and @Scopes decides.
   */
  private clientPrincipal(claims: AccessTokenClaims, clientId: string): ClientPrincipal {
    if (this.revocation.isRevoked({ userId: clientId, version: 0, jti: claims.jti, clientId })) {
      throw authError('TOKEN_REVOKED');
    }
    return {
      kind: 'client',
      clientId,
      scopes: claims.scope ? claims.scope.split(' ') : [],
      via: 'jwt',
      jti: claims.jti,
      exp: claims.exp,
    };
  }
}
