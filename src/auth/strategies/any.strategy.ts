import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-strategy';
import { AUTH_SWITCH_PASSPORT, PassportInstance } from './passport-instance';
import { JwtStrategy } from './jwt.strategy';
import { SessionStrategy } from './session.strategy';

/**
 * `any`: a Bearer token when the request sends an Authorization header, else the session
 * cookie (with its CSRF rule). It never falls back from a bad token to the cookie: a request
 * that shows a token is judged by that token.
 */
@Injectable()
export class AnyStrategy extends PassportStrategy(Strategy, 'any') {
  constructor(
    private readonly jwt: JwtStrategy,
    private readonly session: SessionStrategy,
    @Inject(AUTH_SWITCH_PASSPORT) own: PassportInstance,
  ) {
    super();
    own.use('any', this);
  }

  validate(): never {
    throw new Error('AnyStrategy delegates to the jwt or session strategy');
  }

  authenticate(req: Request, options?: object): void {
    const target: Strategy = req.headers.authorization !== undefined ? this.jwt : this.session;
    // As Passport itself does: the chosen strategy reports through this attempt's callbacks.
    const delegate = Object.create(target) as Strategy;
    delegate.success = (user, info) => this.success(user, info);
    delegate.fail = (challenge?: unknown, status?: number) => this.fail(challenge as string, status as number);
    delegate.error = (error) => this.error(error);
    delegate.authenticate(req, options);
  }
}
