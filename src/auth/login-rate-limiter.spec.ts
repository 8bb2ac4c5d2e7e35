import type { AuthSwitchOptions } from '../config/auth-switch.options';
import type { RedisService } from '../redis/redis.service';
import { TooManyAttempts } from './limits';
import { LoginRateLimiter } from './login-rate-limiter';
import type { NewAuditEvent } from '../audit/audit-events';
import type { AuditService } from '../audit/audit.service';

/** Small limits, so that each is reached in a few calls; windows of one minute. */
const OPTIONS = {
  loginLimits: { maxFailuresPerAccount: 3, maxFailuresPerAddress: 5, windowSeconds: 60 },
  registerLimits: { maxPerAddress: 2, windowSeconds: 60 },
  passwordReset: { ttlSeconds: 900, maxPerAccount: 2, maxPerAddress: 4, windowSeconds: 60 },
  clientLimits: { maxFailuresPerAddress: 3, windowSeconds: 60 },
  anomalies: { stuffingAccounts: 4 },
} as unknown as AuthSwitchOptions;

async function limiterOnClock() {
  let now = 5_000;
  const events: NewAuditEvent[] = [];
  const audit = { recordLater: (event: NewAuditEvent) => void events.push(event) } as unknown as AuditService;
  const limiter = new LoginRateLimiter(OPTIONS, { enabled: false } as RedisService, audit, () => now);
  await limiter.onModuleInit();
  return { limiter, events, advance: (ms: number) => void (now += ms) };
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

  it('records a block once per key and window, naming the address only for address limits', async () => {
    const { limiter, events, advance } = await limiterOnClock();
    for (let i = 0; i < 8; i++) await limiter.takeLoginAttempt('ada@example.test', '198.51.100.7').catch(() => undefined);
    const blocks = events.filter((event) => event.type === 'limit.blocked');
    expect(blocks).toHaveLength(1);
    expect(blocks[0].details).toMatchObject({ limit: 'loginFailuresPerAccount' });
    expect(JSON.stringify(blocks)).not.toContain('ada@example.test');
    for (let i = 0; i < 8; i++) await limiter.takeLoginAttempt(`user${i}@example.test`, '198.51.100.7').catch(() => undefined);
    const addressBlocks = events.filter((event) => event.type === 'limit.blocked' && event.details?.limit === 'loginFailuresPerAddress');
    expect(addressBlocks).toHaveLength(1);
    expect(addressBlocks[0].origin?.ip).toBe('198.51.100.7');
    advance(61_000);
    await limiter.takeLoginAttempt('ada@example.test', '203.0.113.9');
    for (let i = 0; i < 4; i++) await limiter.takeLoginAttempt('ada@example.test', '203.0.113.9').catch(() => undefined);
    expect(events.filter((event) => event.type === 'limit.blocked')).toHaveLength(3);
  });

  it('refuses an address for the window once its failures named STUFFING_ACCOUNTS accounts, and says so once', async () => {
    const { limiter, advance } = await limiterOnClock();
    const reached: boolean[] = [];
    for (const account of ['a', 'b', 'a', 'c', 'd', 'e']) reached.push(await limiter.noteFailedLogin(`${account}@example.test`, '198.51.100.7'));
    expect(reached).toEqual([false, false, false, false, true, false]);
    await expect(limiter.takeLoginAttempt('z@example.test', '198.51.100.7')).rejects.toBeInstanceOf(TooManyAttempts);
    // Another address is not concerned; the refused one is let in again after the window.
    await limiter.takeLoginAttempt('z@example.test', '203.0.113.9');
    advance(61_000);
    await limiter.takeLoginAttempt('z@example.test', '198.51.100.7');
  });
});
