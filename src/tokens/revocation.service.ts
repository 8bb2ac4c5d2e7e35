import { AuditService } from '../audit/audit.service';
import type { NewAuditEvent } from '../audit/audit-events';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Brackets, DataSource, EntityManager, In, MoreThan, Repository } from 'typeorm';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { StoreUnavailableError } from '../common/store-unavailable.error';
import { inTransaction } from '../database/transactions';
import { RedisClient, RedisService } from '../redis/redis.service';
import { UsersService } from '../users/users.service';
import { Revocation } from './revocation.entity';
import { CredentialStamp, RevocationEvent, RevocationState } from './revocation-state';
import { authError } from '../common/auth-errors';
import { MetricsService } from '../metrics/metrics.service';

export type { CredentialStamp } from './revocation-state';

/**
 * A revocation to record: what is revoked, and until when (token, family) or from which version
 * (user). A user entry with `expiresAt` is also loaded by a full reload until then: the version
 * of a user whose row is gone (deleted) lives only in the log.
 */
export type NewRevocation =
  | { kind: 'token' | 'family' | 'client' | 'verified'; subject: string; expiresAt: number }
  | { kind: 'user'; subject: string; version: number; expiresAt?: number };

/** The version a deleted user's credentials are refused below: every credential ever issued (the `integer` column's maximum). */
export const DELETED_USER_VERSION = 2_147_483_647;

const PRUNE_INTERVAL_MS = 60_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Clocks of other instances (and of the CLI) may differ from ours by this much. */
export const CLOCK_MARGIN_MS = 5 * 60_000;
/** User events stay in the log this long; the users table holds the versions for good. */
export const USER_EVENT_RETENTION_MS = 24 * 3600_000;
/** A sequence number skipped this long ago belongs to a transaction that rolled back. */
const HOLE_PATIENCE_MS = 60_000;
const MAX_HOLES = 1000;
/** After a full load, re-read this many of the newest events (some may not have committed yet). */
const RELOAD_OVERLAP = 1000;
/**
 * A revocation transaction that has not reached its commit this long after it started is
 * abandoned (rolled back, 503): a log position must not commit so late that the readers have
 * given up on it (HOLE_PATIENCE_MS).
 */
const TRANSACTION_LIMIT_MS = HOLE_PATIENCE_MS / 4;
/** Longer than this without a successful sync: reload everything rather than read the log. */
const FULL_RELOAD_AFTER_MS = 3600_000;
/**
 * After a failed broadcast, the revoking request waits maxStalenessMs and this much more: timer
 * granularity, and the moment the commit was acknowledged here being a little after it happened.
 */
const STALENESS_MARGIN_MS = 100;

/**
 * Session-grade control at JWT speed: the request path asks only in-process maps whether a
 * credential is revoked (its jti, its refresh family, or a user version older than the user's).
 *
 * Every revocation is written to the database log in the same transaction as the change it
 * announces, then applied here and broadcast over Redis pub/sub. The database is the truth;
 * the broadcast is only the fast path. Each instance also reads the log from its last position
 * every REVOCATION_SYNC_INTERVAL_MS, so a broadcast that failed (Redis refused PUBLISH, a
 * subscriber was reconnecting) is made good within one interval.
 *
 * A broadcast is acknowledged: every instance that receives it applies it, then tells the
 * publisher so on the publisher's own channel, and the revoking request answers only once
 * every subscriber counted by PUBLISH has done so. Without this, a client told "logged out" by
 * one instance could reach another before the message had (a message still in a socket buffer,
 * or behind a busy event loop, loses that race to a fresh HTTP request).
 *
 * An instance serves authenticated requests only while the last successful read of the log
 * began at most REVOCATION_MAX_STALENESS_MS ago (and, with Redis, while its subscription is live
 * and it has read the log since the subscription (re)started); otherwise it answers 503 rather
 * than trust a copy that may be missing something. When the publisher sees its broadcast fail,
 * or an acknowledgement does not come, it answers only once REVOCATION_MAX_STALENESS_MS have
 * passed since the commit: by then every other instance has either read the log after the
 * commit or stopped vouching (503), even one that cannot reach the database. So a revocation that answered success holds on every instance.
 * The in-memory state itself lives in RevocationState (pure, clock-injected).
 */
