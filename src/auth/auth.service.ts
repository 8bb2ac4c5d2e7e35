import { Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Principal } from '../common/authenticated-request';
import { usesJwt, usesSessions, type AuthStrategy } from '../config/route-groups';
import { SessionService } from '../sessions/session.service';
import { RevocationService } from '../tokens/revocation.service';
import { TokenPair, TokensService } from '../tokens/tokens.service';
import { PublicUser, toPublicUser, User } from '../users/user.entity';
import { normalizeEmail, UsersService } from '../users/users.service';
import { LoginRateLimiter } from './login-rate-limiter';

export type LoginResult = { user?: PublicUser; csrfToken?: string } & Partial<TokenPair>;

/** Login, logout and "revoke everything" across both strategies. */
@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly tokens: TokensService,
    private readonly sessions: SessionService,
    private readonly revocation: RevocationService,
    private readonly limiter: LoginRateLimiter,
  ) {}

  /** Checks the limits, then the password; wrong password and unknown email answer alike. */
  async verifyLogin(email: string, password: string, address: string): Promise<User> {
    const account = normalizeEmail(email);
    await this.limiter.assertAllowed(account, address);
    const user = await this.users.verifyCredentials(account, password);
    if (!user) {
      await this.limiter.recordFailure(account, address);
      throw new UnauthorizedException('Invalid credentials');
    }
    return user;
  }

  /**
   * What login answers depends on the group's strategy: a session (cookie + CSRF token), a
   * token pair, or both for `any` groups, which serve browsers and API clients alike.
   */
  async login(strategy: AuthStrategy, user: User, req: Request, res: Response): Promise<LoginResult> {
    const result: LoginResult = {};
    if (usesSessions(strategy)) {
      const issuedAt = await this.revocation.issueTime(user.id);
      result.user = toPublicUser(user);
      result.csrfToken = await this.sessions.establish(req, res, {
        userId: user.id,
        email: user.email,
        name: user.name,
        roles: user.roles,
        issuedAt,
        createdAt: Date.now(),
        userAgent: String(req.headers['user-agent'] ?? '').slice(0, 200),
        ip: req.ip ?? '',
      });
    }
    if (usesJwt(strategy)) Object.assign(result, await this.tokens.issuePair(user));
    return result;
  }

  async logout(principal: Principal, req: Request, res: Response, refreshToken?: string): Promise<void> {
    if (principal.via === 'session') {
      await this.sessions.destroy(req, res);
      return;
    }
    await this.tokens.logout(principal.id, principal.jti!, principal.exp!, refreshToken);
  }

  /**
   * Every session and token of the user issued up to now stops working, on every instance:
   * the cut-off moves (checked on each request), refresh families and stored sessions go.
   */
  async revokeEverything(principal: Principal, res: Response): Promise<void> {
    await this.tokens.revokeAllForUser(principal.id);
    await this.sessions.destroyAllForUser(principal.id);
    if (principal.via === 'session') this.sessions.clearCookie(res);
  }

  /** New roles take effect on the user's very next request: their credentials are cut off. */
  async changeRoles(userId: string, roles: string[]): Promise<PublicUser> {
    const { user, changed } = await this.users.setRoles(userId, roles);
    if (changed) {
      await this.revocation.moveCutoff(userId);
      await this.sessions.destroyAllForUser(userId);
    }
    return toPublicUser(user);
  }
}
