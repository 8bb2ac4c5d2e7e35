import { Injectable, Logger, OnApplicationShutdown, OnModuleInit, ServiceUnavailableException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, Repository } from 'typeorm';
import { RedisClient, RedisService } from '../redis/redis.service';
import { UsersService } from '../users/users.service';
import { RevokedAccessToken } from './revoked-token.entity';

type RevocationMessage = { kind: 'jti'; jti: string; expiresAt: number } | { kind: 'cutoff'; userId: string; at: number };

const PRUNE_INTERVAL_MS = 60_000;

/**
 * Session-grade control at JWT speed: the request path asks only in-process maps whether an
 * access token's `jti` was revoked or was issued before its user's cut-off.
 *
 * The maps are complete copies. They are loaded at boot (revoked ids from Redis or the
 * database, cut-offs from the users table) and every change is written to the durable store
 * first, then broadcast over Redis pub/sub so that every instance applies it at once. While
 * the subscription is down an instance cannot know it is current, so it refuses (503) rather
 * than trust a stale copy; when it comes back, the maps are reloaded before serving again.
 * Without Redis there is one instance and the database is the store.
 */
@Injectable()
export class RevocationService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Revocation');
  private readonly revokedJtis = new Map<string, number>();
  private readonly cutoffs = new Map<string, number>();
  private publisher: RedisClient | null = null;
  private subscriber: RedisClient | null = null;
  private current = false;
  private pruneTimer?: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisService,
    private readonly users: UsersService,
    @InjectRepository(RevokedAccessToken) private readonly revokedTokens: Repository<RevokedAccessToken>,
  ) {}

  private get channel(): string {
    return `${this.redis.keyPrefix}revocations`;
  }

  private get jtiSetKey(): string {
    return `${this.redis.keyPrefix}revoked-jti`;
  }

  async onModuleInit(): Promise<void> {
    if (this.redis.enabled) {
      this.publisher = await this.redis.client();
      const subscriber = await this.redis.connect('revocation subscriber');
      this.subscriber = subscriber;
      // Stale from the moment the connection is lost (an error on a live connection is not that).
      const markStale = () => (this.current = false);
      subscriber.on('reconnecting', markStale);
      subscriber.on('end', markStale);
      subscriber.on('error', () => subscriber.isReady || markStale());
      // After a reconnect, messages sent meanwhile are lost: reload before trusting the maps.
      subscriber.on('ready', () => void this.reloadAfterReconnect());
      await this.subscriber.subscribe(this.channel, (message) => this.apply(message));
    }
    await this.reload();
    this.current = true;
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.pruneTimer);
  }

  /** Throws 503 while this instance cannot vouch that its revocation state is current. */
  assertCurrent(): void {
    if (!this.current || (this.subscriber !== null && !this.subscriber.isReady)) {
      throw new ServiceUnavailableException('Revocation state is unavailable; try again shortly');
    }
  }

  isJtiRevoked(jti: string): boolean {
    return this.revokedJtis.has(jti);
  }

  /** True when a credential issued at `issuedAtSeconds` predates the user's cut-off. */
  isBeforeCutoff(userId: string, issuedAtSeconds: number): boolean {
    const cutoff = this.cutoffs.get(userId);
    return cutoff !== undefined && issuedAtSeconds * 1000 <= cutoff;
  }

  /**
   * The `iat` (seconds) for a new credential of this user. Right after a cut-off moved, it waits
   * for the next whole second, so the new credential is never mistaken for one from before.
   */
  async issueTime(userId: string): Promise<number> {
    const cutoff = this.cutoffs.get(userId) ?? 0;
    const earliest = (Math.floor(cutoff / 1000) + 1) * 1000;
    const wait = earliest - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return Math.floor(Date.now() / 1000);
  }

  async revokeJti(jti: string, expiresAtMs: number): Promise<void> {
    if (expiresAtMs <= Date.now()) return;
    if (this.publisher) {
      await this.publisher.zAdd(this.jtiSetKey, { score: expiresAtMs, value: jti });
      await this.publish({ kind: 'jti', jti, expiresAt: expiresAtMs });
    } else {
      await this.revokedTokens.upsert({ jti, expiresAt: expiresAtMs }, ['jti']);
    }
    this.revokedJtis.set(jti, expiresAtMs);
  }

  /** Rejects every token and session of the user issued up to now. Returns the new cut-off. */
  async moveCutoff(userId: string): Promise<number> {
    const at = await this.users.moveCutoff(userId, Date.now());
    this.setCutoff(userId, at);
    if (this.publisher) await this.publish({ kind: 'cutoff', userId, at });
    return at;
  }

  private async publish(message: RevocationMessage): Promise<void> {
    await this.publisher!.publish(this.channel, JSON.stringify(message));
  }

  private apply(raw: string): void {
    let message: RevocationMessage;
    try {
      message = JSON.parse(raw) as RevocationMessage;
    } catch {
      this.logger.warn('ignored a malformed revocation message');
      return;
    }
    if (message.kind === 'jti') this.revokedJtis.set(message.jti, message.expiresAt);
    else if (message.kind === 'cutoff') this.setCutoff(message.userId, message.at);
  }

  private setCutoff(userId: string, at: number): void {
    if (at > (this.cutoffs.get(userId) ?? 0)) this.cutoffs.set(userId, at);
  }

  private async reload(): Promise<void> {
    const now = Date.now();
    const revoked = new Map<string, number>();
    if (this.publisher) {
      await this.publisher.zRemRangeByScore(this.jtiSetKey, '-inf', now);
      const entries = await this.publisher.zRangeWithScores(this.jtiSetKey, 0, -1);
      for (const { value, score } of entries) revoked.set(value, score);
    } else {
      await this.revokedTokens.delete({ expiresAt: LessThan(now) });
      for (const row of await this.revokedTokens.find()) revoked.set(row.jti, row.expiresAt);
    }
    for (const [jti, expiresAt] of revoked) this.revokedJtis.set(jti, expiresAt);
    for (const { id, tokensValidAfter } of await this.users.listCutoffs()) this.setCutoff(id, tokensValidAfter);
  }

  private async reloadAfterReconnect(): Promise<void> {
    if (this.current) return;
    try {
      await this.reload();
      this.current = true;
      this.logger.log('revocation state reloaded after reconnect');
    } catch (error) {
      this.logger.warn(`reload after reconnect failed: ${(error as Error).message}`);
      setTimeout(() => void this.reloadAfterReconnect(), 1000).unref();
    }
  }

  private async prune(): Promise<void> {
    const now = Date.now();
    for (const [jti, expiresAt] of this.revokedJtis) if (expiresAt <= now) this.revokedJtis.delete(jti);
    try {
      if (this.publisher) await this.publisher.zRemRangeByScore(this.jtiSetKey, '-inf', now);
      else await this.revokedTokens.delete({ expiresAt: LessThan(now) });
    } catch {
      // pruning is housekeeping; the next round retries
    }
  }
}
