import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { createHash } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { AuditOrigin, SYSTEM_ACTOR } from '../audit/audit-events';
import { AuditService } from '../audit/audit.service';
import { networkPrefix } from '../common/address-key';
import { deviceFamily } from '../common/device-family';
import { PublicAddress } from '../common/public-address';
import { MailService } from '../mail/mail.service';
import { RefreshTokenService } from '../tokens/refresh-token.service';
import { UsersService } from '../users/users.service';
import { LoginRateLimiter } from './login-rate-limiter';

/** A sign-in from a device the account had not used, as the mail describes it. */
export interface NewDevice {
  userId: string;
  at: number;
  ip: string | null;
  device: string;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The seeds' "monitor unusual token use": a sign-in from a new device, a refresh token shown
 * again (reuse), and failed logins against many accounts from one address (credential stuffing).
 * Each is recorded in the audit trail; the first two are also mailed to the account's owner,
 * after the change has committed, never on the answer's path.
 */
@Injectable()
export class UnusualUse implements OnModuleInit {
  private readonly logger = new Logger('UnusualUse');

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions,
    private readonly audit: AuditService,
    private readonly users: UsersService,
    private readonly refreshTokens: RefreshTokenService,
    private readonly limiter: LoginRateLimiter,
    private readonly mail: MailService,
    private readonly publicAddress: PublicAddress,
  ) {}

  onModuleInit(): void {
    this.refreshTokens.onReuse(({ userId, origin, at }) => void this.mailReuse(userId, origin, at));
  }

  /**
   * Inside a sign-in's transaction: notes the device (browser family and network prefix, kept
   * only as a digest) and, when the account had signed in before but never from it, records
   * `anomaly.new_device`. One conditional INSERT decides, so of two parallel sign-ins from one
   * new device only one reports it. Returns the new device to mail about, or null.
   */
  async noteSignIn(tx: EntityManager, userId: string, origin: AuditOrigin, at: number): Promise<NewDevice | null> {
    const device = deviceFamily(origin.userAgent);
    const network = networkPrefix(origin.ip ?? '');
    const fingerprint = createHash('sha256').update(`${device}\n${network}`).digest('hex').slice(0, 64);
    const driver = tx.connection.driver;
    const [hadDevices] = (await tx.query(
      ...driver.escapeQueryWithParameters('SELECT COUNT(*) AS n FROM known_devices WHERE user_id = :userId', { userId }, {}),
    )) as Array<{ n: number | string }>;
    const inserted = (await tx.query(
      ...driver.escapeQueryWithParameters(
        'INSERT INTO known_devices (user_id, fingerprint, first_seen_at, last_seen_at) VALUES (:userId, :fingerprint, :at, :at) ' +
          'ON CONFLICT (user_id, fingerprint) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at WHERE known_devices.last_seen_at < EXCLUDED.last_seen_at ' +
          'RETURNING first_seen_at',
        { userId, fingerprint, at },
        {},
      ),
    )) as Array<{ first_seen_at: number | string }>;
    const isNew = inserted.length > 0 && Number(inserted[0].first_seen_at) === at && Number(hadDevices.n) > 0;
    if (!isNew) return null;
    await this.audit.record(tx, { type: 'anomaly.new_device', actor: SYSTEM_ACTOR, userId, origin, details: { device, network } });
    return { userId, at, ip: origin.ip ?? null, device };
  }

  /** After the sign-in committed: tells the owner, with a link to where they can end it. */
  async mailNewDevice(found: NewDevice): Promise<void> {
    const user = await this.users.findById(found.userId);
    if (!user) return;
    const when = new Date(found.at).toUTCString();
    const where = found.ip ?? 'an unknown address';
    const account = `${this.publicAddress.url}/account`;
    this.mail.send({
      to: user.email,
      subject: 'New sign-in to your account',
      text:
        `Your account was signed in to from a device it had not used before:\n\n` +
        `  Time:    ${when}\n  Address: ${where}\n  Browser: ${found.device}\n\n` +
        `If this was you, there is nothing to do. If not, change your password and end that sign-in at:\n\n${account}\n`,
      html:
        `<p>Your account was signed in to from a device it had not used before:</p>` +
        `<ul><li>Time: ${escapeHtml(when)}</li><li>Address: ${escapeHtml(where)}</li><li>Browser: ${escapeHtml(found.device)}</li></ul>` +
        `<p>If this was you, there is nothing to do. If not, change your password and <a href="${account}">end that sign-in</a>.</p>`,
    });
  }

  /**
   * After a failed login: counts the account among those failed from this address; the failure
   * that reaches STUFFING_ACCOUNTS records `anomaly.credential_stuffing` (and from then on the
   * address is refused for the window, see LoginRateLimiter).
   */
  async noteFailedLogin(account: string, origin: AuditOrigin): Promise<void> {
    try {
      if (await this.limiter.noteFailedLogin(account, origin.ip ?? '')) {
        this.audit.recordLater({
          type: 'anomaly.credential_stuffing',
          actor: SYSTEM_ACTOR,
          origin,
          details: { accounts: this.options.anomalies.stuffingAccounts, windowSeconds: this.options.loginLimits.windowSeconds },
        });
      }
    } catch (error) {
      // The failure has been answered and counted by the login limits already.
      this.logger.warn(`a failed login was not counted for credential stuffing: ${(error as Error).message}`);
    }
  }

  private async mailReuse(userId: string, origin: AuditOrigin, at: number): Promise<void> {
    try {
      const user = await this.users.findById(userId);
      if (!user) return;
      const account = `${this.publicAddress.url}/account`;
      const when = new Date(at).toUTCString();
      this.mail.send({
        to: user.email,
        subject: 'A sign-in of yours was ended',
        text:
          `At ${when} a refresh token of one of your sign-ins was used a second time (from ${origin.ip ?? 'an unknown address'}), which happens when it was copied. ` +
          `That sign-in has been ended everywhere. If you did not expect this, change your password:\n\n${account}\n`,
        html:
          `<p>At ${escapeHtml(when)} a refresh token of one of your sign-ins was used a second time, which happens when it was copied.</p>` +
          `<p>That sign-in has been ended everywhere. If you did not expect this, <a href="${account}">change your password</a>.</p>`,
      });
    } catch (error) {
      this.logger.warn(`the reuse mail was not sent: ${(error as Error).message}`);
    }
  }
}
