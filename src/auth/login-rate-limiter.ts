import { HttpException, HttpStatus, Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../common/store-unavailable.error';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { RedisService } from '../redis/redis.service';

/**
 * Counts failed logins per account and per client address within a fixed window. Once either
 * limit is reached, every attempt for that account or from that address is refused with 429
 * until the window ends, whatever the password. Successful logins are not counted.
 * With Redis the counters are shared by all instances; without it they live in this process.
 */
@Injectable()
export class LoginRateLimiter implements OnModuleInit {
  private byAccount!: RateLimiterAbstract;
  private byAddress!: RateLimiterAbstract;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {}

  async onModuleInit(): Promise<void> {
    const { maxFailuresPerAccount, maxFailuresPerAddress, windowSeconds } = this.config.loginLimits;
    const make = async (name: string, points: number): Promise<RateLimiterAbstract> => {
      if (!this.redis.enabled) return new RateLimiterMemory({ keyPrefix: name, points, duration: windowSeconds });
      return new RateLimiterRedis({
        storeClient: await this.redis.client(),
        useRedisPackage: true,
        keyPrefix: `${this.redis.keyPrefix}login-fail:${name}`,
        points,
        duration: windowSeconds,
      });
    };
    this.byAccount = await make('account', maxFailuresPerAccount);
    this.byAddress = await make('address', maxFailuresPerAddress);
  }

  /** Throws 429 (with Retry-After) while the account or the address is locked out. */
  async assertAllowed(account: string, address: string): Promise<void> {
    const [accountState, addressState] = await this.guard(() =>
      Promise.all([this.byAccount.get(account), this.byAddress.get(address)]),
    );
    const { maxFailuresPerAccount, maxFailuresPerAddress } = this.config.loginLimits;
    const waits: number[] = [];
    if (accountState && accountState.consumedPoints >= maxFailuresPerAccount) waits.push(accountState.msBeforeNext);
    if (addressState && addressState.consumedPoints >= maxFailuresPerAddress) waits.push(addressState.msBeforeNext);
    if (waits.length > 0) throw new TooManyAttempts(Math.max(1, Math.ceil(Math.max(...waits) / 1000)));
  }

  async recordFailure(account: string, address: string): Promise<void> {
    await this.guard(() => Promise.all([this.byAccount.penalty(account, 1), this.byAddress.penalty(address, 1)]));
  }

  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      // Without the counters we cannot tell a brute-force attack apart: refuse, do not guess.
      throw new StoreUnavailableError('redis', error);
    }
  }
}

export class TooManyAttempts extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super('Too many failed login attempts; try again later', HttpStatus.TOO_MANY_REQUESTS);
  }
}
