import { Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';

/** What the guard decided for a request that needed credentials. */
export type DecisionResult = 'allowed' | 'unauthenticated' | 'forbidden' | 'unavailable' | 'error';
/** How a sign-in with a password ended. */
export type SignInResult = 'succeeded' | 'failed' | 'limited' | 'disabled' | 'unverified' | 'unavailable' | 'error';
/**
 * How a refresh ended: a new pair (rotated), the pair already handed out (grace), a refusal
 * (invalid), a store down (unavailable). `reuse_detected` is counted besides the `invalid` answer
 * of a presentation judged a reuse (its family is revoked).
 */
export type RefreshResult = 'rotated' | 'grace' | 'invalid' | 'reuse_detected' | 'unavailable' | 'error';
/** How one delivery attempt of the audit webhook ended. */
export type WebhookDeliveryResult = 'delivered' | 'failed';

/**
 * Revocation lag buckets (seconds): a broadcast is applied within milliseconds when all is well;
 * the upper ones catch a busy event loop or a slow Redis, and clocks that differ.
 */
export const REVOCATION_LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * AuthSwitch's Prometheus metrics, in a registry of its own: never prom-client's global one, so
 * that several applications in one process (a host's, the tests') never share or redefine a
 * metric. Hosts may register their own metrics in `registry`, or read it.
 *
 * Label values are bounded: route groups and strategies (configured), results and kinds (fixed
 * sets), limit names, event types. Never a user id, an email or an address.
 *
 * The process metrics (prom-client's defaults, standard names) join the registry when it is
 * first read, not at boot: their event-loop and GC observers cannot be stopped again, and an
 * application that never exposes its metrics (most tests boot dozens) need not run them.
 */
@Injectable()
export class MetricsService {
  private readonly own = new Registry();
  private processMetrics = false;
  /** The token's digest: compared in constant time whatever the length presented. */
  private readonly tokenDigest: Buffer | null;

  private readonly decisions = new Counter({
    name: 'authswitch_auth_decisions_total',
    help: 'Requests to routes that need credentials, by route group, strategy and result (allowed, unauthenticated, forbidden, unavailable, error)',
    labelNames: ['group', 'strategy', 'result'] as const,
    registers: [this.own],
  });
  private readonly logins = new Counter({
    name: 'authswitch_logins_total',
    help: 'Password sign-ins by route group and result (succeeded, failed, limited, disabled, unverified, unavailable, error)',
    labelNames: ['group', 'result'] as const,
    registers: [this.own],
  });
  private readonly refreshes = new Counter({
    name: 'authswitch_refresh_total',
    help: 'Refresh-token presentations by result (rotated, grace, invalid, unavailable, error); reuse_detected besides invalid for a reuse',
    labelNames: ['result'] as const,
    registers: [this.own],
  });
  private readonly revocations = new Counter({
    name: 'authswitch_revocations_total',
    help: 'Revocations committed by this instance, by kind (token, family, user, client, verified)',
    labelNames: ['kind'] as const,
    registers: [this.own],
  });
  private readonly revocationLag = new Histogram({
    name: 'authswitch_revocation_lag_seconds',
    help: 'From the commit of a revocation on another instance to its broadcast applied on this one',
    buckets: REVOCATION_LAG_BUCKETS,
    registers: [this.own],
  });
  private readonly limitBlocks = new Counter({
    name: 'authswitch_limit_blocks_total',
    help: 'Attempts refused (429) by an attempt limit, by limit name',
    labelNames: ['limit'] as const,
    registers: [this.own],
  });
  private readonly auditEvents = new Counter({
    name: 'authswitch_audit_events_total',
    help: 'Audit events recorded, by type',
    labelNames: ['type'] as const,
    registers: [this.own],
  });
  private readonly webhookDeliveries = new Counter({
    name: 'authswitch_webhook_deliveries_total',
    help: 'Audit webhook delivery attempts, by result (delivered, failed)',
    labelNames: ['result'] as const,
    registers: [this.own],
  });

  /** Children of the decision counter by their labels: the guard counts on every request. */
  private readonly decisionChildren = new Map<string, { inc(): void }>();

  constructor(@Inject(AUTH_SWITCH_OPTIONS) options: Pick<AuthSwitchOptions, 'metrics'>) {
    const token = options.metrics.token;
    this.tokenDigest = token === null ? null : digest(token);
  }

  /** The registry (the process metrics included); hosts may add their own metrics to it. */
  get registry(): Registry {
    if (!this.processMetrics) {
      this.processMetrics = true;
      collectDefaultMetrics({ register: this.own });
    }
    return this.own;
  }

  get contentType(): string {
    return this.own.contentType;
  }

  /** Every metric in the Prometheus text format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Whether `GET /metrics` is on (a token is configured). */
  get enabled(): boolean {
    return this.tokenDigest !== null;
  }

  /**
   * Whether an Authorization header bears the configured token. Compared as SHA-256 digests in
   * constant time, so neither the token's content nor its length leaks through timing.
   */
  authorizes(authorization: string | undefined): boolean {
    if (this.tokenDigest === null || typeof authorization !== 'string') return false;
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match) return false;
    return timingSafeEqual(digest(match[1]), this.tokenDigest);
  }

  authDecision(group: string, strategy: string, result: DecisionResult): void {
    const key = `${group}\u0000${strategy}\u0000${result}`;
    let child = this.decisionChildren.get(key);
    if (!child) this.decisionChildren.set(key, (child = this.decisions.labels(group, strategy, result)));
    child.inc();
  }

  login(group: string, result: SignInResult): void {
    this.logins.inc({ group, result });
  }

  refresh(result: RefreshResult): void {
    this.refreshes.inc({ result });
  }

  revocation(kind: string): void {
    this.revocations.inc({ kind });
  }

  /**
   * A revocation committed elsewhere at `createdAt` (epoch ms, the committing instance's clock)
   * has been applied here. Clocks of instances may differ a little: a negative lag counts as 0.
   */
  revocationApplied(createdAt: unknown, now = Date.now()): void {
    if (typeof createdAt !== 'number' || !Number.isFinite(createdAt)) return;
    this.revocationLag.observe(Math.max(0, now - createdAt) / 1000);
  }

  limitBlocked(limit: string): void {
    this.limitBlocks.inc({ limit });
  }

  auditEvent(type: string): void {
    this.auditEvents.inc({ type });
  }

  webhookDelivery(result: WebhookDeliveryResult): void {
    this.webhookDeliveries.inc({ result });
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
