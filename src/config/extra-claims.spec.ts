import { checkedExtraClaims, ExtraClaimsError, MAX_EXTRA_CLAIMS_BYTES } from './extra-claims';

describe('checkedExtraClaims', () => {
  it('copies and freezes a plain JSON object', () => {
    const given = { plan: 'pro', tenant: { id: 't1' } };
    const claims = checkedExtraClaims(given);
    expect(claims).toEqual(given);
    expect(claims).not.toBe(given);
    expect(Object.isFrozen(claims)).toBe(true);
    expect(Object.isFrozen(claims.tenant)).toBe(true);
    expect(Object.isFrozen(given)).toBe(false);
  });

  it('refuses what is not a plain object', () => {
    for (const value of [null, 'pro', 42, ['pro']]) expect(() => checkedExtraClaims(value)).toThrow(ExtraClaimsError);
  });

  it('refuses more JSON than fits in every token', () => {
    expect(() => checkedExtraClaims({ blob: 'x'.repeat(MAX_EXTRA_CLAIMS_BYTES) })).toThrow(/at most 1024/);
    expect(checkedExtraClaims({ blob: 'x'.repeat(MAX_EXTRA_CLAIMS_BYTES - 20) })).toBeDefined();
  });
});
