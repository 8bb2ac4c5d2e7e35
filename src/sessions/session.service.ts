import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { RedisStore } from 'connect-redis';
import { parse as parseCookies } from 'cookie';
import { unsign } from 'cookie-signature';
import type { Request, RequestHandler, Response } from 'express';
import session, { SessionData, Store } from 'express-session';
import { Repository } from 'typeorm';
import { StoreUnavailableError } from '../common/store-unavailable.error';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { RedisClient, RedisService } from '../redis/redis.service';
import { newCsrfToken } from './csrf';
import { SessionAuth, SessionSnapshot, StoredSession } from './session-data';
import { SessionRecord } from './session-record.entity';
import { TypeormSessionStore } from './typeorm-session.store';

const PRUNE_INTERVAL_MS = 10 * 60_000;

/**
 * Server-side sessions. Sessions live in Redis when REDIS_URL is set, else in the database.
 *
 * Authenticating a request only reads its session: `read` checks the cookie's signature and
 * fetches the session with one store lookup, nothing more. express-session (built once) runs
 * only where a session changes: login, logout, revocation (`load`). JWT and public routes
 * touch neither.
 */
@Injectable()
export class SessionService implements OnModuleInit, OnApplicationShutdown {
  private middleware!: RequestHandler;
  private store!: Store;
  private redisClient: RedisClient | null = null;
  private dbStore: TypeormSessionStore | null = null;
  private pruneTimer?: NodeJS.Timeout;

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly config: AuthSwitchOptions,
    private readonly redis: RedisService,
    @InjectRepository(SessionRecord) private readonly records: Repository<SessionRecord>,
  ) {}

  private get sessionPrefix(): string {
    return `${this.redis.keyPrefix}sess:`;
  }

  private userIndexKey(userId: string): string {
    return `${this.redis.keyPrefix}user-sessions:${userId}`;
  }

  async onModuleInit(): Promise<void> {
    const ttl = this.config.session.ttlSeconds;
    if (this.redis.enabled) {
      this.redisClient = await this.redis.client();
      // disableTouch: a session ends a fixed time after login, and a read costs one GET, not GET+EXPIRE.
      this.store = new RedisStore({ client: this.redisClient, prefix: this.sessionPrefix, ttl, disableTouch: true });
    } else {
      this.dbStore = new TypeormSessionStore(this.records, ttl * 1000);
      this.store = this.dbStore;
      this.pruneTimer = setInterval(() => void this.dbStore?.pruneExpired().catch(() => undefined), PRUNE_INTERVAL_MS);
      this.pruneTimer.unref();
    }
    this.middleware = session({
      name: this.config.session.cookieName,
      secret: this.config.session.secret,
      store: this.store,
      resave: false,
      saveUninitialized: false, // no cookie and no store write until login
      rolling: false,
      unset: 'destroy',
      cookie: {
        httpOnly: true,
        sameSite: 'lax',
        secure: this.config.session.secureCookie,
        path: '/',
        maxAge: ttl * 1000,
      },
    });
  }

  onApplicationShutdown(): void {
    clearInterval(this.pruneTimer);
  }

  /**
   * The signed-in session of the request, or null (no cookie, bad signature, unknown or
   * signed-out session). Reads the same cookie and store as express-session.
   */
  async read(req: Request): Promise<SessionSnapshot | null> {
    if (req.session) {
      const { auth, csrfToken } = req.session;
      return auth ? { id: req.sessionID, auth, csrfToken } : null;
    }
    const sid = this.sessionIdFrom(req);
    if (!sid) return null;
    const stored = await this.call<SessionData | null | undefined>((done) => this.store.get(sid, done));
    return stored?.auth ? { id: sid, auth: stored.auth, csrfToken: stored.csrfToken } : null;
  }

  /** The session id from the signed cookie, as express-session reads it; null if absent or forged. */
  private sessionIdFrom(req: Request): string | null {
    const header = req.headers.cookie;
    if (!header) return null;
    const raw = parseCookies(header)[this.config.session.cookieName];
    if (!raw || !raw.startsWith('s:')) return null;
    const sid = unsign(raw.slice(2), this.config.session.secret);
    return sid === false ? null : sid;
  }

  /** Runs express-session for this request (once). A store that does not answer becomes a 503. */
  load(req: Request, res: Response): Promise<void> {
    if (req.session) return Promise.resolve();
    return this.call((done) => this.middleware(req, res, done));
  }

  /**
   * Signs the user in: a brand-new session id (the old one is destroyed, defeating fixation),
   * the user's data and a fresh CSRF token. Returns the CSRF token.
   */
  async establish(req: Request, res: Response, auth: SessionAuth): Promise<string> {
    await this.load(req, res);
    const previous = req.session.auth?.userId;
    const previousId = req.sessionID;
    await this.call((done) => req.session.regenerate(done));
    if (previous) await this.untrack(previous, previousId);
    req.session.auth = auth;
    const csrfToken = newCsrfToken();
    req.session.csrfToken = csrfToken;
    await this.call((done) => req.session.save(done));
    await this.track(auth.userId, req.sessionID);
    return csrfToken;
  }

  /** Ends the request's session and clears its cookie. */
  async destroy(req: Request, res: Response): Promise<void> {
    await this.load(req, res);
    const userId = req.session.auth?.userId;
    const sid = req.sessionID;
    await this.call((done) => req.session.destroy(done));
    if (userId) await this.untrack(userId, sid);
    this.clearCookie(res);
  }

  clearCookie(res: Response): void {
    const { cookieName, secureCookie } = this.config.session;
    res.clearCookie(cookieName, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookie });
  }

  /** The user's live sessions, with their last use as last written (see DeviceActivity). */
  async listForUser(userId: string): Promise<StoredSession[]> {
    const sessions = this.dbStore ? await this.dbStore.listForUser(userId) : await this.listInRedis(userId);
    return sessions.filter(({ session }) => session.auth?.userId === userId).map(({ sid, session, lastUsedAt }) => ({ sid, auth: session.auth!, lastUsedAt }));
  }

  /**
   * Ends one session of the user by its id (not the request's own: see destroy). The store
   * entry goes, so every instance refuses the cookie on its next request.
   */
  async destroyById(userId: string, sid: string): Promise<void> {
    await this.call((done) => this.store.destroy(sid, done));
    await this.untrack(userId, sid);
  }

  /**
   * Writes last-use marks (sid → ms), each by its sid alone and never through the session's
   * data, so that a session destroyed meanwhile is not brought back: with Redis a key of its
   * own beside the session (expiring like one), in the database a column the store never
   * writes.
   */
  async recordLastUse(marks: ReadonlyMap<string, number>): Promise<void> {
    if (marks.size === 0) return;
    if (this.dbStore) {
      for (const [sid, at] of marks) await this.dbStore.recordLastUse(sid, at);
      return;
    }
    const multi = this.redisClient!.multi();
    for (const [sid, at] of marks) multi.set(this.seenKey(sid), String(at), { EX: this.config.session.ttlSeconds });
    await multi.exec();
  }

  private seenKey(sid: string): string {
    return `${this.redis.keyPrefix}session-seen:${sid}`;
  }

  /** Destroys every session of the user, wherever it was created. */
  async destroyAllForUser(userId: string): Promise<void> {
    if (this.dbStore) return this.dbStore.destroyAllForUser(userId);
    const client = this.redisClient!;
    const sids = await client.sMembers(this.userIndexKey(userId));
    await client.del([this.userIndexKey(userId), ...sids.flatMap((sid) => [this.sessionPrefix + sid, this.seenKey(sid)])]);
  }

  private async listInRedis(userId: string): Promise<Array<{ sid: string; session: SessionData; lastUsedAt: number | null }>> {
    const client = this.redisClient!;
    const sids = await client.sMembers(this.userIndexKey(userId));
    if (sids.length === 0) return [];
    // The sessions and their last-use keys in one round trip.
    const values = await client.mGet([...sids.map((sid) => this.sessionPrefix + sid), ...sids.map((sid) => this.seenKey(sid))]);
    const found: Array<{ sid: string; session: SessionData; lastUsedAt: number | null }> = [];
    const gone: string[] = [];
    sids.forEach((sid, index) => {
      const value = values[index];
      const seen = Number(values[sids.length + index] ?? NaN);
      if (value) found.push({ sid, session: JSON.parse(value) as SessionData, lastUsedAt: Number.isFinite(seen) ? seen : null });
      else gone.push(sid);
    });
    if (gone.length > 0) await client.sRem(this.userIndexKey(userId), gone);
    return found;
  }

  private async track(userId: string, sid: string): Promise<void> {
    if (!this.redisClient) return; // the database store records the owner in its own column
    const key = this.userIndexKey(userId);
    await this.redisClient.multi().sAdd(key, sid).expire(key, this.config.session.ttlSeconds).exec();
  }

  private async untrack(userId: string, sid: string): Promise<void> {
    if (this.redisClient) await this.redisClient.multi().sRem(this.userIndexKey(userId), sid).del(this.seenKey(sid)).exec();
  }

  /** A callback-style session operation as a promise; a store error becomes a 503. */
  private call<T = void>(operation: (done: (error?: unknown, value?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) =>
      operation((error, value) => (error ? reject(new StoreUnavailableError('session store', error)) : resolve(value as T))),
    );
  }
}
