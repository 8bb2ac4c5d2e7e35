import { OneTimeTokenService } from '../src/tokens/one-time-token.service';
import type { StorageSetup } from './support/environments';
import { startApp, TestApp } from './support/test-app';

// One-time tokens (password reset, email verification) on both databases: single use even
// when used in parallel, bound to their purpose, expiring.
describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('one-time tokens on %s', (setup) => {
  let t: TestApp;
  let tokens: OneTimeTokenService;
  beforeAll(async () => {
    t = await startApp(setup);
    tokens = t.app.get(OneTimeTokenService);
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  it('spends a token once, for its user, even when 20 uses race', async () => {
    const user = await t.createUser();
    for (let trial = 0; trial < 5; trial++) {
      const token = await tokens.issue(user.id, 'password-reset', 900);
      const results = await Promise.all(Array.from({ length: 20 }, () => tokens.spend(token, 'password-reset')));
      expect(results.filter((result) => result === user.id)).toHaveLength(1);
      expect(results.filter((result) => result === null)).toHaveLength(19);
    }
  });

  it('refuses another purpose, an unknown token, an expired one and a revoked one', async () => {
    const user = await t.createUser();
    const reset = await tokens.issue(user.id, 'password-reset', 900);
    expect(await tokens.spend(reset, 'email-verify')).toBeNull();
    expect(await tokens.spend(`${reset}x`, 'password-reset')).toBeNull();
    expect(await tokens.spend('', 'password-reset')).toBeNull();

    const expiring = await tokens.issue(user.id, 'email-verify', 60);
    const later = Date.now() + 61_000;
    jest.spyOn(Date, 'now').mockReturnValue(later);
    expect(await tokens.spend(expiring, 'email-verify')).toBeNull();
    jest.restoreAllMocks();

    const revoked = await tokens.issue(user.id, 'email-verify', 900);
    await tokens.revokeAll(user.id, 'email-verify');
    expect(await tokens.spend(revoked, 'email-verify')).toBeNull();
    // The reset token of the other purpose was not touched by that.
    expect(await tokens.spend(reset, 'password-reset')).toBe(user.id);
  });
});
