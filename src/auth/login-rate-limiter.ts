import { HttpException, HttpStatus, Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../common/store-unavailable.error';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { RedisService } from '../redis/redis.service';

/** A point taken from one counter, to be given back if the attempt turns out not to count. */
type Taken = { limiter: RateLimiterAbstract; key: string };

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

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {}

  async onModuleInit(): Promise<void> {
    const make = async (name: string, points: number, duration: number): Promise<RateLimiterAbstract> => {
      if (!this.redis.enabled) return new RateLimiterMemory({ keyPrefix: name, points, duration });
      return new RateLimiterRedis({
        storeClient: await this.redis.client(),
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
  }

  /**
   * Counts a login attempt against the account and the address before the password is checked.
   * Throws 429 (with Retry-After) once either limit is passed, 503 if the counters cannot be
   * reached. Call `forgiveLogin` when the attempt succeeds.
   */
  async takeLoginAttempt(account: string, address: string): Promise<void> {
    await this.take('Too many failed login attempts; try again later', [
      { limiter: this.byAccount, key: account },
      { limiter: this.byAddress, key: address },
    ]);
  }

  /** A successful login does not count: its points are given back. */
  async forgiveLogin(account: string, address: string): Promise<void> {
    await this.guard(() => Promise.all([this.byAccount.reward(account, 1), this.byAddress.reward(address, 1)]));
  }

  /** Counts a registration from this address; 429 beyond the limit. */
  async takeRegistration(address: string): Promise<void> {
    await this.take('Too many registrations from this address; try again later', [{ limiter: this.registrations, key: address }]);
  }

  private async take(refusal: string, counters: Taken[]): Promise<void> {
    const results = await Promise.allSettled(counters.map(({ limiter, key }) => limiter.consume(key, 1)));
    const refused = results.flatMap((result) => (result.status === 'rejected' && result.reason instanceof RateLimiterRes ? [result.reason] : []));
    const failed = results.find((result) => result.status === 'rejected' && !(result.reason instanceof RateLimiterRes));
    if (!failed && refused.length === 0) return;
    // The attempt is refused before it does anything: give back the points the other counters took.
    await Promise.allSettled(
      counters.filter((_, index) => results[index].status === 'fulfilled').map(({ limiter, key }) => limiter.reward(key, 1)),
    );
    // Without the counters we cannot tell a brute-force attack apart: refuse, do not guess.
    if (failed) throw new StoreUnavailableError('redis', (failed as PromiseRejectedResult).reason);
    const wait = Math.max(...refused.map((res) => res.msBeforeNext));
    throw new TooManyAttempts(refusal, Math.max(1, Math.ceil(wait / 1000)));
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
