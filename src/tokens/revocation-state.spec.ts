import { RevocationEvent, RevocationState } from './revocation-state';

/** A clock the test moves by hand: wall and monotonic time advance together. */
class FakeClock {
  wall = 1_700_000_000_000;
  mono = 1_000;
  now = () => this.wall;
  monotonic = () => this.mono;
  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }
}

const options = { maxStalenessMs: 1500, holePatienceMs: 60_000, maxHoles: 10, reloadOverlap: 3 };

function setup(): { clock: FakeClock; state: RevocationState } {
  const clock = new FakeClock();
  const state = new RevocationState(options, clock);
  state.fullLoadSucceeded(clock.monotonic(), 0);
  return { clock, state };
}

const event = (seq: number, rest: Omit<RevocationEvent, 'seq' | 'version'> & { version?: number | null }): RevocationEvent => ({ seq, version: null, ...rest });

describe('RevocationState', () => {
  it('refuses a revoked jti until its entry expires, then forgets it', () => {
    const { clock, state } = setup();
    state.apply(event(1, { kind: 'token', subject: 'jti-1', expiresAt: clock.wall + 10_000 }));
    const stamp = { userId: 'u', version: 0, jti: 'jti-1' };
    expect(state.isRevoked(stamp)).toBe(true);
    expect(state.isRevoked({ ...stamp, jti: 'jti-2' })).toBe(false);

    clock.advance(9_999);
    state.prune();
    expect(state.isRevoked(stamp)).toBe(true);

    clock.advance(1);
    state.prune();
    expect(state.isRevoked(stamp)).toBe(false);
    expect(state.size).toBe(0);
  });

  it('refuses every credential of a revoked family or client, and reports a confirmed address', () => {
    const { clock, state } = setup();
    state.apply(event(1, { kind: 'family', subject: 'fam-1', expiresAt: clock.wall + 1000 }));
    state.apply(event(2, { kind: 'client', subject: 'client-1', expiresAt: clock.wall + 1000 }));
    state.apply(event(3, { kind: 'verified', subject: 'u', expiresAt: clock.wall + 1000 }));
    expect(state.isRevoked({ userId: 'u', version: 0, jti: 'any', familyId: 'fam-1' })).toBe(true);
    expect(state.isFamilyRevoked('fam-1')).toBe(true);
    expect(state.isRevoked({ userId: 'c', version: 0, clientId: 'client-1' })).toBe(true);
    expect(state.hasVerifiedEmail('u')).toBe(true);
    clock.advance(1000);
    state.prune();
    expect(state.isFamilyRevoked('fam-1')).toBe(false);
    expect(state.hasVerifiedEmail('u')).toBe(false);
  });

  it('cuts off a user below the newest version, whatever order the events come in', () => {
    const { state } = setup();
    state.apply(event(2, { kind: 'user', subject: 'u', version: 3, expiresAt: null }));
    state.apply(event(1, { kind: 'user', subject: 'u', version: 2, expiresAt: null }));
    expect(state.isRevoked({ userId: 'u', version: 2 })).toBe(true);
    expect(state.isRevoked({ userId: 'u', version: 3 })).toBe(false);
    expect(state.isRevoked({ userId: 'other', version: 0 })).toBe(false);
    state.raiseVersion('u', 1); // versions never go down
    expect(state.isRevoked({ userId: 'u', version: 2 })).toBe(true);
  });

  it('turns the staleness gate on once the last read began too long ago, and off after a read', () => {
    const { clock, state } = setup();
    expect(state.unavailability(null)).toBeNull();
    clock.advance(1500);
    expect(state.unavailability(null)).toBeNull();
    const started = clock.monotonic();
    clock.advance(1);
    expect(state.unavailability(null)).toBe('stale');
    // A read that began before the gate closed but finished after it counts from its start.
    state.readSucceeded(started);
    expect(state.unavailability(null)).toBeNull();
    clock.advance(1500);
    expect(state.unavailability(null)).toBe('stale');
    // A read that failed moves nothing; a later success reopens.
    state.readSucceeded(clock.monotonic());
    expect(state.unavailability(null)).toBeNull();
  });

  it('with a broadcast, vouches only while subscribed and read since subscribing', () => {
    const { clock, state } = setup();
    clock.advance(10);
    state.subscribed();
    clock.advance(10);
    expect(state.unavailability({ ready: true })).toBe('not-read-since-subscribing');
    const olderRead = clock.monotonic() - 15; // a read that began before the subscription
    state.readSucceeded(olderRead);
    expect(state.unavailability({ ready: true })).toBe('not-read-since-subscribing');
    state.readSucceeded(clock.monotonic());
    expect(state.unavailability({ ready: true })).toBeNull();
    expect(state.unavailability({ ready: false })).toBe('not-subscribed');
    state.subscriptionLost();
    expect(state.unavailability({ ready: true })).toBe('not-subscribed');
  });

  it('tracks skipped log positions until read or given up, and reloads after too many', () => {
    const { clock, state } = setup();
    state.apply(event(1, { kind: 'token', subject: 'a', expiresAt: clock.wall + 1000 }));
    state.apply(event(4, { kind: 'token', subject: 'b', expiresAt: clock.wall + 1000 }));
    expect(state.position).toEqual({ lastSeq: 4, holes: [2, 3] });
    state.apply(event(2, { kind: 'token', subject: 'c', expiresAt: clock.wall + 1000 }));
    expect(state.readPosition(clock.monotonic())).toEqual({ after: 4, holes: [3] });
    clock.advance(60_001);
    expect(state.readPosition(clock.monotonic())).toEqual({ after: 4, holes: [] });

    expect(state.needsFullReload(clock.monotonic(), 3600_000)).toBe(false);
    state.apply(event(100, { kind: 'token', subject: 'd', expiresAt: clock.wall + 1000 }));
    expect(state.needsFullReload(clock.monotonic(), 3600_000)).toBe(true);
    state.fullLoadSucceeded(clock.monotonic(), 100);
    expect(state.position).toEqual({ lastSeq: 97, holes: [] });
    expect(state.needsFullReload(clock.monotonic(), 3600_000)).toBe(false);
  });
});
