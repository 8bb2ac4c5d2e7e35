import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { setImmediate as yieldToRequests } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { SPEND_DEADLINE_MS } from './refresh-token.service';
import { CLOCK_MARGIN_MS, USER_EVENT_RETENTION_MS } from './revocation.service';

/** How often every instance prunes, and how soon after start-up the first round runs. */
const INTERVAL_MS = 10 * 60_000;
const FIRST_ROUND_MS = 60_000;
/** Rows per DELETE, and DELETEs per table per round: a round never holds a table for long. */
const BATCH = 500;
const MAX_BATCHES = 20;
/**
 * A used one-time token is kept this long: spend() reads the row's user right after its
 * conditional UPDATE, so the row must outlive that read (and a retry of it) by far.
 */
const USED_ONE_TIME_TOKEN_KEEP_MS = 3600_000;

/**
 * Deletes the rows that can no longer change an answer, so the tables do not grow with traffic
 * that leaves nothing alive. Every instance runs it on one schedule; each DELETE is idempotent
 * and its condition is monotone (a revoked family is never un-revoked, an expiry never moves
 * back, a used token is never unused again), so instances racing each other, or a request
 * racing a DELETE, can only delete what either of them would have: no locks, no leader.
 * Deletes go in bounded batches with a yield between them, outside any request.
 *
 * When a row can no longer change an answer (`now` is this instance's clock; other clocks may
 * differ by CLOCK_MARGIN_MS):
 * - A refresh token of a revoked family: presenting it answers 401 whether the row exists or
 *   not (an unspent one fails the family check; a spent one would revoke a family that is
 *   already revoked, which writes nothing). Likewise for a token whose family row is gone.
 * - A refresh token of an expired family: every token of the family expired more than
 *   CLOCK_MARGIN_MS ago (so no instance can still spend one: the family can never yield a
 *   credential again), and its newest token was issued more than SPEND_DEADLINE_MS + access
 *   token lifetime + CLOCK_MARGIN_MS ago (so no access token of the family can still be
 *   accepted, and revoking the family for a reuse would protect nothing). Presenting a token
 *   then answers 401 with or without the row.
 * - A spent refresh token of a live family is KEPT, also when it is not the newest: presenting
 *   it must still revoke the family (reuse detection), and within REFRESH_REUSE_GRACE_SECONDS
 *   its sealed successor may be replayed. Deleting it would turn a reuse into "unknown token,
 *   401" and leave the family alive. So a family that keeps rotating keeps its spent tokens
 *   until it is revoked or expires (REFRESH_TOKEN_TTL_SECONDS after its last rotation).
 * - A family row, once it is revoked or expired as above and none of its tokens is left. A
 *   family that has never had a token is left alone until it is older than the same quiet
 *   period (a login inserts the family before its first token).
 * - A one-time token used more than USED_ONE_TIME_TOKEN_KEEP_MS ago (a used token answers as
 *   an unknown one), or expired more than CLOCK_MARGIN_MS ago.
 * - A revocation-log entry for a token, family, client or verified address past its
 *   `expires_at` (which already covers the credential's lifetime and the clock margin), and a
 *   user entry older than USER_EVENT_RETENTION_MS (the users table holds versions for good); a
 *   deleted user's entry, whose version no table holds, stays until its own `expires_at`.
 */
@Injectable()
export class Housekeeping implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Housekeeping');
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<void> | null = null;
  private failing = false;

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly config: AuthSwitchOptions,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  onModuleInit(): void {
    const first = setTimeout(() => void this.runOnce(), FIRST_ROUND_MS);
    const every = setInterval(() => void this.runOnce(), INTERVAL_MS);
    first.unref();
    every.unref();
    this.timers.push(first, every);
  }

  onApplicationShutdown(): void {
    this.timers.forEach((timer) => clearTimeout(timer));
  }

  /** One round; `now` may be injected (tests). A round already running is joined, not doubled. */
  runOnce(now = Date.now()): Promise<void> {
    this.running ??= this.round(now).finally(() => (this.running = null));
    return this.running;
  }

  private async round(now: number): Promise<void> {
    const accessLifetimeMs = (this.config.jwt.accessTokenTtlSeconds + this.config.jwt.clockToleranceSeconds) * 1000;
    const expiredBefore = int(now - CLOCK_MARGIN_MS);
    const quietSince = int(now - SPEND_DEADLINE_MS - accessLifetimeMs - CLOCK_MARGIN_MS);
    // A family none of whose tokens can be spent any more, nor any access token be accepted.
    const expiredFamily = (f: string) =>
      `(${f}.created_at < ${quietSince} AND NOT EXISTS (SELECT 1 FROM refresh_tokens live WHERE live.family_id = ${f}.id AND (live.expires_at >= ${expiredBefore} OR live.created_at >= ${quietSince})))`;
    try {
      await this.deleteInBatches(
        'refresh_tokens',
        `SELECT t.id FROM refresh_tokens t LEFT JOIN refresh_families f ON f.id = t.family_id
          WHERE f.id IS NULL OR f.revoked_at IS NOT NULL OR ${expiredFamily('f')}`,
      );
      await this.deleteInBatches(
        'refresh_families',
        `SELECT f.id FROM refresh_families f
          WHERE (f.revoked_at IS NOT NULL OR ${expiredFamily('f')})
            AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id)`,
      );
      await this.deleteInBatches(
        'one_time_tokens',
        `SELECT id FROM one_time_tokens WHERE used_at < ${int(now - USED_ONE_TIME_TOKEN_KEEP_MS)} OR expires_at < ${expiredBefore}`,
      );
      await this.deleteInBatches(
        'revocations',
        `SELECT seq FROM revocations WHERE expires_at < ${int(now)} OR (kind = 'user' AND expires_at IS NULL AND created_at < ${int(now - USER_EVENT_RETENTION_MS)})`,
        'seq',
      );
      if (this.failing) this.logger.log('pruning works again');
      this.failing = false;
    } catch (error) {
      // Housekeeping only: the next round retries.
      if (!this.failing) this.logger.warn(`pruning failed: ${(error as Error).message}`);
      this.failing = true;
    }
  }

  /** DELETE ... WHERE key IN (the first BATCH rows selected), until fewer come back or MAX_BATCHES. */
  private async deleteInBatches(table: string, select: string, key = 'id'): Promise<void> {
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const result: unknown = await this.dataSource.query(`DELETE FROM ${table} WHERE ${key} IN (${select} LIMIT ${BATCH})`);
      if (affectedRows(result) < BATCH) return;
      await yieldToRequests();
    }
  }
}

/** Only integers computed here are inlined into the SQL, never anything a client sent. */
function int(value: number): number {
  const rounded = Math.floor(value);
  if (!Number.isSafeInteger(rounded)) throw new Error(`not an integer: ${value}`);
  return rounded;
}

/** Rows a DELETE removed: PostgreSQL answers [rows, count], better-sqlite3 { changes }. */
function affectedRows(result: unknown): number {
  if (Array.isArray(result) && typeof result[1] === 'number') return result[1];
  if (result && typeof result === 'object' && typeof (result as { changes?: unknown }).changes === 'number') return (result as { changes: number }).changes;
  return 0;
}
