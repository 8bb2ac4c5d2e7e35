import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request, Response } from 'express';
import { Strategy } from 'passport-strategy';
import type { AuthenticatedRequest, UserPrincipal } from '../../common/authenticated-request';
import { SessionAuthenticator } from './authenticators';
import { AUTH_SWITCH_PASSPORT, PassportInstance } from './passport-instance';

/**
 * `session`: the server-side session named by the signed cookie, read with one store lookup.
 * Unsafe methods also need the session's CSRF token (403 without it). A session built from an
 * older user version (roles changed, logout-all) is ended on the spot.
 *
 * The name replaces Passport's own `session` strategy, which restores users serialized into
 * express-session by passport.session(); AuthSwitch does not use that mechanism.
 */
@Injectable()
export class SessionStrategy extends PassportStrategy(Strategy, 'session') {
  constructor(
    private readonly sessions: SessionAuthenticator,
    @Inject(AUTH_SWITCH_PASSPORT) own: PassportInstance,
  ) {
    super();
    own.use('session', this);
  }

  validate(req: AuthenticatedRequest): Promise<UserPrincipal> {
    return this.sessions.authenticate(req, req.res as Response);
  }

  authenticate(req: Request): void {
    this.validate(req as AuthenticatedRequest).then(
      (principal) => this.success(principal),
      (error: Error) => this.error(error),
    );
  }
}
