import type { AuthSwitchOptions } from '../config/auth-switch.options';
import type { RedisService } from '../redis/redis.service';
import { TooManyAttempts } from './limits';
import { LoginRateLimiter } from './login-rate-limiter';

/** Small limits, so that each is reached in a few calls; windows of one minute. */
const OPTIONS = {
  loginLimits: { maxFailuresPerAccount: 3, maxFailuresPerAddress: 5, windowSeconds: 60 },
  registerLimits: { maxPerAddress: 2, windowSeconds: 60 },
  passwordReset: { ttlSeconds: 900, maxPerAccount: 2, maxPerAddress: 4, windowSeconds: 60 },
  clientLimits: { maxFailuresPerAddress: 3, windowSeconds: 60 },
} as unknown as AuthSwitchOptions;

async function limiterOnClock() {
  let now = 5_000;
  const limiter = new LoginRateLimiter(OPTIONS, { enabled: false } as RedisService, () => now);
  await limiter.onModuleInit();
  return { limiter, advance: (ms: number) => void (now += ms) };
}

/** How many calls in a row succeed before the first 429 (at most `max`). */
async function allowed(call: () => Promise<unknown>, max = 50): Promise<number> {
  for (let i = 0; i < max; i++) {
    try {
      await call();
    } catch (error) {
      if (error instanceof TooManyAttempts) return i;
      throw error;
    }
  }
  return max;
}

describe('LoginRateLimiter: every limit on an injected clock', () => {
  it.each<[string, (limiter: LoginRateLimiter, n: number) => Promise<unknown>, number]>([
    ['failed logins per account', (l, n) => l.takeLoginAttempt('ada@example.test', `10.0.0.${n}`), 3],
    ['failed logins per address', (l, n) => l.takeLoginAttempt(`user${n}@example.test`, '10.0.0.1'), 5],
    ['registrations per address', (l) => l.takeRegistration('10.0.0.1'), 2],
    ['reset requests per account', (l, n) => l.takeResetRequest(`10.0.0.${n}`, 'ada@example.test'), 2],
    ['reset requests per address', (l, n) => l.takeResetRequest('10.0.0.1', `user${n}@example.test`), 4],
    ['reset-token attempts per address', (l) => l.takeResetAttempt('10.0.0.1'), 4],
    ['verification-token attempts per address', (l) => l.takeTokenAttempt('10.0.0.1'), 4],
    ['verification mails per account', (l, n) => l.takeVerificationMail(`10.0.0.${n}`, 'user-1'), 2],
    ['verification mails per address', (l, n) => l.takeVerificationMail('10.0.0.1', `user-${n}`), 4],
    ['failed client authentications per address', (l) => l.takeClientAttempt('10.0.0.1'), 3],
  ])('%s: the limit, then 429 until the window has passed', async (_label, take, limit) => {
    const { limiter, advance } = await limiterOnClock();
    let n = 0;
    expect(await allowed(() => take(limiter, ++n))).toBe(limit);
    advance(59_000);
    await expect(take(limiter, ++n)).rejects.toMatchObject({ retryAfterSeconds: 1 });
    advance(1_000);
    expect(await allowed(() => take(limiter, ++n))).toBe(limit);
  });

  it('a parallel burst of logins gets exactly the limit through; successes are given back', async () => {
    const { limiter } = await limiterOnClock();
    const burst = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => limiter.takeLoginAttempt('ada@example.test', `10.0.1.${i}`)));
    const through = burst.filter((result) => result.status === 'fulfilled');
    expect(through).toHaveLength(3);
    // All three succeeded: their points come back, and the account has its whole budget again.
    for (const result of through)
      await limiter.forgiveLogin((result as PromiseFulfilledResult<Awaited<ReturnType<LoginRateLimiter['takeLoginAttempt']>>>).value);
    expect(await allowed(() => limiter.takeLoginAttempt('ada@example.test', '10.0.2.1'))).toBe(3);
  });

  it('one route never spends another route\'s budget (forgot password for "verify:<id>" leaves that user\'s resend budget alone)', async () => {
    const { limiter } = await limiterOnClock();
    expect(await allowed(() => limiter.takeResetRequest('10.0.0.1', 'verify:user-1'))).toBe(2);
    expect(await allowed(() => limiter.takeResetAttempt('10.0.0.1'))).toBe(4);
    expect(await allowed(() => limiter.takeVerificationMail('10.0.0.2', 'user-1'))).toBe(2);
    expect(await allowed(() => limiter.takeTokenAttempt('10.0.0.1'))).toBe(4);
    expect(await allowed(() => limiter.takeLoginAttempt('verify:user-1', '10.0.0.1'))).toBe(3);
    expect(await allowed(() => limiter.takeClientAttempt('10.0.0.1'))).toBe(3);
    expect(await allowed(() => limiter.takeRegistration('10.0.0.1'))).toBe(2);
  });

  it('counts client failures per address only: another address is never refused because of them', async () => {
    const { limiter } = await limiterOnClock();
    expect(await allowed(() => limiter.takeClientAttempt('203.0.113.66'))).toBe(3);
    await expect(limiter.takeClientAttempt('203.0.113.7')).resolves.toBeDefined();
  });
});
