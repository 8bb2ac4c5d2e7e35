import { register as globalRegistry } from 'prom-client';
import { MetricsService } from './metrics.service';

const TOKEN = 'a'.repeat(24) + '-metrics-token';

/** The value of one series (summed over the series matching the labels given). */
async function valueOf(metrics: MetricsService, name: string, labels: Record<string, string | number> = {}): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((value) => Object.entries(labels).every(([label, wanted]) => value.labels[label] === wanted))
    .reduce((sum, value) => sum + value.value, 0);
}

describe('MetricsService', () => {
  it('keeps its metrics in a registry of its own: two applications in one process never share one', async () => {
    const a = new MetricsService({ metrics: { token: null } });
    const b = new MetricsService({ metrics: { token: null } });
    a.login('web', 'succeeded');
    a.login('web', 'succeeded');
    b.login('web', 'failed');
    expect(await valueOf(a, 'authswitch_logins_total', { group: 'web', result: 'succeeded' })).toBe(2);
    expect(await valueOf(b, 'authswitch_logins_total', { group: 'web', result: 'succeeded' })).toBe(0);
    expect(await valueOf(b, 'authswitch_logins_total', { result: 'failed' })).toBe(1);
    expect(a.registry).not.toBe(b.registry);
    expect(globalRegistry.getSingleMetric('authswitch_logins_total')).toBeUndefined();
  });

  it('defines every metric of the contract, and the process metrics under their standard names', async () => {
    const text = await new MetricsService({ metrics: { token: null } }).metrics();
    for (const name of [
      'authswitch_auth_decisions_total',
      'authswitch_logins_total',
      'authswitch_refresh_total',
      'authswitch_revocations_total',
      'authswitch_revocation_lag_seconds',
      'authswitch_limit_blocks_total',
      'authswitch_audit_events_total',
      'authswitch_webhook_deliveries_total',
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('# TYPE authswitch_revocation_lag_seconds histogram');
  });

  it('counts each helper under its labels', async () => {
    const metrics = new MetricsService({ metrics: { token: null } });
    metrics.authDecision('api', 'jwt', 'allowed');
    metrics.authDecision('api', 'jwt', 'allowed');
    metrics.authDecision('api', 'jwt', 'unauthenticated');
    metrics.refresh('rotated');
    metrics.revocation('token');
    metrics.limitBlocked('loginFailuresPerAccount');
    metrics.auditEvent('login.failed');
    metrics.webhookDelivery('delivered');
    metrics.webhookDelivery('failed');
    expect(await valueOf(metrics, 'authswitch_auth_decisions_total', { group: 'api', strategy: 'jwt', result: 'allowed' })).toBe(2);
    expect(await valueOf(metrics, 'authswitch_auth_decisions_total', { result: 'unauthenticated' })).toBe(1);
    expect(await valueOf(metrics, 'authswitch_refresh_total', { result: 'rotated' })).toBe(1);
    expect(await valueOf(metrics, 'authswitch_revocations_total', { kind: 'token' })).toBe(1);
    expect(await valueOf(metrics, 'authswitch_limit_blocks_total', { limit: 'loginFailuresPerAccount' })).toBe(1);
    expect(await valueOf(metrics, 'authswitch_audit_events_total', { type: 'login.failed' })).toBe(1);
    expect(await valueOf(metrics, 'authswitch_webhook_deliveries_total', { result: 'failed' })).toBe(1);
  });

  it('observes the revocation lag in seconds, a clock behind ours as 0, and ignores a message without a time', async () => {
    const metrics = new MetricsService({ metrics: { token: null } });
    const now = 1_700_000_000_000;
    metrics.revocationApplied(now - 3, now);
    metrics.revocationApplied(now - 700, now);
    metrics.revocationApplied(now + 50, now);
    metrics.revocationApplied(undefined, now);
    metrics.revocationApplied('yesterday', now);
    const name = 'authswitch_revocation_lag_seconds';
    expect(await valueOf(metrics, name, { le: 0.005 })).toBe(2);
    expect(await valueOf(metrics, name, { le: 1 })).toBe(3);
    // A histogram's values name their series (_bucket, _sum, _count); the type does not say so.
    const { values } = (await metrics.registry.getSingleMetric(name)!.get()) as { values: { metricName?: string; value: number }[] };
    expect(values.find((value) => value.metricName === `${name}_count`)?.value).toBe(3);
    expect(values.find((value) => value.metricName === `${name}_sum`)?.value).toBeCloseTo(0.703, 6);
  });

  it('authorizes only the configured Bearer token, and nothing without one', () => {
    const off = new MetricsService({ metrics: { token: null } });
    expect(off.enabled).toBe(false);
    expect(off.authorizes(`Bearer ${TOKEN}`)).toBe(false);
    expect(off.authorizes('Bearer ')).toBe(false);

    const on = new MetricsService({ metrics: { token: TOKEN } });
    expect(on.enabled).toBe(true);
    expect(on.authorizes(`Bearer ${TOKEN}`)).toBe(true);
    expect(on.authorizes(`bearer ${TOKEN}`)).toBe(true);
    expect(on.authorizes(undefined)).toBe(false);
    expect(on.authorizes('')).toBe(false);
    expect(on.authorizes('Bearer')).toBe(false);
    expect(on.authorizes(TOKEN)).toBe(false);
    expect(on.authorizes(`Basic ${TOKEN}`)).toBe(false);
    expect(on.authorizes(`Bearer ${TOKEN}x`)).toBe(false);
    expect(on.authorizes(`Bearer ${TOKEN.slice(1)}`)).toBe(false);
    expect(on.authorizes(`Bearer ${TOKEN} extra`)).toBe(false);
  });
});
