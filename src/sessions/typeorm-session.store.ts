import { SessionData, Store } from 'express-session';
import { MoreThan, Repository } from 'typeorm';
import { SessionRecord } from './session-record.entity';
import './session-data';

type Callback = (error?: unknown) => void;

/**
 * express-session store in the application's own database, for deployments without Redis.
 * The owner's id is kept in a column so that all of a user's sessions can be found.
 * Sessions expire at a fixed time after login (no touch), as they do with Redis.
 */
export class TypeormSessionStore extends Store {
  constructor(
    private readonly records: Repository<SessionRecord>,
    private readonly ttlMs: number,
  ) {
    super();
  }

  override get(sid: string, callback: (error: unknown, session?: SessionData | null) => void): void {
    this.records.findOneBy({ sid }).then(
      (row) => callback(null, row && row.expiresAt > Date.now() ? (JSON.parse(row.data) as SessionData) : null),
      (error) => callback(error),
    );
  }

  override set(sid: string, session: SessionData, callback?: Callback): void {
    const expires = session.cookie?.expires ? new Date(session.cookie.expires).getTime() : Date.now() + this.ttlMs;
    this.records.upsert({ sid, userId: session.auth?.userId ?? null, data: JSON.stringify(session), expiresAt: expires }, ['sid']).then(
      () => callback?.(),
      (error) => callback?.(error),
    );
  }

  override destroy(sid: string, callback?: Callback): void {
    this.records.delete({ sid }).then(
      () => callback?.(),
      (error) => callback?.(error),
    );
  }

  override touch(_sid: string, _session: SessionData, callback?: Callback): void {
    callback?.();
  }

  async listForUser(userId: string): Promise<Array<{ sid: string; session: SessionData; lastUsedAt: number | null }>> {
    const rows = await this.records.find({ where: { userId, expiresAt: MoreThan(Date.now()) } });
    return rows.map((row) => ({ sid: row.sid, session: JSON.parse(row.data) as SessionData, lastUsedAt: row.lastUsedAt }));
  }

  /**
   * Records a last use by sid alone, never through `data`: a session destroyed meanwhile has no
   * row to update, so it stays destroyed. Only moves forward (instances flush independently).
   */
  async recordLastUse(sid: string, at: number): Promise<void> {
    await this.records
      .createQueryBuilder()
      .update()
      .set({ lastUsedAt: at })
      .where('sid = :sid AND (last_used_at IS NULL OR last_used_at < :at)', { sid, at })
      .execute();
  }

  async destroyAllForUser(userId: string): Promise<void> {
    await this.records.delete({ userId });
  }

  async pruneExpired(): Promise<void> {
    await this.records.createQueryBuilder().delete().where('expires_at <= :now', { now: Date.now() }).execute();
  }
}
