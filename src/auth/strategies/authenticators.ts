import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import type { AuthenticatedRequest, UserPrincipal } from '../../common/authenticated-request';
import { hasValidCsrfToken, needsCsrfCheck } from '../../sessions/csrf';
import { DeviceActivity } from '../../tokens/device-activity';
import { SessionService } from '../../sessions/session.service';
import { RevocationService } from '../../tokens/revocation.service';
import { authError } from '../../common/auth-errors';
import { deepFreeze } from '../../config/extra-claims';

/** Authenticates the session cookie; unsafe methods also need the session's CSRF token. */
@Injectable()
export class SessionAuthenticator {
  constructor(
    private readonly sessions: SessionService,
    private readonly revocation: RevocationService,
    private readonly activity: DeviceActivity,
  ) {}

  /**
   * The session's user, or null when there is no live session (a session built from an older
   * user version is ended on the spot). Records the session on the request.
   */
  async current(req: AuthenticatedRequest, res: Response): Promise<UserPrincipal | null> {
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
    this.activity.markSession(snapshot.id);
    return {
      id: auth.userId,
      email: auth.email,
      name: auth.name,
      roles: auth.roles,
      ...(auth.emailVerified ? { emailVerified: true } : {}),
      ...(auth.claims ? { claims: deepFreeze(auth.claims) } : {}),
      via: 'session',
    };
  }

  async authenticate(req: AuthenticatedRequest, res: Response): Promise<UserPrincipal> {
    const principal = await this.current(req, res);
    if (!principal) throw authError('NOT_SIGNED_IN');
    if (needsCsrfCheck(req.method) && !hasValidCsrfToken(req, req.authSession?.csrfToken)) {
      throw authError('CSRF_TOKEN_INVALID');
    }
    return principal;
  }
}
