import { judgeOpenedReplay, judgeSpentPresentation, SpentPresentation } from './refresh-replay';

const spentAt = 1_700_000_000_000;
const presentation = (change: Partial<SpentPresentation> = {}): SpentPresentation => ({
  graceSeconds: 10,
  now: spentAt + 2_000,
  usedAt: spentAt,
  expiresAt: spentAt + 3600_000,
  familyGroup: 'api',
  group: 'api',
  ...change,
});

describe('the decision on a refresh token presented again', () => {
  it('is a reuse without a grace, however soon', () => {
    expect(judgeSpentPresentation(presentation({ graceSeconds: 0, now: spentAt }))).toBe('reuse');
  });

  it('waits for the pair within the grace, up to its last millisecond', () => {
    expect(judgeSpentPresentation(presentation())).toBe('wait');
    expect(judgeSpentPresentation(presentation({ now: spentAt + 10_000 }))).toBe('wait');
    // A family from before groups were bound is judged after the wait.
    expect(judgeSpentPresentation(presentation({ familyGroup: null }))).toBe('wait');
  });

  it('is a reuse outside the grace, in another group, or for a token spent after it expired', () => {
    expect(judgeSpentPresentation(presentation({ now: spentAt + 10_001 }))).toBe('reuse');
    expect(judgeSpentPresentation(presentation({ group: 'web' }))).toBe('reuse');
    expect(judgeSpentPresentation(presentation({ expiresAt: spentAt }))).toBe('reuse');
  });

  it('replays only the newest spent token of a live family', () => {
    const newest = { successorInFamily: true, successorSpent: false, familyAlive: true };
    expect(judgeOpenedReplay(newest)).toBe('replay');
    // An older token: its successor has been spent already.
    expect(judgeOpenedReplay({ ...newest, successorSpent: true })).toBe('reuse');
    // A dead family (revoked, or cut off by logout-all).
    expect(judgeOpenedReplay({ ...newest, familyAlive: false })).toBe('reuse');
    // A pair that names no token of this family.
    expect(judgeOpenedReplay({ ...newest, successorInFamily: false })).toBe('reuse');
  });
});
