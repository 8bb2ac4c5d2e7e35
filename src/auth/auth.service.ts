import { Inject, Injectable, Logger } from '@nestjs/common';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import type { Request, Response } from 'express';
import type { UserPrincipal } from '../common/authenticated-request';
import { usesJwt, usesSessions, type AuthStrategy } from '../config/route-groups';
import { SessionService } from '../sessions/session.service';
import { RevocationService } from '../tokens/revocation.service';
import { ExtraClaimsService } from '../tokens/extra-claims.service';
import { TokenPair, TokensService } from '../tokens/tokens.service';
import { PublicUser, toPublicUser, User } from '../users/user.entity';
import { NewUser, normalizeEmail, UsersService } from '../users/users.service';
import { EmailVerificationService } from './email-verification.service';
import { LoginRateLimiter } from './login-rate-limiter';
import { authError } from '../common/auth-errors';

export type LoginResult = { user?: PublicUser; csrfToken?: string } & Partial<TokenPair>;

/**
 * Login, logout and "revoke everything" across both strategies.
 *
 * Every credential is built from one read of the user row and stamped with that row's
 * credential version; every change that must end credentials (roles, logout-all) moves the
 * version in the same write. Whatever the interleaving of a login with such a change, the
 * credential either reflects the change or carries an old version and is refused.
 */
@Injectable()
export class AuthService {
  private readonly logger = new Logger('Auth');

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions,
    private readonly users: UsersService,
    private readonly tokens: TokensService,
    private readonly sessions: SessionService,
    private readonly revocation: RevocationService,
    private readonly limiter: LoginRateLimiter,
    private readonly extraClaims: ExtraClaimsService,
    private readonly verification: EmailVerificationService,
  ) {}

  /**
   * A registration, from the API or the register page: counted per address before any work (so
   * a burst cannot create accounts past the limit), always a plain user (roles are never taken
   * from the client), and the verification link mailed after the answer.
   */
  async register(input: Pick<NewUser, 'email' | 'password' | 'name'>, address: string): Promise<User> {
    await this.limiter.takeRegistration(address);
    const user = await this.users.create({ email: input.email, password: input.password, name: input.name });
    this.verification.sendAfterRegistration(user);
    return user;
  }

  /**
   * Counts the attempt first, then checks the password; wrong password and unknown email answer
   * alike. A success gives the attempt back, so only failures count toward the limits.
   */
  async verifyLogin(email: string, password: string, address: string): Promise<User> {
    const account = normalizeEmail(email);
    const attempt = await this.limiter.takeLoginAttempt(account, address);
    const user = await this.users.verifyCredentials(account, password);
    if (!user) throw authError('INVALID_CREDENTIALS');
    await this.limiter.forgiveLogin(attempt);
    // Said only after the right password, so it tells nothing to someone guessing addresses.
    this.assertMaySignIn(user);
    return user;
  }

  /** With REQUIRE_EMAIL_VERIFICATION, no credential for an address not yet confirmed (403). */
  assertMaySignIn(user: Pick<User, 'emailVerified'>): void {
    if (this.options.emailVerification.required && !user.emailVerified) {
      throw authError('EMAIL_NOT_VERIFIED');
    }
  }

  /**
   * What login answers depends on the group's strategy: a session (cookie + CSRF token), a
   * token pair, or both for `any` groups, which serve browsers and API clients alike. `user` is
   * the row the password was checked against; the credentials carry its version.
   */
  async login(group: string, strategy: AuthStrategy, user: User, req: Request, res: Response): Promise<LoginResult> {
    const result: LoginResult = {};
    // Where the sign-in comes from, as the device list shows it (bounded, like the columns).
    const device = { ip: (req.ip ?? '').slice(0, 64), userAgent: String(req.headers['user-agent'] ?? '').slice(0, 200) };
    // Once per sign-in, before anything is created: a session and a token pair of one `any`
    // login carry the same claims, and a failing claims option leaves no half-made sign-in.
    const claims = await this.extraClaims.for(user);
    if (usesSessions(strategy)) {
      result.user = toPublicUser(user);
      result.csrfToken = await this.sessions.establish(req, res, {
        userId: user.id,
        email: user.email,
        name: user.name,
        roles: user.roles,
        emailVerified: user.emailVerified,
        version: user.credentialVersion,
        createdAt: Date.now(),
        userAgent: device.userAgent,
        ip: device.ip,
        ...(claims ? { claims } : {}),
      });
    }
    if (usesJwt(strategy)) Object.assign(result, await this.tokens.issueForLogin(user, group, device, claims));
    // Checked once more before handing out: the account changed (roles, logout-all) while the
    // credentials were being built, so they are already dead. Say so instead of returning them.
    if (this.revocation.isRevoked({ userId: user.id, version: user.credentialVersion })) {
      if (result.csrfToken) await this.sessions.destroy(req, res);
      throw authError('ACCOUNT_CHANGED_DURING_SIGN_IN');
    }
    return result;
  }

  async logout(principal: UserPrincipal, req: Request, res: Response, refreshToken?: string): Promise<void> {
    if (principal.via === 'session') {
      await this.sessions.destroy(req, res);
      return;
    }
    await this.tokens.logout(principal.id, principal.jti!, principal.exp!, refreshToken);
  }

  /**
   * Every session and token of the user issued up to now stops working, on every instance. One
   * transaction raises the user's version (ending access tokens and sessions) and revokes the
   * refresh families, with the log entry that tells the other instances.
   */
  async revokeEverything(principal: UserPrincipal, res: Response): Promise<void> {
    await this.revocation.commit(async (tx) => {
      const version = await this.users.signOutEverywhere(tx, principal.id);
      await this.tokens.revokeAllFamilies(tx, principal.id);
      return { result: undefined, revocations: [{ kind: 'user' as const, subject: principal.id, version }] };
    });
    if (principal.via === 'session') this.sessions.clearCookie(res);
    await this.forgetSessions(principal.id);
  }

  /** New roles take effect on the user's very next request: credentials of the old version die. */
  async changeRoles(userId: string, roles: string[]): Promise<PublicUser> {
    const changed = await this.revocation.commit(async (tx) => {
      const changed = await this.users.setRoles(tx, userId, roles);
      const version = changed?.version ?? null;
      return { result: changed, revocations: version === null ? [] : [{ kind: 'user' as const, subject: userId, version }] };
    });
    if (!changed) throw authError('USER_NOT_FOUND');
    if (changed.version !== null) await this.forgetSessions(userId);
    return toPublicUser(changed.user);
  }

  /**
   * Deletes the user's stored sessions. Housekeeping only: they are already refused by their
   * version, so a store that fails here does not undo the revocation that has been made.
   */
  private async forgetSessions(userId: string): Promise<void> {
    try {
      await this.sessions.destroyAllForUser(userId);
    } catch (error) {
      this.logger.warn(`stored sessions of a revoked user were not deleted (${(error as Error).message}); they are refused anyway`);
    }
  }
}
