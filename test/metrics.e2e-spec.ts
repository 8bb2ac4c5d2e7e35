import { randomBytes } from 'node:crypto';
import { expectErrorShape } from './support/contract-suite';
import { dropRedisKeys, freshDataDir, testEnv } from './support/environments';
import { startAppWithEnv, TestApp } from './support/test-app';
import { eventually } from './support/waiting';

// GET /metrics on two instances behind one load balancer (one PostgreSQL, one Redis prefix):
// hidden (404) without the token, and counters that move with the traffic sent.

const TOKEN = randomBytes(24).toString('base64url');
const MAX_FAILURES_PER_ACCOUNT = 3;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  /** `# TYPE` of each metric family. */
  types: Map<string, string>;
  samples: Sample[];
  /** The sum of the samples of `name` whose labels include `labels` (0 when none). */
  value(name: string, labels?: Record<string, string>): number;
}

/** The Prometheus text format (0.0.4): `# TYPE` lines, and samples `name{label="value",...} number`. */
function parseMetrics(text: string): Scrape {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice('# TYPE '.length).split(' ');
      types.set(name, type);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const nameEnd = line.search(/[{ ]/);
    const name = line.slice(0, nameEnd);
    const labels: Record<string, string> = {};
    let at = nameEnd;
    if (line[at] === '{') {
      at += 1;
      while (line[at] !== '}') {
        const eq = line.indexOf('=', at);
        const label = line.slice(at, eq).replace(/^,/, '');
        at = eq + 2; // past `="`
        let value = '';
        while (line[at] !== '"') {
          if (line[at] === '\\') {
            at += 1;
            value += line[at] === 'n' ? '\n' : line[at];
          } else value += line[at];
          at += 1;
        }
        labels[label] = value;
        at += 1; // past the closing quote
        if (line[at] === ',') at += 1;
      }
      at += 1; // past `}`
    }
    const [number] = line.slice(at).trim().split(' ');
    samples.push({ name, labels, value: number === '+Inf' ? Infinity : number === '-Inf' ? -Infinity : Number(number) });
  }
  return {
    types,
    samples,
    value: (name, labels = {}) =>
      samples
        .filter((sample) => sample.name === name && Object.entries(labels).every(([label, wanted]) => sample.labels[label] === wanted))
        .reduce((sum, sample) => sum + sample.value, 0),
  };
}

async function scrape(app: TestApp): Promise<Scrape> {
  const res = await app.http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseMetrics(res.text);
}

