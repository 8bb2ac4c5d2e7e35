import { ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Principal } from '../common/authenticated-request';
import { hasValidCsrfToken, needsCsrfCheck } from '../sessions/csrf';
import { SessionService } from '../sessions/session.service';
import { AccessTokenService, InvalidAccessTokenError } from '../tokens/access-token.service';
import { RevocationService } from '../tokens/revocation.service';

/** `Authorization: Bearer <token>`: the token, undefined without the header, 401 when malformed. */
export function bearerToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/.exec(header);
  if (!match) throw new UnauthorizedException('Malformed Authorization header');
  return match[1];
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

  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw new UnauthorizedException('Missing bearer token');
    this.revocation.assertCurrent();
    let claims;
    try {
      claims = await this.accessTokens.verify(token);
    } catch (error) {
      if (error instanceof InvalidAccessTokenError) throw new UnauthorizedException('Invalid or expired token');
      throw error;
    }
    if (this.revocation.isJtiRevoked(claims.jti) || this.revocation.isBeforeCutoff(claims.sub, claims.iat)) {
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

  /** The session's user, or null when there is no live session (the session is ended if revoked). */
  async current(req: Request, res: Response): Promise<Principal | null> {
    await this.sessions.load(req, res);
    const auth = req.session.auth;
    if (!auth) return null;
    this.revocation.assertCurrent();
    if (this.revocation.isBeforeCutoff(auth.userId, auth.issuedAt)) {
      await this.sessions.destroy(req, res);
      return null;
    }
    return { id: auth.userId, email: auth.email, name: auth.name, roles: auth.roles, via: 'session' };
  }

  async authenticate(req: Request, res: Response): Promise<Principal> {
    const principal = await this.current(req, res);
    if (!principal) throw new UnauthorizedException('Not signed in');
    if (needsCsrfCheck(req.method) && !hasValidCsrfToken(req)) {
      throw new ForbiddenException('Missing or invalid CSRF token');
    }
    return principal;
  }
}