@Injectable()
export class RevocationService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Revocation');
  private readonly state: RevocationState;
  private publisher: RedisClient | null = null;
  private subscriber: RedisClient | null = null;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private syncFailing = false;
  private timers: NodeJS.Timeout[] = [];
  /** Names this instance in its broadcasts, so that receivers know whom to acknowledge. */
  private readonly instanceId = randomUUID();
  /** Broadcasts of ours awaiting acknowledgements: how many came, how many PUBLISH counted. */
  private readonly awaitingAcks = new Map<number, { acked: number; expected: number | null; done: () => void }>();

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly config: AuthSwitchOptions,
    private readonly redis: RedisService,
    private readonly users: UsersService,
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(Revocation) private readonly log: Repository<Revocation>,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
  ) {
    this.state = new RevocationState(
      { maxStalenessMs: config.revocation.maxStalenessMs, holePatienceMs: HOLE_PATIENCE_MS, maxHoles: MAX_HOLES, reloadOverlap: RELOAD_OVERLAP },
      { now: () => Date.now(), monotonic: () => performance.now() },
    );
  }

  private get channel(): string {
    return `${this.redis.keyPrefix}revocations`;
  }

  private ackChannel(instanceId: string): string {
    return `${this.channel}:ack:${instanceId}`;
  }

  async onModuleInit(): Promise<void> {
    if (this.redis.enabled) {
      this.publisher = await this.redis.client();
      const subscriber = await this.redis.connect('revocation subscriber');
      this.subscriber = subscriber;
      const lost = () => this.state.subscriptionLost();
      subscriber.on('reconnecting', lost);
      subscriber.on('end', lost);
      subscriber.on('error', () => subscriber.isReady || lost());
      // Messages sent while the connection was down are lost: read the log before vouching again.
      subscriber.on('ready', () => {
        this.state.subscribed();
        void this.sync();
      });
      await subscriber.subscribe(this.ackChannel(this.instanceId), (message) => this.acknowledged(Number(message)));
      await subscriber.subscribe(this.channel, (message) => this.receive(message));
      this.state.subscribed();
    }
    await this.fullReload();
    const every = (ms: number, task: () => Promise<void>) => {
      const timer = setInterval(() => void task(), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.config.revocation.syncIntervalMs, () => this.sync());
    every(PRUNE_INTERVAL_MS, () => this.prune());
  }

  onApplicationShutdown(): void {
    this.timers.forEach(clearInterval);
  }

  /** Throws 503 while this instance cannot vouch that its revocation state is current. */
  assertCurrent(): void {
    const subscriber = this.subscriber;
    if (this.state.unavailability(subscriber ? { ready: subscriber.isReady } : null) !== null) {
      throw authError('REVOCATION_STATE_UNAVAILABLE');
    }
  }

  /** True when the credential was revoked, alone, with its family, or by a newer user version. */
  isRevoked(stamp: CredentialStamp): boolean {
    return this.state.isRevoked(stamp);
  }

  /**
   * Whether the user confirmed their address recently enough that one of their credentials may
   * predate it. Credentials signed afterwards say so themselves; together the two answer
   * `emailVerified` with no database read.
   */
  hasVerifiedEmail(userId: string): boolean {
    return this.state.hasVerifiedEmail(userId);
  }

  isFamilyRevoked(familyId: string): boolean {
    return this.state.isFamilyRevoked(familyId);
  }

  /**
   * Runs `work` in one transaction together with the revocations it returns: the change and its
   * announcement commit together or not at all. Then they take effect here at once, and are
   * broadcast. A failed broadcast is logged, not thrown: the revocation has been made, and the
   * other instances read it from the log within one sync interval; the answer waits until every
   * instance has read it or stopped vouching (REVOCATION_MAX_STALENESS_MS).
   */
  async commit<T>(work: (tx: EntityManager) => Promise<{ result: T; revocations: NewRevocation[] }>): Promise<T> {
    const { result, events } = await inTransaction(this.dataSource, async (tx) => {
      const started = performance.now();
      const { result, revocations } = await work(tx);
      const events: RevocationEvent[] = [];
      for (const revocation of revocations) {
        const row = {
          kind: revocation.kind,
          subject: revocation.subject,
          version: revocation.kind === 'user' ? revocation.version : null,
          expiresAt: revocation.expiresAt ?? null,
          createdAt: Date.now(),
        };
        const inserted = await tx.getRepository(Revocation).insert(row);
        events.push({ seq: Number(inserted.identifiers[0].seq), ...row });
      }
      if (performance.now() - started > TRANSACTION_LIMIT_MS) throw new StoreUnavailableError('database', new Error('revocation took too long'));
      return { result, events };
    });
    // The commit has happened by now: a read of the log that starts from here on sees it.
    const committed = performance.now();
    events.forEach((event) => this.state.apply(event));
    events.forEach((event) => this.metrics.revocation(event.kind));
    const deadline = committed + this.config.revocation.maxStalenessMs + STALENESS_MARGIN_MS;
    const delivered = await Promise.all(events.map((event) => this.broadcast(event, deadline)));
    // Not applied everywhere (the broadcast failed, or an acknowledgement did not come): answer
    // only once every other instance has either read the log since the commit or stopped
    // vouching for its state (its last read began before the commit, so it is older than
    // maxStalenessMs and it answers 503), so that the revocation holds everywhere when the
    // caller hears of it, even on an instance that cannot read the database.
    if (delivered.includes(false)) {
      const wait = deadline - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    return result;
  }

  /**
   * How long a log entry must be kept to cover every credential it concerns: one signed up to
   * now that lives `lifetimeMs` more, on a clock that may differ from ours.
   */
  expiryCovering(lifetimeMs: number): number {
    return Date.now() + lifetimeMs + CLOCK_MARGIN_MS;
  }

  /**
   * The revocation that ends every credential of a deleted user, on every instance: the highest
   * version, kept in the log (and loaded by full reloads, since the users table no longer holds
   * the user) until the longest-lived credential issued up to now has expired.
   */
  userDeletion(userId: string): NewRevocation {
    const lifetimeMs = Math.max(this.accessTokenLifetimeMs, this.config.session.ttlSeconds * 1000);
    return { kind: 'user', subject: userId, version: DELETED_USER_VERSION, expiresAt: this.expiryCovering(lifetimeMs) };
  }

  /** How long a verifier may accept an access token after signing it: its lifetime plus the clock tolerance. */
  get accessTokenLifetimeMs(): number {
    const { accessTokenTtlSeconds, clockToleranceSeconds } = this.config.jwt;
    return (accessTokenTtlSeconds + clockToleranceSeconds) * 1000;
  }

  /**
   * One access token, for as long as the verifier could still accept it: its `exp` plus the
   * clock tolerance the verifier allows.
   */
  async revokeToken(jti: string, expSeconds: number, event?: NewAuditEvent): Promise<void> {
    const acceptedUntil = (expSeconds + this.config.jwt.clockToleranceSeconds) * 1000;
    if (acceptedUntil <= Date.now()) return;
    await this.commit(async (tx) => {
      if (event) await this.audit.record(tx, event);
      return { result: undefined, revocations: [{ kind: 'token', subject: jti, expiresAt: acceptedUntil }] };
    });
  }

  /**
   * Publishes one event and waits until every instance that received it has applied it; false
   * when publishing failed or the acknowledgements did not all come by `deadline` (monotonic).
   */
  private async broadcast(event: RevocationEvent, deadline: number): Promise<boolean> {
    if (!this.publisher) return true;
    let done = () => {};
    const allApplied = new Promise<void>((resolve) => (done = resolve));
    // Registered before publishing: an acknowledgement can overtake PUBLISH's own reply.
    const awaiting = { acked: 0, expected: null as number | null, done };
    this.awaitingAcks.set(event.seq, awaiting);
    let timer: NodeJS.Timeout | undefined;
    // The deadline bounds the PUBLISH too: a Redis that stops answering on an open connection
    // (paused, partitioned) must not hold the revoking request forever.
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()))));
    try {
      const published = this.publisher.publish(this.channel, JSON.stringify({ ...event, origin: this.instanceId }));
      published.catch(() => undefined);
      const counted = await Promise.race([published, timedOut]);
      if (counted === false) {
        this.logger.warn(`broadcast of revocation ${event.seq} got no answer in time; other instances read it from the log`);
        return false;
      }
      awaiting.expected = counted;
      if (awaiting.acked >= awaiting.expected) return true;
      const applied = await Promise.race([allApplied.then(() => true), timedOut]);
      if (!applied) this.logger.warn(`revocation ${event.seq}: ${awaiting.acked} of ${awaiting.expected} instances acknowledged in time`);
      return applied;
    } catch (error) {
      this.logger.warn(`broadcast of revocation ${event.seq} failed (${(error as Error).message}); other instances read it from the log`);
      return false;
    } finally {
      clearTimeout(timer);
      this.awaitingAcks.delete(event.seq);
    }
  }

  /** An instance applied one of our broadcasts. */
  private acknowledged(seq: number): void {
    const awaiting = this.awaitingAcks.get(seq);
    if (!awaiting) return;
    awaiting.acked += 1;
    if (awaiting.expected !== null && awaiting.acked >= awaiting.expected) awaiting.done();
  }

  private receive(raw: string): void {
    let event: RevocationEvent & { origin?: unknown };
    try {
      event = JSON.parse(raw) as RevocationEvent & { origin?: unknown };
      // Checked whole before anything is tracked or acknowledged: a message of another shape
      // must not move this instance's log position.
      if (!isRevocationEvent(event)) throw new Error('bad shape');
      this.state.apply(event);
    } catch {
      this.logger.warn('ignored a malformed revocation message');
      return;
    }
    // Applied: the request path sees it from now on. Tell the publisher, which waits for this.
    const origin = event.origin;
    if (origin === this.instanceId) this.acknowledged(event.seq);
    else if (typeof origin === 'string' && UUID.test(origin)) {
      this.metrics.revocationApplied((event as { createdAt?: unknown }).createdAt); // commit() wrote it, on the origin's clock
      this.publisher?.publish(this.ackChannel(origin), String(event.seq)).catch(() => {
        // The publisher then waits for the staleness bound instead; nothing is lost.
      });
    }
  }

  /** Reads the log from this instance's position. One at a time; a request made meanwhile runs after. */
  sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          await this.syncOnce();
        } while (this.syncAgain);
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const started = performance.now();
    if (this.state.needsFullReload(started, FULL_RELOAD_AFTER_MS)) {
      try {
        await this.fullReload();
        this.reportSync(null);
      } catch (error) {
        this.reportSync(error);
      }
      return;
    }
    const { after, holes } = this.state.readPosition(started);
    try {
      const rows = await this.log
        .createQueryBuilder('r')
        .where(
          new Brackets((where) => {
            where.where('r.seq > :last', { last: after });
            if (holes.length > 0) where.orWhere({ seq: In(holes) });
          }),
        )
        .orderBy('r.seq', 'ASC')
        .getMany();
      rows.forEach((row) => this.state.apply(row));
      this.state.readSucceeded(started);
      this.reportSync(null);
    } catch (error) {
      this.reportSync(error);
    }
  }

  private reportSync(error: unknown): void {
    if (error && !this.syncFailing) this.logger.warn(`reading the revocation log failed: ${(error as Error).message}`);
    if (!error && this.syncFailing) this.logger.log('revocation log readable again');
    this.syncFailing = Boolean(error);
  }

  /** Loads the whole state: unexpired token, family and client entries, and every raised user version. */
  private async fullReload(): Promise<void> {
    const started = performance.now();
    const now = Date.now();
    const newest = await this.log.createQueryBuilder('r').select('MAX(r.seq)', 'max').getRawOne<{ max: number | string | null }>();
    // User entries with an expiry: deleted users, whose version the users table no longer holds.
    const entries = await this.log.find({ where: { kind: In(['token', 'family', 'client', 'verified', 'user']), expiresAt: MoreThan(now) } });
    const versions = await this.users.listVersions();
    entries.forEach((entry) => this.state.apply({ ...entry, seq: 0 }));
    for (const { id, credentialVersion } of versions) this.state.raiseVersion(id, credentialVersion);
    // Newer events than the ones read may still be committing: read the newest ones again.
    this.state.fullLoadSucceeded(started, Number(newest?.max ?? 0));
  }

  /** Forgets in-memory entries that can no longer change an answer (the log's rows: Housekeeping). */
  private async prune(): Promise<void> {
    this.state.prune();
  }
}

const KINDS = new Set(['token', 'family', 'user', 'client', 'verified']);

function isRevocationEvent(value: unknown): value is RevocationEvent {
  const event = value as Partial<RevocationEvent> | null;
  if (typeof event !== 'object' || event === null) return false;
  if (!Number.isSafeInteger(event.seq) || (event.seq as number) < 1) return false;
  if (typeof event.subject !== 'string' || event.subject.length === 0 || event.subject.length > 64) return false;
  if (typeof event.kind !== 'string' || !KINDS.has(event.kind)) return false;
  if (event.kind === 'user') return Number.isSafeInteger(event.version);
  return typeof event.expiresAt === 'number' && Number.isFinite(event.expiresAt);
}
