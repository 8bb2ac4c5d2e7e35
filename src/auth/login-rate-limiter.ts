import { HttpException, HttpStatus, Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../common/store-unavailable.error';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { RedisClient, RedisService } from '../redis/redis.service';

type Counter = { limiter: RateLimiterAbstract; key: string };
/** A point taken from one counter, and when (monotonic ms) the window it was taken in ends. */
type Taken = Counter & { windowEndsAt: number };

/** The points one login attempt took; given back if the attempt succeeds. */
export interface LoginAttempt {
  readonly taken: readonly Taken[];
}

/**
 * Gives one point back, only to the window it was taken from and never below zero: once that
 * window has ended, the key is gone or belongs to a newer window (whose TTL is then longer
 * than what was left of ours), and nothing is given back.
 */
const GIVE_BACK_SCRIPT = `
local value = tonumber(redis.call('GET', KEYS[1]) or '0')
if value <= 0 then return 0 end
if redis.call('PTTL', KEYS[1]) > tonumber(ARGV[1]) then return 0 end
redis.call('DECR', KEYS[1])
return 1`;
/** Slack for the round trip between taking the point and giving it back. */
const GIVE_BACK_SLACK_MS = 1000;

/**
 * Attempt limits: failed logins per account and per client address, and registrations per
 * address, each within a fixed window. With Redis the counters are shared by all instances;
 * without it they live in this process.
 *
 * Every attempt takes its point before any work is done (one atomic increment that also says
 * whether the limit is passed), and a login that succeeds gives its points back. Reading the
 * counter first and counting the failure after the password check would let a burst of
 * parallel attempts all pass the check before any of them is counted.
 */
@Injectable()
export class LoginRateLimiter implements OnModuleInit {
  private byAccount!: RateLimiterAbstract;
  private byAddress!: RateLimiterAbstract;
  private registrations!: RateLimiterAbstract;
  private resetsByAccount!: RateLimiterAbstract;
  private resetsByAddress!: RateLimiterAbstract;
  private clientsById!: RateLimiterAbstract;
  private clientsByAddress!: RateLimiterAbstract;
  private redisClient: RedisClient | null = null;

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly config: AuthSwitchOptions,
    private readonly redis: RedisService,
  ) {}

  async onModuleInit(): Promise<void> {
    const make = async (name: string, points: number, duration: number): Promise<RateLimiterAbstract> => {
      if (!this.redis.enabled) return new RateLimiterMemory({ keyPrefix: name, points, duration });
      this.redisClient = await this.redis.client();
      return new RateLimiterRedis({
        storeClient: this.redisClient,
        useRedisPackage: true,
        keyPrefix: `${this.redis.keyPrefix}login-fail:${name}`,
        points,
        duration,
      });
    };
    const { maxFailuresPerAccount, maxFailuresPerAddress, windowSeconds } = this.config.loginLimits;
    this.byAccount = await make('account', maxFailuresPerAccount, windowSeconds);
    this.byAddress = await make('address', maxFailuresPerAddress, windowSeconds);
    const { maxPerAddress, windowSeconds: registerWindow } = this.config.registerLimits;
    this.registrations = await make('register', maxPerAddress, registerWindow);
    const reset = this.config.passwordReset;
    this.resetsByAccount = await make('reset-account', reset.maxPerAccount, reset.windowSeconds);
    this.resetsByAddress = await make('reset-address', reset.maxPerAddress, reset.windowSeconds);
    const clients = this.config.clientLimits;
    this.clientsById = await make('client', clients.maxFailuresPerClient, clients.windowSeconds);
    this.clientsByAddress = await make('client-address', clients.maxFailuresPerAddress, clients.windowSeconds);
  }

  /**
   * Counts a password-reset request (per account and per address) or, without an account, a
   * reset-token attempt (per address): mail floods and token guessing both end in 429.
   */
  async takeResetAttempt(address: string, account?: string): Promise<void> {
    await this.take('Too many password reset attempts; try again later', [
      ...(account ? [{ limiter: this.resetsByAccount, key: account }] : []),
      { limiter: this.resetsByAddress, key: address },
    ]);
  }

  /**
   * Counts an attempt to spend a mailed token (email verification) from this address, on the
   * same per-address budget as reset tokens: guessing tokens of any purpose ends in 429.
   */
  async takeTokenAttempt(address: string): Promise<void> {
    await this.take('Too many attempts from this address; try again later', [{ limiter: this.resetsByAddress, key: address }]);
  }

  /** Counts a request for another verification mail, per account and per address. */
  async takeVerificationMail(address: string, userId: string): Promise<void> {
    await this.take('Too many verification mails requested; try again later', [
      { limiter: this.resetsByAccount, key: `verify:${userId}` },
      { limiter: this.resetsByAddress, key: address },
    ]);
  }

  /**
   * Counts a login attempt against the account and the address before the password is checked.
   * Throws 429 (with Retry-After) once either limit is passed, 503 if the counters cannot be
   * reached. Give the attempt to `forgiveLogin` when it succeeds.
   */
  async takeLoginAttempt(account: string, address: string): Promise<LoginAttempt> {
    const taken = await this.take('Too many failed login attempts; try again later', [
      { limiter: this.byAccount, key: account },
      { limiter: this.byAddress, key: address },
    ]);
    return { taken };
  }

  /**
   * Counts a client authentication (POST /oauth/token) against the claimed client id and the
   * address, before anything is checked; `forgiveLogin` gives it back when it succeeds, so only
   * failures count.
   */
  async takeClientAttempt(clientId: string, address: string): Promise<LoginAttempt> {
    const taken = await this.take('Too many failed client authentications; try again later', [
      { limiter: this.clientsById, key: clientId },
      { limiter: this.clientsByAddress, key: address },
    ]);
    return { taken };
  }

  /** A successful login does not count: its points are given back. */
  async forgiveLogin(attempt: LoginAttempt): Promise<void> {
    await this.guard(() => this.giveBack(attempt.taken));
  }

  /** Counts a registration from this address; 429 beyond the limit. */
  async takeRegistration(address: string): Promise<void> {
    await this.take('Too many registrations from this address; try again later', [{ limiter: this.registrations, key: address }]);
  }

  private async take(refusal: string, counters: Counter[]): Promise<Taken[]> {
    const results = await Promise.allSettled(counters.map(({ limiter, key }) => limiter.consume(key, 1)));
    const now = performance.now();
    const taken: Taken[] = [];
    results.forEach((result, index) => {
      if (result.status === 'fulfilled') taken.push({ ...counters[index], windowEndsAt: now + result.value.msBeforeNext });
    });
    const refused = results.flatMap((result) => (result.status === 'rejected' && result.reason instanceof RateLimiterRes ? [result.reason] : []));
    const failed = results.find((result) => result.status === 'rejected' && !(result.reason instanceof RateLimiterRes));
    if (!failed && refused.length === 0) return taken;
    // The attempt is refused before it does anything: give back the points the other counters took.
    await this.giveBack(taken).catch(() => undefined);
    // Without the counters we cannot tell a brute-force attack apart: refuse, do not guess.
    if (failed) throw new StoreUnavailableError('redis', (failed as PromiseRejectedResult).reason);
    const wait = Math.max(...refused.map((res) => res.msBeforeNext));
    throw new TooManyAttempts(refusal, Math.max(1, Math.ceil(wait / 1000)));
  }

  /**
   * Gives points back within the window they were taken in, never into the next one: a refund
   * that landed after the window rolled over would start the new window below zero, and an
   * attacker could bank guesses that way.
   */
  private async giveBack(taken: readonly Taken[]): Promise<void> {
    await Promise.all(
      taken.map(async ({ limiter, key, windowEndsAt }) => {
        const left = windowEndsAt - performance.now();
        if (!this.redisClient) {
          // In memory the check and the decrement run in one synchronous step.
          if (left > 5) await limiter.reward(key, 1);
          return;
        }
        await this.redisClient.eval(GIVE_BACK_SCRIPT, { keys: [limiter.getKey(key)], arguments: [String(Math.max(0, Math.round(left)) + GIVE_BACK_SLACK_MS)] });
      }),
    );
  }

  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw new StoreUnavailableError('redis', error);
    }
  }
}

export class TooManyAttempts extends HttpException {
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message, HttpStatus.TOO_MANY_REQUESTS);
  }
}
