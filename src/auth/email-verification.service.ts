import { AuditService } from '../audit/audit.service';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { PublicAddress } from '../common/public-address';
import { MailService } from '../mail/mail.service';
import { OneTimeTokenService } from '../tokens/one-time-token.service';
import { RevocationService } from '../tokens/revocation.service';
import { User } from '../users/user.entity';
import { normalizeEmail, UsersService } from '../users/users.service';
import { AccountMailQueue } from './account-mail.queue';
import { LoginRateLimiter } from './login-rate-limiter';
import { authError } from '../common/auth-errors';

/**
 * Proving ownership of an address: registration (and resend) mails a single-use link; spending
 * its token marks the address verified. The link's token is worth nothing for anything else.
 */
@Injectable()
export class EmailVerificationService {
  private readonly logger = new Logger('EmailVerification');

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions,
    private readonly publicAddress: PublicAddress,
    private readonly users: UsersService,
    private readonly oneTimeTokens: OneTimeTokenService,
    private readonly limiter: LoginRateLimiter,
    private readonly mail: MailService,
    private readonly revocation: RevocationService,
    private readonly queue: AccountMailQueue,
    private readonly audit: AuditService,
  ) {
    queue.handle('email-verify', (email) => this.sendLinkTo(email));
  }

  /** Whether sign-in waits for the address to be confirmed (REQUIRE_EMAIL_VERIFICATION). */
  get required(): boolean {
    return this.options.emailVerification.required;
  }

  /** After registration: the link goes out after the answer, never delaying or failing it. */
  sendAfterRegistration(user: Pick<User, 'id' | 'email'>): void {
    setImmediate(() => void this.sendLink(user));
  }

  /** Spends the token and marks the address verified; 400 for any token that is not good. */
  async verify(token: string, address: string): Promise<void> {
    // Guessing tokens costs attempts from the address, like reset tokens.
    await this.limiter.takeTokenAttempt(address);
    const userId = await this.oneTimeTokens.spend(token, 'email-verify');
    if (!userId || !(await this.markVerified(userId, address))) throw authError('INVALID_ONE_TIME_TOKEN');
    // The other links still in flight for this address are of no use any more.
    await this.oneTimeTokens.revokeAll(userId, 'email-verify');
  }

  /**
   * Sets the flag and, in the same transaction, tells every instance (through the revocation
   * log) for as long as a credential signed before this moment can live: a session or an access
   * token that says "unverified" is then answered "verified" everywhere, without a lookup.
   */
  private markVerified(userId: string, address: string): Promise<boolean> {
    const expiresAt = this.revocation.expiryCovering(Math.max(this.options.session.ttlSeconds * 1000, this.revocation.accessTokenLifetimeMs));
    return this.revocation.commit(async (tx) => {
      const newly = await this.users.markEmailVerified(tx, userId, true);
      if (newly)
        await this.audit.record(tx, { type: 'email.verified', actor: { kind: 'user', id: userId }, userId, origin: { ip: address }, details: { by: 'link' } });
      const verified = newly || (await this.users.isEmailVerified(userId, tx));
      return { result: verified, revocations: verified ? [{ kind: 'verified' as const, subject: userId, expiresAt }] : [] };
    });
  }

  /**
   * A new link for the address (signed in: the user's own; signed out: the one given), unless no
   * account uses it or it is verified already. The same answer and the same work in every case:
   * the request counts the attempt (per address and per account) and queues the address; the
   * lookup, the token and the mail are AccountMailQueue's worker's.
   */
  async resend(email: string, address: string): Promise<void> {
    const account = normalizeEmail(email);
    await this.limiter.takeVerificationMail(address, account);
    this.queue.enqueue('email-verify', account);
  }

  private async sendLink(user: Pick<User, 'id' | 'email'>): Promise<void> {
    try {
      const token = await this.oneTimeTokens.issue(user.id, 'email-verify', this.options.emailVerification.ttlSeconds);
      this.mailLink(user.email, token);
    } catch (error) {
      this.logger.error(`verification link not sent: ${(error as Error).message}`);
    }
  }

  /** The queue's work: one INSERT ... SELECT for any address, a mail when it found an unverified account. */
  private async sendLinkTo(email: string): Promise<void> {
    const issued = await this.oneTimeTokens.issueForEmail(email, 'email-verify', this.options.emailVerification.ttlSeconds, true);
    if (issued) this.mailLink(email, issued.token);
  }

  private mailLink(to: string, token: string): void {
    const ttl = this.options.emailVerification.ttlSeconds;
    const link = `${this.publicAddress.url}/verify-email?token=${token}`;
    const hours = Math.max(1, Math.round(ttl / 3600));
    const lifetime = `${hours} hour${hours === 1 ? '' : 's'}`;
    this.mail.send({
      to,
      subject: 'Confirm your email address',
      text: `Please confirm that this address is yours by opening:\n\n${link}\n\nThe link works once, for ${lifetime}. If you did not create an account, ignore this mail.\n`,
      html: `<p>Please confirm that this address is yours.</p><p><a href="${link}">Confirm my address</a></p><p>The link works once, for ${lifetime}. If you did not create an account, ignore this mail.</p>`,
    });
  }
}
