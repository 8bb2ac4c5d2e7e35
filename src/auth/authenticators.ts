import { ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { AuthenticatedRequest, Principal } from '../common/authenticated-request';
import { hasValidCsrfToken, needsCsrfCheck } from '../sessions/csrf';
import { SessionService } from '../sessions/session.service';
import { AccessTokenClaims, AccessTokenService, InvalidAccessTokenError } from '../tokens/access-token.service';
import { RevocationService } from '../tokens/revocation.service';

/** `Authorization: Bearer <token>`: the token, undefined without the header, 401 when malformed. */
export function bearerToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  // The scheme is case-insensitive (RFC 9110); the token is a compact JWS.
  const match = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i.exec(header);
  if (!match) throw new UnauthorizedException('Malformed Authorization header');
  return match[1];
}

/** The verifier's refusals become 401; anything else propagates unchanged. */
function refusal(error: unknown): unknown {
  return error instanceof InvalidAccessTokenError ? new UnauthorizedException('Invalid or expired token') : error;
}

/**
 * Authenticates a Bearer access token with in-process work only: a (cached) signature check,
 * then the revocation maps. No network round trip.
 */
@Injectable()
export class JwtAuthenticator {
  constructor(
    private readonly accessTokens: AccessTokenService,
    private readonly revocation: RevocationService,
  ) {}

  /** Synchronous for a token verified before (the common case), a promise otherwise. */
  authenticate(token: string | undefined): Principal | Promise<Principal> {
    if (!token) throw new UnauthorizedException('Missing bearer token');
    this.revocation.assertCurrent();
    let cached: AccessTokenClaims | undefined;
    try {
      cached = this.accessTokens.verifyCached(token);
    } catch (error) {
      throw refusal(error);
    }
    if (cached) return this.principalFor(cached);
    return this.accessTokens.verify(token).then(
      (claims) => this.principalFor(claims),
      (error: unknown) => {
        throw refusal(error);
      },
    );
  }

  private principalFor(claims: AccessTokenClaims): Principal {
    if (this.revocation.isRevoked({ userId: claims.sub, version: claims.ver, jti: claims.jti, familyId: claims.fam })) {
      throw new UnauthorizedException('Token has been revoked');
    }
    return { id: claims.sub, email: claims.email, name: claims.name, roles: claims.roles, via: 'jwt', jti: claims.jti, exp: claims.exp };
  }

}

/** Authenticates the session cookie; unsafe methods also need the session's CSRF token. */
@Injectable()
export class SessionAuthenticator {
  constructor(
    private readonly sessions: SessionService,
    private readonly revocation: RevocationService,
  ) {}

  /**
   * The session's user, or null when there is no live session (a session built from an older
   * user version is ended on the spot). Records the session on the request.
   */
  async current(req: AuthenticatedRequest, res: Response): Promise<Principal | null> {
    const snapshot = await this.sessions.read(req);
    if (!snapshot) return null;
    const { auth } = snapshot;
    this.revocation.assertCurrent();
    // Sessions from before the version existed count as version 0.
    if (this.revocation.isRevoked({ userId: auth.userId, version: auth.version ?? 0 })) {
      await this.sessions.destroy(req, res);
      return null;
    }
    req.authSession = { id: snapshot.id, csrfToken: snapshot.csrfToken };
    return { id: auth.userId, email: auth.email, name: auth.name, roles: auth.roles, via: 'session' };
  }

  async authenticate(req: AuthenticatedRequest, res: Response): Promise<Principal> {
    const principal = await this.current(req, res);
    if (!principal) throw new UnauthorizedException('Not signed in');
    if (needsCsrfCheck(req.method) && !hasValidCsrfToken(req, req.authSession?.csrfToken)) {
      throw new ForbiddenException('Missing or invalid CSRF token');
    }
    return principal;
  }
}
