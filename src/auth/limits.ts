import { HttpException, HttpStatus } from '@nestjs/common';
import { StoreUnavailableError } from '../common/store-unavailable.error';
import type { RedisClient } from '../redis/redis.service';

/**
 * Attempt limits, built from one small factory over a storage port.
 *
 * A limit has a name, and its name is its namespace: the memory store keeps one map per limit
 * and Redis keys start with `<prefix>limit:<name>:`, so two limits never share a counter, even
 * when their keys happen to be equal strings (an address, an email, `verify:<id>`).
 *
 * Each limit is a fixed window per key: the first point taken opens a window of
 * `windowSeconds`, and once `points` have been taken in it every further take is refused until
 * it ends. Points are taken before any work is done (one atomic increment that also tells
 * whether the limit is passed) and may be given back afterwards (a login that succeeds): checking
 * first and counting after the work would let a burst of parallel attempts all pass the check.
 */

/** Milliseconds on a monotonic clock; injectable so that tests can move time. */
export type Clock = () => number;

/** The point a take added, and when (on the store's clock) the window it was taken in ends. */
export interface TakenPoint {
  readonly limit: Limit;
  readonly key: string;
  readonly windowEndsAt: number;
}

/** Where counters live: this process (memory) or Redis (shared by every instance). */
export interface LimitStore {
  /**
   * Adds one to the key's counter in the namespace, opening a window of `windowMs` when none is
   * open, and says how many points the window holds now and when it ends (store clock).
   */
  increment(namespace: string, key: string, windowMs: number): Promise<{ count: number; windowEndsAt: number }>;
  /**
   * Takes one back, only from the window that ends at `windowEndsAt` and never below zero: once
   * that window is over the key is gone or belongs to a newer window, and nothing is given back
   * (a refund landing in the next window would let an attacker bank guesses).
   */
  decrement(namespace: string, key: string, windowEndsAt: number): Promise<void>;
  /**
   * Adds `member` to the key's set of distinct members, opening a window of `windowMs` when none
   * is open; the set holds at most `cap` members. Says how many it holds, whether this call added
   * one, and when the window ends (store clock).
   */
  addMember(namespace: string, key: string, member: string, windowMs: number, cap: number): Promise<{ count: number; added: boolean; windowEndsAt: number }>;
  /** How many distinct members the key's set holds in its current window (0 when none is open). */
  countMembers(namespace: string, key: string): Promise<{ count: number; windowEndsAt: number }>;
  /** Forgets the key's counter, whatever its window (an administrator unlocking an account). */
  reset(namespace: string, key: string): Promise<void>;
}

/** How many keys one limit may hold in memory before the least recently used are dropped. */
export const MEMORY_LIMIT_MAX_KEYS = 100_000;

/**
 * Counters in this process, one bounded map per limit: whatever names clients send, a limit holds
 * at most `maxKeys` counters (the least recently counted go first; expired ones go as they are met).
 */
export class MemoryLimitStore implements LimitStore {
  private readonly maps = new Map<string, Map<string, { count: number; endsAt: number }>>();

  constructor(
    private readonly now: Clock,
    private readonly maxKeys = MEMORY_LIMIT_MAX_KEYS,
  ) {}

  async increment(namespace: string, key: string, windowMs: number): Promise<{ count: number; windowEndsAt: number }> {
    const map = this.namespace(namespace);
    const now = this.now();
    let entry = map.get(key);
    if (!entry || entry.endsAt <= now) entry = { count: 0, endsAt: now + windowMs };
    // Re-inserted so that the map's order is least recently counted first.
    map.delete(key);
    map.set(key, entry);
    entry.count += 1;
    for (const [oldest, value] of map) {
      if (map.size <= this.maxKeys && value.endsAt > now) break;
      map.delete(oldest);
    }
    return { count: entry.count, windowEndsAt: entry.endsAt };
  }

  async decrement(namespace: string, key: string, windowEndsAt: number): Promise<void> {
    const entry = this.maps.get(namespace)?.get(key);
    // The check and the decrement run in one synchronous step.
    if (entry && entry.endsAt === windowEndsAt && entry.endsAt > this.now() && entry.count > 0) entry.count -= 1;
  }

  async addMember(
    namespace: string,
    key: string,
    member: string,
    windowMs: number,
    cap: number,
  ): Promise<{ count: number; added: boolean; windowEndsAt: number }> {
    const map = this.setNamespace(namespace);
    const now = this.now();
    let entry = map.get(key);
    if (!entry || entry.endsAt <= now) entry = { members: new Set(), endsAt: now + windowMs };
    map.delete(key);
    map.set(key, entry);
    const added = entry.members.size < cap && !entry.members.has(member);
    if (added) entry.members.add(member);
    for (const [oldest, value] of map) {
      if (map.size <= this.maxKeys && value.endsAt > now) break;
      map.delete(oldest);
    }
    return { count: entry.members.size, added, windowEndsAt: entry.endsAt };
  }

