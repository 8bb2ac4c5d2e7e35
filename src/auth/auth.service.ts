import { UnusualUse } from './unusual-use';
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
import { authError, isAuthError } from '../common/auth-errors';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, QueryFailedError } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { AuditActor, AuditOrigin, originOf, SYSTEM_ACTOR } from '../audit/audit-events';
import { inTransaction } from '../database/transactions';
import { isDisabled } from '../users/user.entity';
import { MetricsService } from '../metrics/metrics.service';
import { loginResultOf } from './auth-metrics';

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
    private readonly metrics: MetricsService,
    private readonly extraClaims: ExtraClaimsService,
    private readonly verification: EmailVerificationService,
    private readonly audit: AuditService,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly unusualUse: UnusualUse,
  ) {}

  /**
   * A registration, from the API or the register page: counted per address before any work (so
   * a burst cannot create accounts past the limit), always a plain user (roles are never taken
   * from the client), and the verification link mailed after the answer.
   */
  async register(input: { email: string; password: string; name?: string }, origin: AuditOrigin): Promise<User> {
    await this.limiter.takeRegistration(origin.ip ?? '');
    // Hashed before the transaction opens: no transaction waits on argon2.
    const passwordHash = await this.users.hashPassword(input.password);
    const user = await inTransaction(this.dataSource, async (tx) => {
      const user = await this.users.create({ email: input.email, passwordHash, name: input.name }, tx);
      await this.audit.record(tx, { type: 'user.registered', actor: { kind: 'user', id: user.id }, userId: user.id, origin });
      return user;
    });
    this.verification.sendAfterRegistration(user);
    return user;
  }

  /** An account an operator creates (CLI): no limit, no verification mail (the operator vouches for the address). */
  async createByOperator(input: NewUser): Promise<User> {
    const passwordHash = input.passwordHash ?? (await this.users.hashPassword(input.password ?? ''));
    return inTransaction(this.dataSource, async (tx) => {
      const user = await this.users.create({ ...input, passwordHash }, tx);
      await this.audit.record(tx, { type: 'user.registered', actor: SYSTEM_ACTOR, userId: user.id, details: { by: 'operator', roles: user.roles } });
      return user;
    });
  }

  /**
   * Counts the attempt first, then checks the password; wrong password and unknown email answer
   * alike. A success gives the attempt back, so only failures count toward the limits.
   */
  async verifyLogin(email: string, password: string, origin: AuditOrigin): Promise<User> {
    const account = normalizeEmail(email);
    let accountId: string | null = null;
    try {
      const attempt = await this.limiter.takeLoginAttempt(account, origin.ip ?? '');
      const checked = await this.users.checkCredentials(account, password);
      accountId = checked.accountId;
      if (!checked.user) throw authError('INVALID_CREDENTIALS');
      await this.limiter.forgiveLogin(attempt);
      // Said only after the right password, so it tells nothing to someone guessing addresses.
      this.assertMaySignIn(checked.user);
      return checked.user;
    } catch (error) {
      this.metrics.login(origin.group ?? '', loginResultOf(error));
      // A failed login changes nothing: its event is written on its own, after the answer.
      const reason = failedLoginReason(error);
      if (reason === 'invalid_credentials') await this.unusualUse.noteFailedLogin(account, origin);
      if (reason) this.audit.recordLater({ type: 'login.failed', actor: { kind: 'user', id: accountId }, userId: accountId, origin, details: { reason } });
      throw error;
    }
  }

  /**
   * No credential for a disabled account (403), nor, with REQUIRE_EMAIL_VERIFICATION, for an
   * address not yet confirmed (403).
   */
  assertMaySignIn(user: Pick<User, 'emailVerified' | 'disabledAt' | 'disabledUntil'>): void {
    if (isDisabled(user)) throw authError('ACCOUNT_DISABLED');
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
    try {
      return await this.signIn(group, strategy, user, req, res);
    } catch (error) {
      // The account was deleted between the password check and now: the rows of the sign-in
      // point at a user that is gone. What was made is refused anyway; say so, not 500.
      if (!isForeignKeyViolation(error)) throw error;
      if (usesSessions(strategy)) await this.sessions.destroy(req, res).catch(() => undefined);
      throw authError('ACCOUNT_CHANGED_DURING_SIGN_IN');
    }
  }

  private async signIn(group: string, strategy: AuthStrategy, user: User, req: Request, res: Response): Promise<LoginResult> {
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
    await this.recordSignIn(user, originOf(req, group), strategy);
    this.metrics.login(group, 'succeeded');
    return result;
  }

  /**
   * The sign-in's event, the user's last sign-in and the device check, in one transaction; a new
   * device is mailed to the owner once it has committed.
   */
  private async recordSignIn(user: User, origin: AuditOrigin, strategy: AuthStrategy): Promise<void> {
    const at = Date.now();
    const newDevice = await inTransaction(this.dataSource, async (tx) => {
      await this.users.recordSignIn(tx, user.id, at);
      await this.audit.record(tx, { type: 'login.succeeded', actor: { kind: 'user', id: user.id }, userId: user.id, origin, details: { strategy } });
      return this.unusualUse.noteSignIn(tx, user.id, origin, at);
    });
    if (newDevice) void this.unusualUse.mailNewDevice(newDevice).catch((error: Error) => this.logger.warn(`new-device mail not sent: ${error.message}`));
  }

  async logout(principal: UserPrincipal, req: Request, res: Response, refreshToken?: string): Promise<void> {
    const event = {
      type: 'logout' as const,
      actor: { kind: 'user' as const, id: principal.id },
      userId: principal.id,
      origin: originOf(req, principal.group ?? null),
      details: { via: principal.via },
    };
    if (principal.via === 'session') {
      await this.sessions.destroy(req, res);
      // The session lived in its store, not in this database: its event is written on its own.
      await this.audit.recordNow(event);
      return;
    }
    await this.tokens.logout(principal.id, principal.jti!, principal.exp!, refreshToken, event);
  }

  /**
   * Every session and token of the user issued up to now stops working, on every instance. One
   * transaction raises the user's version (ending access tokens and sessions) and revokes the
   * refresh families, with the log entry that tells the other instances.
   */
  async revokeEverything(principal: UserPrincipal, res: Response, origin: AuditOrigin = {}): Promise<void> {
    await this.revocation.commit(async (tx) => {
      const version = await this.users.signOutEverywhere(tx, principal.id);
      await this.tokens.revokeAllFamilies(tx, principal.id);
      await this.audit.record(tx, { type: 'logout_all', actor: { kind: 'user', id: principal.id }, userId: principal.id, origin });
      return { result: undefined, revocations: [{ kind: 'user' as const, subject: principal.id, version }] };
    });
    if (principal.via === 'session') this.sessions.clearCookie(res);
    await this.forgetSessions(principal.id);
  }

  /** New roles take effect on the user's very next request: credentials of the old version die. */
  async changeRoles(userId: string, roles: string[], actor: AuditActor, origin: AuditOrigin = {}): Promise<PublicUser> {
    const changed = await this.revocation.commit(async (tx) => {
      const changed = await this.users.setRoles(tx, userId, roles);
      const version = changed?.version ?? null;
      if (changed && version !== null) {
        await this.audit.record(tx, { type: 'role.changed', actor, userId, origin, details: { from: changed.previousRoles, to: changed.user.roles } });
      }
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

/**
 * Why a login failed, as its event says; null for a failure that gets no event of its own: a
 * store down, or a limit's refusal (recorded once per key and window as `limit.blocked`; one row
 * per refused request would let a flood write as fast as it can send).
 */
function failedLoginReason(error: unknown): string | null {
  if (isAuthError(error, 'INVALID_CREDENTIALS')) return 'invalid_credentials';
  if (isAuthError(error, 'ACCOUNT_DISABLED')) return 'account_disabled';
  if (isAuthError(error, 'EMAIL_NOT_VERIFIED')) return 'email_not_verified';
  return null;
}

/** A write that referred to a row another transaction deleted (PostgreSQL 23503, SQLite's message). */
function isForeignKeyViolation(error: unknown): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const driver = (error as QueryFailedError & { driverError?: { code?: unknown } }).driverError;
  return driver?.code === '23503' || driver?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || /FOREIGN KEY constraint failed/i.test(error.message);
}
