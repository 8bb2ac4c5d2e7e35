import { StoreUnavailableError } from '../common/store-unavailable.error';
import { Inject, Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { RedisService } from '../redis/redis.service';
import { MetricsService } from '../metrics/metrics.service';
import { Clock, giveBackAll, Limit, limitFactory, LimitStore, MemoryLimitStore, RedisLimitStore, TakenPoint, takeEach, TooManyAttempts } from './limits';
import { addressKey } from '../common/address-key';
import { createHash } from 'node:crypto';
import { SYSTEM_ACTOR } from '../audit/audit-events';
import { AuditService } from '../audit/audit.service';

/** The distinct accounts that failed logins from one address counted under this namespace (credential stuffing). */
const STUFFING = 'stuffingAccountsPerAddress';
/** How many (limit, key) windows remember that their block was recorded, so a flood records it once. */
const MAX_REMEMBERED_BLOCKS = 10_000;
const LOGIN_REFUSAL = 'Too many failed login attempts; try again later';

export { TooManyAttempts };

/** The points one attempt took; given back if the attempt succeeds. */
export interface LoginAttempt {
  readonly taken: readonly TakenPoint[];
}

/** Overrides the clock the limits measure their windows on (tests); monotonic milliseconds. */
export const LIMITS_CLOCK = Symbol('LIMITS_CLOCK');

/** Every limit by name. Each counts in its own namespace: one route never spends another's budget. */
export type LimitName =
  | 'loginFailuresPerAccount'
  | 'loginFailuresPerAddress'
  | 'registrationsPerAddress'
  | 'passwordResetRequestsPerAccount'
  | 'passwordResetRequestsPerAddress'
  | 'passwordResetTokensPerAddress'
  | 'emailVerifyTokensPerAddress'
  | 'verificationMailsPerAccount'
  | 'verificationMailsPerAddress'
  | 'clientFailuresPerAddress';

/**
 * Attempt limits (see ./limits.ts): failed logins (and wrong current passwords) per account and
 * per address, registrations, password-reset requests and token attempts, verification mails,
 * and failed client authentications per address. With Redis the counters are shared by all
 * instances; without it they live in this process, in bounded maps.
 *
 * Where an attempt counts against an address and a name it chose (an account), the address is
 * counted first, so a request refused by its address creates no counter for the name.
 */
@Injectable()
export class LoginRateLimiter implements OnModuleInit {
  private store!: LimitStore;
  private limitsByName!: Readonly<Record<LimitName, Limit>>;
  private readonly now: Clock;

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly config: AuthSwitchOptions,
    private readonly redis: RedisService,
    private readonly audit: AuditService,
    @Optional() @Inject(LIMITS_CLOCK) now?: Clock,
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.now = now ?? (() => performance.now());
  }

  async onModuleInit(): Promise<void> {
    this.store = this.redis.enabled ? new RedisLimitStore(await this.redis.client(), this.redis.keyPrefix, this.now) : new MemoryLimitStore(this.now);
    const limit = limitFactory(this.store, this.now, (blocked, key, windowEndsAt) => {
      this.metrics?.limitBlocked(blocked.name);
      this.recordBlock(blocked.name, blocked.rule.keyOf === addressKey, blocked.rule.windowSeconds, key, windowEndsAt);
    });
    const login = this.config.loginLimits;
    const reset = this.config.passwordReset;
    const clients = this.config.clientLimits;
    this.limitsByName = {
      loginFailuresPerAccount: limit('loginFailuresPerAccount', { points: login.maxFailuresPerAccount, windowSeconds: login.windowSeconds }),
      loginFailuresPerAddress: limit('loginFailuresPerAddress', { keyOf: addressKey, points: login.maxFailuresPerAddress, windowSeconds: login.windowSeconds }),
      registrationsPerAddress: limit('registrationsPerAddress', {
        keyOf: addressKey,
        points: this.config.registerLimits.maxPerAddress,
        windowSeconds: this.config.registerLimits.windowSeconds,
      }),
      passwordResetRequestsPerAccount: limit('passwordResetRequestsPerAccount', { points: reset.maxPerAccount, windowSeconds: reset.windowSeconds }),
      passwordResetRequestsPerAddress: limit('passwordResetRequestsPerAddress', {
        keyOf: addressKey,
        points: reset.maxPerAddress,
        windowSeconds: reset.windowSeconds,
      }),
      passwordResetTokensPerAddress: limit('passwordResetTokensPerAddress', {
        keyOf: addressKey,
        points: reset.maxPerAddress,
        windowSeconds: reset.windowSeconds,
      }),
      emailVerifyTokensPerAddress: limit('emailVerifyTokensPerAddress', { keyOf: addressKey, points: reset.maxPerAddress, windowSeconds: reset.windowSeconds }),
      verificationMailsPerAccount: limit('verificationMailsPerAccount', { points: reset.maxPerAccount, windowSeconds: reset.windowSeconds }),
      verificationMailsPerAddress: limit('verificationMailsPerAddress', { keyOf: addressKey, points: reset.maxPerAddress, windowSeconds: reset.windowSeconds }),
      clientFailuresPerAddress: limit('clientFailuresPerAddress', {
        keyOf: addressKey,
        points: clients.maxFailuresPerAddress,
        windowSeconds: clients.windowSeconds,
      }),
    };
  }

  private readonly recordedBlocks = new Map<string, number>();

  /**
   * `limit.blocked`, once per key and window (a flood of refusals is one event). Address limits
   * name the address; account limits are keyed by email, which events never hold, so they don't.
   */
  private recordBlock(name: string, perAddress: boolean, windowSeconds: number, key: string, windowEndsAt: number): void {
    const id = `${name}\u0000${key}`;
    // Redis reports a window's end as now + its TTL, a few ms apart from one call to the next.
    const recorded = this.recordedBlocks.get(id);
    if (recorded !== undefined && Math.abs(recorded - windowEndsAt) < 1000) return;
    this.recordedBlocks.delete(id);
    this.recordedBlocks.set(id, windowEndsAt);
    if (this.recordedBlocks.size > MAX_REMEMBERED_BLOCKS) this.recordedBlocks.delete(this.recordedBlocks.keys().next().value!);
    this.audit.recordLater({
      type: 'limit.blocked',
      actor: SYSTEM_ACTOR,
      origin: { ip: perAddress ? key : null },
      details: { limit: name, windowSeconds },
    });
  }

  /** The named limits, for hosts that count their own routes and for tests. */
  get limits(): Readonly<Record<LimitName, Limit>> {
    return this.limitsByName;
  }

  /** A password-reset request (forgot), per address and per account: mail floods end in 429. */
  async takeResetRequest(address: string, account: string): Promise<void> {
    const { passwordResetRequestsPerAddress, passwordResetRequestsPerAccount } = this.limitsByName;
    await takeEach('Too many password reset attempts; try again later', [
      [passwordResetRequestsPerAddress, address],
      [passwordResetRequestsPerAccount, account],
    ]);
  }

  /** An attempt to spend a reset token, per address: token guessing ends in 429. */
  async takeResetAttempt(address: string): Promise<void> {
    await takeEach('Too many password reset attempts; try again later', [[this.limitsByName.passwordResetTokensPerAddress, address]]);
  }

  /** An attempt to spend a mailed verification token from this address. */
  async takeTokenAttempt(address: string): Promise<void> {
    await takeEach('Too many attempts from this address; try again later', [[this.limitsByName.emailVerifyTokensPerAddress, address]]);
  }

  /** A request for another verification mail, per address and per account. */
  async takeVerificationMail(address: string, userId: string): Promise<void> {
    const { verificationMailsPerAddress, verificationMailsPerAccount } = this.limitsByName;
    await takeEach('Too many verification mails requested; try again later', [
      [verificationMailsPerAddress, address],
      [verificationMailsPerAccount, userId],
    ]);
  }

  /**
   * Counts a login attempt (or a current password checked at a password change) against the
   * account and the address before the password is checked. Throws 429 (with Retry-After) once
   * either limit is passed, 503 if the counters cannot be reached. Give the attempt to
   * `forgiveLogin` when it succeeds.
   */
  async takeLoginAttempt(account: string, address: string): Promise<LoginAttempt> {
    await this.refuseStuffingAddress(address);
    const { loginFailuresPerAddress, loginFailuresPerAccount } = this.limitsByName;
    const taken = await takeEach(LOGIN_REFUSAL, [
      [loginFailuresPerAddress, address],
      [loginFailuresPerAccount, account],
    ]);
    return { taken };
  }

  /**
   * Counts a client authentication (POST /oauth/token) against the address, before anything is
   * checked; `forgiveLogin` gives it back when it succeeds, so only failures count. Never per
   * client: anyone knows a client's id, and failures from elsewhere must not lock it out.
   */
  async takeClientAttempt(address: string): Promise<LoginAttempt> {
    const taken = await takeEach('Too many failed client authentications; try again later', [[this.limitsByName.clientFailuresPerAddress, address]]);
    return { taken };
  }

  /**
   * Credential stuffing: an address whose failed logins named STUFFING_ACCOUNTS different
   * accounts within the login window is refused (429) for the rest of that window, whatever
   * account it tries next, even one whose password it has right.
   */
  private async refuseStuffingAddress(address: string): Promise<void> {
    let seen: { count: number; windowEndsAt: number };
    try {
      seen = await this.store.countMembers(STUFFING, addressKey(address));
    } catch (error) {
      throw new StoreUnavailableError('redis', error);
    }
    if (seen.count >= this.config.anomalies.stuffingAccounts) {
      // A refusal like any limit's: counted, and recorded once per address and window.
      this.metrics?.limitBlocked(STUFFING);
      this.recordBlock(STUFFING, true, this.config.loginLimits.windowSeconds, addressKey(address), seen.windowEndsAt);
      throw new TooManyAttempts(LOGIN_REFUSAL, Math.max(1, Math.ceil((seen.windowEndsAt - this.now()) / 1000)));
    }
  }

  /**
   * Notes a failed login of `account` from `address`. True exactly once per window: when this
   * failure made the address reach STUFFING_ACCOUNTS distinct accounts. Accounts are held as
   * digests (no email in Redis), at most STUFFING_ACCOUNTS per address.
   */
  async noteFailedLogin(account: string, address: string): Promise<boolean> {
    const threshold = this.config.anomalies.stuffingAccounts;
    const member = createHash('sha256').update(account).digest('base64url').slice(0, 22);
    const result = await this.store.addMember(STUFFING, addressKey(address), member, this.config.loginLimits.windowSeconds * 1000, threshold);
    return result.added && result.count === threshold;
  }

  /** A successful attempt does not count: its points are given back. */
  async forgiveLogin(attempt: LoginAttempt): Promise<void> {
    await giveBackAll(attempt.taken);
  }

  /**
   * Clears the failed logins counted against the account (`account`: its normalized email), so
   * that it may sign in again at once; the per-address counters stay (they protect other accounts).
   */
  async clearAccount(account: string): Promise<void> {
    await this.limitsByName.loginFailuresPerAccount.reset(account);
  }

  /** Counts a registration from this address; 429 beyond the limit. */
  async takeRegistration(address: string): Promise<void> {
    await takeEach('Too many registrations from this address; try again later', [[this.limitsByName.registrationsPerAddress, address]]);
  }
}