  async countMembers(namespace: string, key: string): Promise<{ count: number; windowEndsAt: number }> {
    const entry = this.sets.get(namespace)?.get(key);
    if (!entry || entry.endsAt <= this.now()) return { count: 0, windowEndsAt: this.now() };
    return { count: entry.members.size, windowEndsAt: entry.endsAt };
  }

  async reset(namespace: string, key: string): Promise<void> {
    this.maps.get(namespace)?.delete(key);
  }

  /** How many counters the namespace holds (for tests and metrics). */
  size(namespace: string): number {
    return this.maps.get(namespace)?.size ?? 0;
  }

  private readonly sets = new Map<string, Map<string, { members: Set<string>; endsAt: number }>>();

  private setNamespace(name: string): Map<string, { members: Set<string>; endsAt: number }> {
    let map = this.sets.get(name);
    if (!map) this.sets.set(name, (map = new Map()));
    return map;
  }

  private namespace(name: string): Map<string, { count: number; endsAt: number }> {
    let map = this.maps.get(name);
    if (!map) this.maps.set(name, (map = new Map()));
    return map;
  }
}

/** INCR, and the window's expiry set by the point that opens it; answers the count and the ms left. */
const INCREMENT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}`;

/**
 * Gives one point back if the key's window ends no later than ARGV[1] ms from now, i.e. it is
 * the window the point was taken in (a newer window would have a longer TTL), and never below 0.
 */
const DECREMENT_SCRIPT = `
local value = tonumber(redis.call('GET', KEYS[1]) or '0')
if value <= 0 then return 0 end
if redis.call('PTTL', KEYS[1]) > tonumber(ARGV[1]) then return 0 end
redis.call('DECR', KEYS[1])
return 1`;
/** SADD while the set is below its cap (ARGV[3]); the window's expiry set by the member that opens it. */
const ADD_MEMBER_SCRIPT = `
local count = redis.call('SCARD', KEYS[1])
local added = 0
if count < tonumber(ARGV[3]) then
  added = redis.call('SADD', KEYS[1], ARGV[1])
  count = count + added
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  left = tonumber(ARGV[2])
end
return {count, added, left}`;

const COUNT_MEMBERS_SCRIPT = `
return {redis.call('SCARD', KEYS[1]), redis.call('PTTL', KEYS[1])}`;

/** Slack for the round trip between taking the point and giving it back. */
const DECREMENT_SLACK_MS = 1000;

/** Counters in Redis, shared by every instance; each key expires with its window. */
export class RedisLimitStore implements LimitStore {
  constructor(
    private readonly client: RedisClient,
    private readonly keyPrefix: string,
    private readonly now: Clock,
  ) {}

  async increment(namespace: string, key: string, windowMs: number): Promise<{ count: number; windowEndsAt: number }> {
    const startedAt = this.now();
    const [count, left] = (await this.client.eval(INCREMENT_SCRIPT, { keys: [this.key(namespace, key)], arguments: [String(windowMs)] })) as [number, number];
    return { count: Number(count), windowEndsAt: startedAt + Number(left) };
  }

  async decrement(namespace: string, key: string, windowEndsAt: number): Promise<void> {
    const left = Math.max(0, Math.round(windowEndsAt - this.now()));
    if (left === 0) return;
    await this.client.eval(DECREMENT_SCRIPT, { keys: [this.key(namespace, key)], arguments: [String(left + DECREMENT_SLACK_MS)] });
  }

  async addMember(
    namespace: string,
    key: string,
    member: string,
    windowMs: number,
    cap: number,
  ): Promise<{ count: number; added: boolean; windowEndsAt: number }> {
    const startedAt = this.now();
    const [count, added, left] = (await this.client.eval(ADD_MEMBER_SCRIPT, {
      keys: [this.key(namespace, key)],
      arguments: [member, String(windowMs), String(cap)],
    })) as [number, number, number];
    return { count: Number(count), added: Number(added) === 1, windowEndsAt: startedAt + Number(left) };
  }

  async countMembers(namespace: string, key: string): Promise<{ count: number; windowEndsAt: number }> {
    const startedAt = this.now();
    const [count, left] = (await this.client.eval(COUNT_MEMBERS_SCRIPT, { keys: [this.key(namespace, key)] })) as [number, number];
    return { count: Number(count), windowEndsAt: startedAt + Math.max(0, Number(left)) };
  }

  async reset(namespace: string, key: string): Promise<void> {
    await this.client.del(this.key(namespace, key));
  }

  key(namespace: string, key: string): string {
    return `${this.keyPrefix}limit:${namespace}:${key}`;
  }
}

/** 429 with the seconds to wait (the exception filter sends them as Retry-After). */
export class TooManyAttempts extends HttpException {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, HttpStatus.TOO_MANY_REQUESTS);
  }
}

export interface LimitRule {
  /** At most this many points per key and window. */
  points: number;
  windowSeconds: number;
  /** What a key is counted under (an address under its network, see addressKey); the key itself by default. */
  keyOf?: (key: string) => string;
}

/** One named limit: its own namespace in the store, its own points and window. */
export class Limit {
  constructor(
    readonly name: string,
    readonly rule: LimitRule,
    private readonly store: LimitStore,
    /** The clock the store measures windows on. */
    private readonly now: Clock,
    /** Told of every refusal (the audit trail records the first of each window). */
    private readonly onBlocked?: (limit: Limit, key: string, windowEndsAt: number) => void,
  ) {}

  /**
   * Takes a point for the key; TooManyAttempts (with the wait) once the window holds its points
   * (the refused point is given back at once), StoreUnavailableError when the store cannot be reached (a refusal, never a bypass).
   */
  async take(given: string, refusal: string): Promise<TakenPoint> {
    const key = this.rule.keyOf ? this.rule.keyOf(given) : given;
    let result: { count: number; windowEndsAt: number };
    try {
      result = await this.store.increment(this.name, key, this.rule.windowSeconds * 1000);
    } catch (error) {
      throw new StoreUnavailableError('redis', error);
    }
    const point = { limit: this, key, windowEndsAt: result.windowEndsAt };
    if (result.count <= this.rule.points) return point;
    // Refused: this attempt does no work, so it does not hold a point either. Otherwise the
    // refusals of a burst would stay counted after the attempts let through were given back.
    await this.giveBack(point).catch(() => undefined);
    this.onBlocked?.(this, key, result.windowEndsAt);
    const waitMs = result.windowEndsAt - this.now();
    throw new TooManyAttempts(refusal, Math.max(1, Math.ceil(waitMs / 1000)));
  }

  /** Gives a point back to the window it was taken in (nothing once that window is over). */
  async giveBack(point: TakenPoint): Promise<void> {
    try {
      await this.store.decrement(this.name, point.key, point.windowEndsAt);
    } catch (error) {
      throw new StoreUnavailableError('redis', error);
    }
  }

  /** Clears the key's counter (as `take` would count it), so its next take opens a new window. */
  async reset(given: string): Promise<void> {
    try {
      await this.store.reset(this.name, this.rule.keyOf ? this.rule.keyOf(given) : given);
    } catch (error) {
      throw new StoreUnavailableError('redis', error);
    }
  }
}

/**
 * Takes one point from each (limit, key) in order, stopping at the first refusal and giving back
 * the points already taken. Put the limit that bounds the others first (the address): a refused
 * request then never creates a counter for the name it made up.
 */
export async function takeEach(refusal: string, counters: ReadonlyArray<readonly [Limit, string]>): Promise<TakenPoint[]> {
  const taken: TakenPoint[] = [];
  try {
    for (const [limit, key] of counters) taken.push(await limit.take(key, refusal));
  } catch (error) {
    await giveBackAll(taken).catch(() => undefined);
    throw error;
  }
  return taken;
}

export async function giveBackAll(points: readonly TakenPoint[]): Promise<void> {
  await Promise.all(points.map((point) => point.limit.giveBack(point)));
}

/** Builds named limits over one store (each limit its own namespace). */
export function limitFactory(
  store: LimitStore,
  now: Clock,
  onBlocked?: (limit: Limit, key: string, windowEndsAt: number) => void,
): <N extends string>(name: N, rule: LimitRule) => Limit {
  const names = new Set<string>();
  return (name, rule) => {
    if (names.has(name)) throw new Error(`limit ${name} is defined twice; every limit needs its own namespace`);
    if (!/^[a-zA-Z][a-zA-Z0-9-]*$/.test(name)) throw new Error(`limit name ${name} must be a plain word`);
    if (!Number.isSafeInteger(rule.points) || rule.points < 1 || !(rule.windowSeconds > 0))
      throw new Error(`limit ${name}: points and windowSeconds must be positive`);
    names.add(name);
    return new Limit(name, rule, store, now, onBlocked);
  };
}
