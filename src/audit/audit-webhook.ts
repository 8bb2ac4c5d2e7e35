import { Inject, Injectable, Logger, BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHmac } from 'node:crypto';
import { IsNull, LessThanOrEqual, Not, Repository } from 'typeorm';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { AuditEventRecord } from './audit-event.entity';
import { toAuditEvent } from './audit.service';
import { MetricsService } from '../metrics/metrics.service';

const POLL_INTERVAL_MS = 500;
const BATCH = 20;
const PARALLEL = 4;
const REQUEST_TIMEOUT_MS = 10_000;
/** A claimed delivery whose instance died mid-request is tried again after this. */
const LEASE_MS = REQUEST_TIMEOUT_MS + 5_000;
const MAX_BACKOFF_MS = 3600_000;

export type DeliveryResult = 'delivered' | 'failed';

/** The signature a receiver recomputes over the raw body it got: `sha256=<hex HMAC-SHA256>`. */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Delivers the audit trail to AUDIT_WEBHOOK_URL, at least once, in no particular order (four
 * requests at a time per instance), from the database: the events
 * table is the outbox, so a delivery that failed, or an instance that stopped, loses nothing.
 * Each instance polls for due events and claims each with a conditional UPDATE (only the
 * instance that moves `next_delivery_at` from the value it read sends it), so several instances
 * share the work without sending an event twice, except after a crash mid-request (at least
 * once). A failure is retried with exponential backoff (with jitter) until a 2xx answer.
 */
@Injectable()
export class AuditWebhook implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditWebhook');
  private timer?: NodeJS.Timeout;
  private running: Promise<void> | null = null;
  private stopped = false;
  private failing = false;
  private readonly listeners: ((result: DeliveryResult) => void)[] = [];

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly config: AuthSwitchOptions,
    @InjectRepository(AuditEventRecord) private readonly events: Repository<AuditEventRecord>,
    private readonly metrics: MetricsService,
  ) {
    this.listeners.push((result) => this.metrics.webhookDelivery(result));
  }

  onModuleInit(): void {
    if (!this.config.audit.webhookUrl) return;
    this.timer = setInterval(() => void this.deliverDue(), POLL_INTERVAL_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  onDelivery(listener: (result: DeliveryResult) => void): void {
    this.listeners.push(listener);
  }

  /** One round: every due event (in batches), one at a time. Overlapping rounds are skipped. */
  deliverDue(): Promise<void> {
    if (this.running || this.stopped) return this.running ?? Promise.resolve();
    this.running = (async () => {
      try {
        for (;;) {
          const due = await this.events.find({
            where: { nextDeliveryAt: LessThanOrEqual(Date.now()) },
            order: { seq: 'ASC' },
            take: BATCH,
          });
          let claimed = 0;
          // A few at a time: one slow receiver answer (up to the timeout) holds up only its slot.
          for (let at = 0; at < due.length; at += PARALLEL) {
            if (this.stopped) return;
            const sent = await Promise.all(due.slice(at, at + PARALLEL).map(async (row) => (await this.claim(row)) && (await this.deliver(row), true)));
            claimed += sent.filter(Boolean).length;
          }
          if (due.length < BATCH || claimed === 0) return;
        }
      } catch (error) {
        this.logger.warn(`reading the webhook outbox failed: ${(error as Error).message}`);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Conditional: only one instance moves the row from the due time it read to its lease. */
  private async claim(row: AuditEventRecord): Promise<boolean> {
    const lease = Date.now() + LEASE_MS;
    const result = await this.events.update(
      { seq: row.seq, nextDeliveryAt: row.nextDeliveryAt ?? undefined },
      { nextDeliveryAt: lease, deliveryAttempts: () => 'delivery_attempts + 1' },
    );
    if (!result.affected) return false;
    row.nextDeliveryAt = lease;
    row.deliveryAttempts += 1;
    return true;
  }

  private async deliver(row: AuditEventRecord): Promise<void> {
    const body = JSON.stringify(toAuditEvent(row));
    let failure: string | null = null;
    try {
      const answer = await fetch(this.config.audit.webhookUrl!, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'AuthSwitch-Webhook',
          'x-authswitch-event-id': row.id,
          'x-authswitch-signature': signWebhookBody(this.config.audit.webhookSecret!, body),
        },
        body,
        // A redirect would re-send the event somewhere we were not told to send it.
        redirect: 'manual',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await answer.body?.cancel();
      if (answer.status < 200 || answer.status > 299) failure = `answered ${answer.status}`;
    } catch (error) {
      failure = (error as Error).message;
    }
    const leased = { seq: row.seq, nextDeliveryAt: row.nextDeliveryAt ?? undefined };
    if (failure === null) {
      await this.events.update(leased, { nextDeliveryAt: null, deliveredAt: Date.now() });
      if (this.failing) this.logger.log('webhook deliveries succeed again');
      this.failing = false;
    } else {
      const backoff = Math.min(MAX_BACKOFF_MS, this.config.audit.webhookRetryMs * 2 ** Math.min(30, row.deliveryAttempts - 1));
      await this.events.update(leased, { nextDeliveryAt: Date.now() + Math.round(backoff * (1 + Math.random() / 10)) });
      if (!this.failing) this.logger.warn(`webhook delivery of event ${row.id} failed (${failure}); retrying with backoff`);
      this.failing = true;
    }
    this.listeners.forEach((listener) => listener(failure === null ? 'delivered' : 'failed'));
  }

  /** Events still to deliver (tests, health). */
  pendingCount(): Promise<number> {
    return this.events.count({ where: { nextDeliveryAt: Not(IsNull()) } });
  }
}
