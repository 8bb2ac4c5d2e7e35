import { StoreUnavailableError } from '../common/store-unavailable.error';
import { giveBackAll, Limit, limitFactory, LimitStore, MemoryLimitStore, takeEach, TooManyAttempts } from './limits';

/** A clock the test moves by hand: no real waiting anywhere. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

function setup(maxKeys?: number) {
  const clock = manualClock();
  const store = new MemoryLimitStore(clock.now, maxKeys);
  const limit = limitFactory(store, clock.now);
  return { clock, store, limit };
}

/** The outcome of a take: 'ok', or the Retry-After seconds of a refusal. */
async function outcome(limit: Limit, key: string): Promise<'ok' | number> {
  try {
    await limit.take(key, 'refused');
    return 'ok';
  } catch (error) {
    if (error instanceof TooManyAttempts) return error.retryAfterSeconds;
    throw error;
  }
}

describe('limits (memory store, injected clock)', () => {
  it('refuses once the window holds its points, with the seconds left, and opens a new window when it ends', async () => {
    const { clock, limit } = setup();
    const login = limit('login', { points: 3, windowSeconds: 60 });
    for (let i = 0; i < 3; i++) expect(await outcome(login, 'ada')).toBe('ok');
    expect(await outcome(login, 'ada')).toBe(60);
    clock.advance(59_500);
    expect(await outcome(login, 'ada')).toBe(1);
    clock.advance(500);
    expect(await outcome(login, 'ada')).toBe('ok');
    expect(await outcome(login, 'ada')).toBe('ok');
  });

  it('counts before the work: of a parallel burst, exactly the limit gets through', async () => {
    const { limit } = setup();
    const login = limit('login', { points: 3, windowSeconds: 60 });
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => login.take('ada', 'refused')));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(3);
    const refused = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(refused).toHaveLength(17);
    for (const { reason } of refused) expect(reason).toBeInstanceOf(TooManyAttempts);
  });

  it('gives a point back on success, within its window only: a late refund banks nothing', async () => {
    const { clock, limit } = setup();
    const login = limit('login', { points: 2, windowSeconds: 60 });
    const first = await login.take('ada', 'refused');
    await login.take('ada', 'refused');
    await login.giveBack(first);
    expect(await outcome(login, 'ada')).toBe('ok');
    expect(await outcome(login, 'ada')).toBe(60);

    const late = await login.take('bob', 'refused');
    clock.advance(60_000);
    await login.take('bob', 'refused'); // the next window
    await login.giveBack(late); // taken in the window that ended: nothing is given back
    expect(await outcome(login, 'bob')).toBe('ok');
    expect(await outcome(login, 'bob')).toBe(60);
  });

  it('never gives back below zero', async () => {
    const { limit } = setup();
    const login = limit('login', { points: 1, windowSeconds: 60 });
    const point = await login.take('ada', 'refused');
    await login.giveBack(point);
    await login.giveBack(point);
    expect(await outcome(login, 'ada')).toBe('ok');
    expect(await outcome(login, 'ada')).toBe(60);
  });

  it('keeps every limit in its own namespace: equal keys in two limits are two counters', async () => {
    const { limit } = setup();
    const resets = limit('resets', { points: 1, windowSeconds: 60 });
    const mails = limit('mails', { points: 1, windowSeconds: 60 });
    expect(await outcome(resets, 'verify:42')).toBe('ok');
    expect(await outcome(resets, 'verify:42')).toBe(60);
    expect(await outcome(mails, 'verify:42')).toBe('ok');
    expect(() => limit('mails', { points: 5, windowSeconds: 1 })).toThrow(/defined twice/);
  });

  it('takes each counter in order: a refusal gives back what was taken and leaves the later counters untouched', async () => {
    const { store, limit } = setup();
    const byAddress = limit('address', { points: 2, windowSeconds: 60 });
    const byAccount = limit('account', { points: 1, windowSeconds: 60 });
    await takeEach('refused', [
      [byAddress, '10.0.0.1'],
      [byAccount, 'ada'],
    ]);
    // The account is over its limit: the address point of this attempt comes back.
    await expect(
      takeEach('refused', [
        [byAddress, '10.0.0.1'],
        [byAccount, 'ada'],
      ]),
    ).rejects.toBeInstanceOf(TooManyAttempts);
    const taken = await takeEach('refused', [
      [byAddress, '10.0.0.1'],
      [byAccount, 'bob'],
    ]);
    // The address is full now: names sent from it are refused before they get a counter.
    for (let i = 0; i < 50; i++) {
      await expect(
        takeEach('refused', [
          [byAddress, '10.0.0.1'],
          [byAccount, `made-up-${i}`],
        ]),
      ).rejects.toBeInstanceOf(TooManyAttempts);
    }
    expect(store.size('account')).toBe(2);
    await giveBackAll(taken);
    expect(await outcome(byAddress, '10.0.0.1')).toBe('ok');
  });

  it('holds a bounded number of keys whatever names are sent, dropping expired and least recently counted ones', async () => {
    const { clock, store, limit } = setup(100);
    const clients = limit('clients', { points: 3, windowSeconds: 60 });
    for (let i = 0; i < 10_000; i++) await clients.take(`made-up-${i}`, 'refused');
    expect(store.size('clients')).toBe(100);
    // The most recently counted keys are the ones kept.
    expect(await outcome(clients, 'made-up-9999')).toBe('ok');
    clock.advance(60_000);
    await clients.take('fresh', 'refused');
    expect(store.size('clients')).toBe(1);
  });

  it('counts distinct members per key up to a cap, within a window', async () => {
    const clock = manualClock();
    const store = new MemoryLimitStore(clock.now);
    expect(await store.addMember('stuffing', '198.51.100.7', 'a', 60_000, 2)).toMatchObject({ count: 1, added: true });
    expect(await store.addMember('stuffing', '198.51.100.7', 'a', 60_000, 2)).toMatchObject({ count: 1, added: false });
    expect(await store.addMember('stuffing', '198.51.100.7', 'b', 60_000, 2)).toMatchObject({ count: 2, added: true });
    // Capped: the set never grows past what the rule needs, whatever names are sent.
    expect(await store.addMember('stuffing', '198.51.100.7', 'c', 60_000, 2)).toMatchObject({ count: 2, added: false });
    expect((await store.countMembers('stuffing', '198.51.100.7')).count).toBe(2);
    expect((await store.countMembers('stuffing', '203.0.113.1')).count).toBe(0);
    clock.advance(60_000);
    expect((await store.countMembers('stuffing', '198.51.100.7')).count).toBe(0);
  });

  it('refuses (503), never lets through, when the store cannot be reached', async () => {
    const down: LimitStore = {
      increment: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
      decrement: () => Promise.reject(new Error('The client is closed')),
      addMember: () => Promise.reject(new Error('The client is closed')),
      countMembers: () => Promise.reject(new Error('The client is closed')),
      reset: () => Promise.reject(new Error('The client is closed')),
    };
    const login = limitFactory(down, () => 0)('login', { points: 3, windowSeconds: 60 });
    await expect(login.take('ada', 'refused')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(login.giveBack({ limit: login, key: 'ada', windowEndsAt: 1 })).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(login.reset('ada')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('resets one key of one limit (an unlock): the next take opens a new window, other keys and limits keep theirs', async () => {
    const { limit } = setup();
    const accounts = limit('accounts', { points: 2, windowSeconds: 60 });
    const others = limit('others', { points: 1, windowSeconds: 60 });
    for (const key of ['ada', 'bob']) {
      await accounts.take(key, 'refused');
      await accounts.take(key, 'refused');
    }
    await others.take('ada', 'refused');
    expect(await outcome(accounts, 'ada')).toBe(60);

    await accounts.reset('ada');
    expect(await outcome(accounts, 'ada')).toBe('ok');
    expect(await outcome(accounts, 'bob')).toBe(60);
    expect(await outcome(others, 'ada')).toBe(60);
    // A key never counted resets to nothing, without error.
    await accounts.reset('nobody');
  });

  it('resets the key as it is counted (keyOf)', async () => {
    const { limit } = setup();
    const byNetwork = limit('networks', { points: 1, windowSeconds: 60, keyOf: (key) => key.split('.')[0] });
    await byNetwork.take('10.1', 'refused');
    expect(await outcome(byNetwork, '10.2')).toBe(60);
    await byNetwork.reset('10.3');
    expect(await outcome(byNetwork, '10.2')).toBe('ok');
  });
});