describe('GET /metrics', () => {
  let a: TestApp;
  let b: TestApp;
  let off: TestApp;
  const prefix = `test:metrics:${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    const shared = {
      DATA_DIR: freshDataDir(),
      REDIS_KEY_PREFIX: prefix,
      METRICS_TOKEN: TOKEN,
      LOGIN_MAX_FAILURES_PER_ACCOUNT: String(MAX_FAILURES_PER_ACCOUNT),
    };
    a = await startAppWithEnv(testEnv('postgres+redis', shared));
    b = await startAppWithEnv(testEnv('postgres+redis', shared));
    off = await startAppWithEnv(testEnv('postgres+redis'));
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close(), off?.close()]);
    await dropRedisKeys(prefix);
  });

  const login = async (app: TestApp, email: string, password: string) =>
    (await app.http().post('/api/auth/login').send({ email, password }).expect(200)).body as { access_token: string; refresh_token: string };

  it('is a route that does not exist (404, as any unknown route) without the token, with a wrong one, or when none is set', async () => {
    const unknown = await a.http().get('/no-such-route').expect(404);
    const refusals = [
      await a.http().get('/metrics'),
      await a.http().get('/metrics').set('Authorization', 'Bearer '),
      await a
        .http()
        .get('/metrics')
        .set('Authorization', `Bearer ${TOKEN.slice(0, -1)}`),
      await a.http().get('/metrics').set('Authorization', `Bearer ${TOKEN}x`),
      await a
        .http()
        .get('/metrics')
        .set('Authorization', `Basic ${Buffer.from(`metrics:${TOKEN}`).toString('base64')}`),
      await b.http().get('/metrics').set('Authorization', `Bearer ${TOKEN.toUpperCase()}`),
      await off.http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`),
      await off.http().get('/metrics'),
    ];
    for (const res of refusals) {
      expect(res.status).toBe(404);
      expectErrorShape(res.body, 404);
      expect(res.body).toEqual({ ...unknown.body, message: 'Cannot GET /metrics' });
      expect(res.text).not.toContain('authswitch_');
    }
  });

  it('answers the Prometheus text format with the token: every metric of the contract and the process metrics', async () => {
    const metrics = await scrape(a);
    expect(Object.fromEntries([...metrics.types].filter(([name]) => name.startsWith('authswitch_')))).toEqual({
      authswitch_auth_decisions_total: 'counter',
      authswitch_logins_total: 'counter',
      authswitch_refresh_total: 'counter',
      authswitch_revocations_total: 'counter',
      authswitch_revocation_lag_seconds: 'histogram',
      authswitch_limit_blocks_total: 'counter',
      authswitch_audit_events_total: 'counter',
      authswitch_webhook_deliveries_total: 'counter',
    });
    expect(metrics.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(metrics.value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(metrics.types.get('process_resident_memory_bytes')).toBe('gauge');
    expect(metrics.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
  });

  it('counts a failed and a successful sign-in by group and result', async () => {
    const user = await a.createUser();
    const before = await scrape(a);
    await a.http().post('/api/auth/login').send({ email: user.email, password: 'not the password' }).expect(401);
    await login(a, user.email, user.password);
    await a.http().post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);
    const after = await scrape(a);
    const delta = (labels: Record<string, string>) => after.value('authswitch_logins_total', labels) - before.value('authswitch_logins_total', labels);
    expect(delta({ group: 'api', result: 'failed' })).toBe(1);
    expect(delta({ group: 'api', result: 'succeeded' })).toBe(1);
    expect(delta({ group: 'web', result: 'succeeded' })).toBe(1);
    expect(delta({})).toBe(3);
    // Never who: no email, no id in any label.
    expect(after.samples.some((sample) => Object.values(sample.labels).some((value) => value.includes('@') || value === user.id))).toBe(false);
  });

  it('counts the guard’s decisions: a refused request as unauthenticated, a let-through one as allowed', async () => {
    const user = await a.createUser();
    const tokens = await login(a, user.email, user.password);
    const before = await scrape(a);
    await a.http().get('/api/me').expect(401);
    await a.http().get('/api/me').set('Authorization', 'Bearer not.a.token').expect(401);
    await a.http().get('/api/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(200);
    await a.http().get('/health').expect(200); // public: no decision
    const after = await scrape(a);
    const delta = (result: string) =>
      after.value('authswitch_auth_decisions_total', { group: 'api', strategy: 'jwt', result }) -
      before.value('authswitch_auth_decisions_total', { group: 'api', strategy: 'jwt', result });
    expect(delta('unauthenticated')).toBe(2);
    expect(delta('allowed')).toBe(1);
    expect(after.value('authswitch_auth_decisions_total') - before.value('authswitch_auth_decisions_total')).toBe(3);
  });

  it('observes on B the lag of a logout committed on A (and not on A, whose own broadcast it is)', async () => {
    const user = await a.createUser();
    const tokens = await login(a, user.email, user.password);
    const [beforeA, beforeB] = [await scrape(a), await scrape(b)];
    await a.http().post('/api/auth/logout').set('Authorization', `Bearer ${tokens.access_token}`).expect(204);
    let afterB = beforeB;
    await eventually(async () => {
      afterB = await scrape(b);
      return afterB.value('authswitch_revocation_lag_seconds_count') > beforeB.value('authswitch_revocation_lag_seconds_count');
    });
    expect(afterB.value('authswitch_revocation_lag_seconds_count') - beforeB.value('authswitch_revocation_lag_seconds_count')).toBe(1);
    expect(afterB.value('authswitch_revocation_lag_seconds_bucket', { le: '+Inf' })).toBe(afterB.value('authswitch_revocation_lag_seconds_count'));
    const afterA = await scrape(a);
    expect(afterA.value('authswitch_revocations_total', { kind: 'token' }) - beforeA.value('authswitch_revocations_total', { kind: 'token' })).toBe(1);
    expect(afterA.value('authswitch_revocation_lag_seconds_count')).toBe(beforeA.value('authswitch_revocation_lag_seconds_count'));
    // B committed nothing.
    expect(afterB.value('authswitch_revocations_total')).toBe(beforeB.value('authswitch_revocations_total'));
  });

  it('counts refreshes: rotated, then a reuse (reuse_detected, answered as invalid)', async () => {
    const user = await a.createUser();
    const tokens = await login(a, user.email, user.password);
    const before = await scrape(a);
    await a.http().post('/api/auth/refresh').send({ refresh_token: tokens.refresh_token }).expect(200);
    await a.http().post('/api/auth/refresh').send({ refresh_token: tokens.refresh_token }).expect(401);
    await a.http().post('/api/auth/refresh').send({ refresh_token: 'never-issued' }).expect(401);
    const after = await scrape(a);
    const delta = (result: string) => after.value('authswitch_refresh_total', { result }) - before.value('authswitch_refresh_total', { result });
    expect(delta('rotated')).toBe(1);
    expect(delta('reuse_detected')).toBe(1);
    expect(delta('invalid')).toBe(2);
    expect(after.value('authswitch_revocations_total', { kind: 'family' }) - before.value('authswitch_revocations_total', { kind: 'family' })).toBe(1);
  });

  it('counts a blocked limit by its name, and the sign-in it refused as limited', async () => {
    const user = await a.createUser();
    const before = await scrape(a);
    for (let attempt = 0; attempt < MAX_FAILURES_PER_ACCOUNT; attempt++) {
      await a.http().post('/api/auth/login').send({ email: user.email, password: 'not the password' }).expect(401);
    }
    // The counters are shared through Redis: B refuses the next attempt.
    await b.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(429);
    const [afterA, afterB] = [await scrape(a), await scrape(b)];
    expect(afterA.value('authswitch_limit_blocks_total')).toBe(before.value('authswitch_limit_blocks_total'));
    expect(afterB.value('authswitch_limit_blocks_total', { limit: 'loginFailuresPerAccount' })).toBe(1);
    expect(afterB.value('authswitch_logins_total', { group: 'api', result: 'limited' })).toBe(1);
  });
});
