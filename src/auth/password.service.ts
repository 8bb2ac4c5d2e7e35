import { AuditService } from '../audit/audit.service';
import type { NewAuditEvent } from '../audit/audit-events';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { PublicAddress } from '../common/public-address';
import type { UserPrincipal } from '../common/authenticated-request';
import { MailService } from '../mail/mail.service';
import { SessionService } from '../sessions/session.service';
import { OneTimeTokenService } from '../tokens/one-time-token.service';
import { RevocationService } from '../tokens/revocation.service';
import { TokensService } from '../tokens/tokens.service';
import { normalizeEmail, UsersService } from '../users/users.service';
import { AccountMailQueue } from './account-mail.queue';
import { LoginRateLimiter } from './login-rate-limiter';
import { authError } from '../common/auth-errors';

/**
 * Forgotten and changed passwords. A new password ends every session and token of the user
 * issued before it, through the same versioned cut-off as logout-all, in one transaction.
 */
@Injectable()
export class PasswordService {
  private readonly logger = new Logger('Password');

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions,
    private readonly publicAddress: PublicAddress,
    private readonly users: UsersService,
    private readonly oneTimeTokens: OneTimeTokenService,
    private readonly tokens: TokensService,
    private readonly sessions: SessionService,
    private readonly revocation: RevocationService,
    private readonly limiter: LoginRateLimiter,
    private readonly mail: MailService,
    private readonly queue: AccountMailQueue,
    private readonly audit: AuditService,
  ) {
    queue.handle('password-reset', (email) => this.sendResetLink(email));
  }

  /**
   * Answers the same way, with the same work, whether or not the account exists: the request
   * counts the attempt and queues the address, nothing more. The lookup, the token and the mail
   * are the queue's worker's, off the path of this request and of the next (AccountMailQueue).
   */
  async requestReset(email: string, address: string): Promise<void> {
    const account = normalizeEmail(email);
    await this.limiter.takeResetRequest(address, account);
    this.queue.enqueue('password-reset', account);
  }

  /** Spends the reset token and sets the password; 400 for any token that is not good. */
  async reset(token: string, password: string, address: string): Promise<void> {
    await this.limiter.takeResetAttempt(address);
    // Hashed before the token is spent: a slow hash must not leave a spent token behind a failure.
    const passwordHash = await this.users.hashPassword(password);
    const userId = await this.oneTimeTokens.spend(token, 'password-reset');
    if (!userId) throw authError('INVALID_ONE_TIME_TOKEN');
    // The link reached the mailbox, so the address is proven: it counts as verified too.
    await this.replacePassword(userId, passwordHash, { type: 'password.reset', actor: { kind: 'user', id: userId }, userId, origin: { ip: address } }, true);
    await this.oneTimeTokens.revokeAll(userId, 'email-verify');
  }

  /**
   * The signed-in user's own change: the current password first (401 if wrong). A wrong current
   * password is a failed login of the account: the attempt takes its point from the account's
   * (and the address's) login budget before the hash is checked, and gets it back on success, so
   * a stolen credential cannot guess the password here, nor queue more hashing than login allows.
   */
  async change(principal: UserPrincipal, currentPassword: string, newPassword: string, res: Response, address: string): Promise<void> {
    // The account as login names it (its email); a credential without one never shares a key.
    const account = normalizeEmail(principal.email ?? '') || `user:${principal.id}`;
    const attempt = await this.limiter.takeLoginAttempt(account, address);
    const user = await this.users.verifyPasswordOf(principal.id, currentPassword);
    if (!user) throw authError('WRONG_CURRENT_PASSWORD');
    await this.limiter.forgiveLogin(attempt);
    await this.replacePassword(user.id, await this.users.hashPassword(newPassword), {
      type: 'password.changed',
      actor: { kind: 'user', id: user.id },
      userId: user.id,
      origin: { ip: address, group: principal.group ?? null },
    });
    if (principal.via === 'session') this.sessions.clearCookie(res);
  }

  /**
   * `emailProven`: set by a reset through the mailed link. The flag needs no announcement to
   * other instances: every credential issued before it ends here, and new ones read the row.
   */
  private async replacePassword(userId: string, passwordHash: string, event: NewAuditEvent, emailProven = false): Promise<void> {
    await this.revocation.commit(async (tx) => {
      const version = await this.users.setPassword(tx, userId, passwordHash);
      if (version === null) return { result: undefined, revocations: [] };
      if (emailProven && (await this.users.markEmailVerified(tx, userId, true))) {
        await this.audit.record(tx, { type: 'email.verified', actor: event.actor, userId, origin: event.origin, details: { by: 'password_reset' } });
      }
      await this.audit.record(tx, event);
      await this.tokens.revokeAllFamilies(tx, userId);
      return { result: undefined, revocations: [{ kind: 'user' as const, subject: userId, version }] };
    });
    await this.oneTimeTokens.revokeAll(userId, 'password-reset');
    try {
      await this.sessions.destroyAllForUser(userId);
    } catch (error) {
      this.logger.warn(`stored sessions were not deleted (${(error as Error).message}); they are refused anyway`);
    }
  }

  /** The queue's work: one INSERT ... SELECT for any address, a mail when it found an account. */
  private async sendResetLink(email: string): Promise<void> {
    try {
      const issued = await this.oneTimeTokens.issueForEmail(email, 'password-reset', this.options.passwordReset.ttlSeconds);
      if (!issued) return;
      const { token } = issued;
      const link = `${this.publicAddress.url}/reset-password?token=${token}`;
      const minutes = Math.round(this.options.passwordReset.ttlSeconds / 60);
      this.mail.send({
        to: email,
        subject: 'Reset your password',
        text: `Someone asked to reset the password of this account. To choose a new one, open:\n\n${link}\n\nThe link works once, for ${minutes} minutes. If it was not you, ignore this mail.\n`,
        html: `<p>Someone asked to reset the password of this account.</p><p><a href="${link}">Choose a new password</a></p><p>The link works once, for ${minutes} minutes. If it was not you, ignore this mail.</p>`,
      });
    } catch (error) {
      this.logger.error(`reset link not sent: ${(error as Error).message}`);
    }
  }
}
