import { Inject, Injectable, Logger, BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { EntityManager, LessThan, Repository } from 'typeorm';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { AuditEventRecord } from './audit-event.entity';
import { AuditEvent, AuditEventType, NewAuditEvent } from './audit-events';
import { MetricsService } from '../metrics/metrics.service';

/** Events waiting for their own write (failed logins and the like) beyond this are dropped, and counted. */
const MAX_PENDING = 10_000;
const PRUNE_INTERVAL_MS = 3600_000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Details are small by construction; this only stops a mistake from filling the table. */
const MAX_DETAILS_CHARS = 2000;

export interface AuditQuery {
  type?: AuditEventType;
  userId?: string;
  /** Epoch ms: events at or after. */
  since?: number;
  limit: number;
  /** From a previous page's `next_cursor`. */
  cursor?: string;
}

export interface AuditPage {
  events: AuditEvent[];
  next_cursor: string | null;
}

/** Something that wants to know of each stored event type (metrics). */
export type AuditListener = (type: AuditEventType) => void;

/**
 * The audit trail. An event that records a change is written with `record(tx, …)` inside the
 * transaction of that change, so the two commit together or not at all. One that records no
 * change (a failed login, a refused client) is written on its own with `recordLater`, off the
 * answer's critical path, through a bounded queue: an attacker can make us drop events (counted,
 * logged), never grow memory. Emails are never stored, so deleting an account leaves its events
 * without one.
 */
@Injectable()
export class AuditService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('Audit');
  private pending: AuditEventRecord[] = [];
  private flushing: Promise<void> | null = null;
  private dropped = 0;
  private timer?: NodeJS.Timeout;
  private readonly listeners: AuditListener[] = [];

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly config: AuthSwitchOptions,
    @InjectRepository(AuditEventRecord) private readonly events: Repository<AuditEventRecord>,
    private readonly metrics: MetricsService,
  ) {
    this.listeners.push((type) => this.metrics.auditEvent(type));
  }

  onModuleInit(): void {
    this.timer = setInterval(
      () => void this.prune().catch((error: Error) => this.logger.warn(`pruning the audit trail failed: ${error.message}`)),
      PRUNE_INTERVAL_MS,
    );
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  onEvent(listener: AuditListener): void {
    this.listeners.push(listener);
  }

  /** Writes the event inside the caller's transaction: it commits (or not) with the change it records. */
  async record(tx: EntityManager, event: NewAuditEvent): Promise<void> {
    await tx.getRepository(AuditEventRecord).insert(this.row(event));
    this.listeners.forEach((listener) => listener(event.type));
  }

  /** Writes the event on its own and waits for it (a change made outside the database, e.g. a Redis session). */
  async recordNow(event: NewAuditEvent): Promise<void> {
    await this.events.insert(this.row(event));
    this.listeners.forEach((listener) => listener(event.type));
  }

  /** Queues an event that records no change; written shortly, in a batch, after the answer. */
  recordLater(event: NewAuditEvent): void {
    if (this.pending.length >= MAX_PENDING) {
      if (this.dropped++ === 0) this.logger.warn('audit events are arriving faster than they can be written; dropping some');
      return;
    }
    this.pending.push(this.row(event));
    this.listeners.forEach((listener) => listener(event.type));
    if (!this.flushing) this.flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.writePending());
  }

  /** Writes what recordLater queued (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async writePending(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, 200);
        try {
          await this.events.insert(batch);
        } catch (error) {
          this.logger.warn(`${batch.length} audit event(s) could not be written: ${(error as Error).message}`);
        }
      }
      if (this.dropped > 0) {
        this.logger.warn(`${this.dropped} audit event(s) were dropped (queue full)`);
        this.dropped = 0;
      }
    } finally {
      this.flushing = null;
    }
  }

  /** Newest first; the cursor is the position of the last event of the previous page. */
  async list(query: AuditQuery): Promise<AuditPage> {
    const builder = this.events
      .createQueryBuilder('e')
      .orderBy('e.seq', 'DESC')
      .take(query.limit + 1);
    if (query.type) builder.andWhere('e.type = :type', { type: query.type });
    if (query.userId) builder.andWhere('e.user_id = :userId', { userId: query.userId });
    if (query.since !== undefined) builder.andWhere('e.at >= :since', { since: query.since });
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    if (after !== null) builder.andWhere('e.seq < :after', { after });
    const rows = await builder.getMany();
    const page = rows.slice(0, query.limit);
    return { events: page.map(toAuditEvent), next_cursor: rows.length > query.limit ? encodeCursor(page[page.length - 1].seq) : null };
  }

  /**
   * How many events of these types happened in each hour since `sinceMs` (epoch ms), as
   * `{type, hourStart, count}` rows, only for hours that had some. Grouped in SQL by the integer
   * division of `at` by an hour, which SQLite and PostgreSQL compute alike on integers.
   */
  async countByHour(types: readonly AuditEventType[], sinceMs: number): Promise<Array<{ type: AuditEventType; hourStart: number; count: number }>> {
    if (types.length === 0) return [];
    const hour = `e.at / ${HOUR_MS}`;
    const rows = await this.events
      .createQueryBuilder('e')
      .select('e.type', 'type')
      .addSelect(hour, 'hour')
      .addSelect('COUNT(*)', 'count')
      .where('e.type IN (:...types)', { types })
      .andWhere('e.at >= :since', { since: Math.floor(sinceMs) })
      .groupBy('e.type')
      .addGroupBy(hour)
      .getRawMany<{ type: AuditEventType; hour: number | string; count: number | string }>();
    return rows.map((row) => ({ type: row.type, hourStart: Number(row.hour) * HOUR_MS, count: Number(row.count) }));
  }

  /** Deletes events older than the retention (AUDIT_RETENTION_DAYS). */
  async prune(now = Date.now()): Promise<number> {
    const result = await this.events.delete({ at: LessThan(now - this.config.audit.retentionDays * DAY_MS) });
    return result.affected ?? 0;
  }

  private row(event: NewAuditEvent): AuditEventRecord {
    const at = Date.now();
    let details = event.details ?? {};
    if (JSON.stringify(details).length > MAX_DETAILS_CHARS) details = { truncated: true };
    return this.events.create({
      id: randomUUID(),
      type: event.type,
      at,
      actorKind: event.actor.kind,
      actorId: event.actor.id?.slice(0, 64) ?? null,
      userId: event.userId ?? null,
      ip: event.origin?.ip?.slice(0, 64) || null,
      userAgent: event.origin?.userAgent?.slice(0, 200) || null,
      group: event.origin?.group?.slice(0, 64) || null,
      details,
      // The table is its own outbox: with a webhook, every event is due for delivery at once.
      nextDeliveryAt: this.config.audit.webhookUrl ? at : null,
      deliveryAttempts: 0,
      deliveredAt: null,
    });
  }
}

export function toAuditEvent(row: AuditEventRecord): AuditEvent {
  return {
    id: row.id,
    type: row.type,
    at: new Date(row.at).toISOString(),
    actor: { kind: row.actorKind as AuditEvent['actor']['kind'], id: row.actorId },
    userId: row.userId,
    ip: row.ip,
    userAgent: row.userAgent,
    group: row.group,
    details: row.details,
  };
}

function encodeCursor(seq: number): string {
  return Buffer.from(`e:${seq}`).toString('base64url');
}

/** A cursor we did not make is an error of the caller's (400), never a query. */
export function decodeCursor(cursor: string): number | null {
  const match = /^e:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : null;
}
