import { createClient } from 'redis';
import { cookiePair, sessionCookie } from './support/contract-suite';
import { DataSource } from 'typeorm';
import { freshDataDir, StorageSetup, testEnv, TEST_DATABASE_URL } from './support/environments';
import { freePort, PrivateRedis } from './support/redis-server';
import { appOnPrivateRedis, startApp, startAppWithEnv, TestApp } from './support/test-app';
import { eventually, sleep } from './support/waiting';

/*
 * The contract's promises under parallel requests and partial failures. Each race is fired
 * repeatedly; the fixes are correct by construction (conditional writes, version stamps,
 * atomic counters), so the repetition only guards against regressions.
 */

type Pair = { access_token: string; refresh_token: string };

async function jwtLogin(app: TestApp, email: string, password: string): Promise<Pair> {
  return (await app.http().post('/api/auth/login').send({ email, password }).expect(200)).body as Pair;
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function meStatus(app: TestApp, token: string): Promise<number> {
  return (await app.http().get('/api/me').set(bearer(token))).status;
}

/** One app, or two instances of one deployment (same database, Redis and secrets). */
interface Deployment {
  label: string;
  /** Where the attacker and the victim send their requests. */
  a: TestApp;
  b: TestApp;
  close(): Promise<void>;
}

async function single(setup: StorageSetup): Promise<Deployment> {
  const app = await startApp(setup, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '100000' });
  return { label: setup, a: app, b: app, close: () => app.close() };
}

async function pair(): Promise<Deployment> {
  const shared = testEnv('postgres+redis', { DATA_DIR: freshDataDir(), LOGIN_MAX_FAILURES_PER_ACCOUNT: '100000' });
  const a = await startAppWithEnv(shared);
  const b = await startAppWithEnv(shared);
  return {
    label: 'two instances',
    a,
    b,
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}

describe.each([
  ['sqlite', () => single('sqlite')],
  ['postgres+redis', () => single('postgres+redis')],
  ['two instances on postgres+redis', () => pair()],
])('races (%s)', (_label, make) => {
  let d: Deployment;

  beforeAll(async () => {
    d = await make();
  });
  afterAll(async () => {
    await d?.close();
  });

  it('a stolen refresh token rotated during logout-all keeps nothing alive', async () => {
    for (let trial = 0; trial < 6; trial++) {
      const user = await d.a.createUser();
      const stolen = await jwtLogin(d.a, user.email, user.password);
      const victim = await jwtLogin(d.b, user.email, user.password);
      const issued = [stolen.access_token];
      let latest = stolen;
      let stop = false;
      // The attacker rotates as fast as they can, each refresh chained on the last.
      const attacker = (async () => {
        while (!stop) {
          const res = await d.a.http().post('/api/auth/refresh').send({ refresh_token: latest.refresh_token });
          if (res.status !== 200) return;
          latest = res.body as Pair;
          issued.push(latest.access_token);
        }
      })();
      await sleep(5 + trial * 7);
      await d.b.http().post('/auth/logout-all').set(bearer(victim.access_token)).expect(204);
      stop = true;
      await attacker;

      await d.a.http().post('/api/auth/refresh').send({ refresh_token: latest.refresh_token }).expect(401);
      for (const token of issued) {
        expect(await meStatus(d.a, token)).toBe(401);
        expect(await meStatus(d.b, token)).toBe(401);
      }
    }
  });

  it('two presentations of one refresh token at once leave the family dead', async () => {
    for (let trial = 0; trial < 8; trial++) {
      const user = await d.a.createUser();
      const first = await jwtLogin(d.a, user.email, user.password);
      const second = (await d.a.http().post('/api/auth/refresh').send({ refresh_token: first.refresh_token }).expect(200)).body as Pair;
      const results = await Promise.all([d.a, d.b, d.a].map((app) => app.http().post('/api/auth/refresh').send({ refresh_token: second.refresh_token })));
      const winners = results.filter((res) => res.status === 200).map((res) => res.body as Pair);
      expect(results.every((res) => res.status === 200 || res.status === 401)).toBe(true);
      expect(winners.length).toBeLessThanOrEqual(1);

      // Whatever won, reuse was detected: nothing of the family works any more.
      for (const winner of winners) {
        expect(await meStatus(d.a, winner.access_token)).toBe(401);
        expect(await meStatus(d.b, winner.access_token)).toBe(401);
        await d.b.http().post('/api/auth/refresh').send({ refresh_token: winner.refresh_token }).expect(401);
      }
      expect(await meStatus(d.b, second.access_token)).toBe(401);
      // A later replay still finds the family revoked, and a new login is unaffected.
      await d.a.http().post('/api/auth/refresh').send({ refresh_token: second.refresh_token }).expect(401);
      const fresh = await jwtLogin(d.b, user.email, user.password);
      expect(await meStatus(d.a, fresh.access_token)).toBe(200);
    }
  });

  it('a refresh racing a role change yields a working pair, never a spent token and a 401', async () => {
    const root = await d.a.createUser({ roles: ['admin'] });
    const rootToken = (await jwtLogin(d.a, root.email, root.password)).access_token;
    for (let trial = 0; trial < 4; trial++) {
      const user = await d.a.createUser({ roles: ['user', 'editor'] });
      const pairs = await Promise.all(Array.from({ length: 6 }, (_, i) => jwtLogin(i % 2 ? d.a : d.b, user.email, user.password)));
      const refreshes = pairs.map((p, i) =>
        (i % 2 ? d.b : d.a)
          .http()
          .post('/api/auth/refresh')
          .send({ refresh_token: p.refresh_token })
          .then((res) => res),
      );
      await sleep(trial * 3);
      await d.b
        .http()
        .put(`/api/admin/users/${user.id}/roles`)
        .set(bearer(rootToken))
        .send({ roles: ['user'] })
        .expect(200);
      for (const res of await Promise.all(refreshes)) {
        expect(res.status).toBe(200);
        const me = await d.a.http().get('/api/me').set(bearer(res.body.access_token));
        if (me.status === 200) expect(me.body.roles).toEqual(['user']);
        else expect(me.status).toBe(401);
        // The family lives on, and its next refresh carries the new roles.
        const next = (await d.b.http().post('/api/auth/refresh').send({ refresh_token: res.body.refresh_token }).expect(200)).body as Pair;
        expect((await d.a.http().get('/api/me').set(bearer(next.access_token)).expect(200)).body.roles).toEqual(['user']);
      }
    }
  });

  it('a role removed while a login is in flight is not on the credential it yields', async () => {
    const root = await d.a.createUser({ roles: ['admin'] });
    const rootToken = (await jwtLogin(d.a, root.email, root.password)).access_token;
    for (let trial = 0; trial < 5; trial++) {
      const admin = await d.a.createUser({ roles: ['admin', 'user'] });
      // Logins (JWT and session) start before the demotion and finish after it.
      const logins = [0, 5, 10, 20].map(async (delay, index) => {
        await sleep(delay);
        const group = index % 2 === 0 ? 'api' : 'web';
        const res = await (index % 2 === 0 ? d.a : d.b).http().post(`/${group}/auth/login`).send({ email: admin.email, password: admin.password });
        return { group, res };
      });
      await sleep(8 + trial * 4);
      await d.b
        .http()
        .put(`/api/admin/users/${admin.id}/roles`)
        .set(bearer(rootToken))
        .send({ roles: ['user'] })
        .expect(200);
      for (const { group, res } of await Promise.all(logins)) {
        if (res.status !== 200) continue;
        for (const app of [d.a, d.b]) {
          const me =
            group === 'api'
              ? await app.http().get('/api/me').set(bearer(res.body.access_token))
              : await app
                  .http()
                  .get('/web/me')
                  .set('Cookie', cookiePair(sessionCookie(res)));
          // Either the credential is dead, or it carries the roles of after the demotion.
          if (me.status === 200) expect(me.body.roles).toEqual(['user']);
          else expect(me.status).toBe(401);
        }
      }
    }
  });
});

describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('login limits under a burst (%s)', (setup) => {
  let t: TestApp;
  let address = 0;
  const client = () => `203.0.113.${++address}`;

  beforeAll(async () => {
    t = await startApp(setup, {
      TRUST_PROXY: '1',
      LOGIN_MAX_FAILURES_PER_ACCOUNT: '10',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '10',
      LOGIN_FAILURE_WINDOW_SECONDS: '60',
    });
  });
  afterAll(() => t.close());

  const attempt = (email: string, password: string, from: string) => t.http().post('/api/auth/login').set('X-Forwarded-For', from).send({ email, password });

  it('evaluates at most the account limit of 40 parallel wrong passwords, then refuses the right one', async () => {
    const user = await t.createUser();
    const results = await Promise.all(Array.from({ length: 40 }, () => attempt(user.email, 'wrong password', client())));
    const evaluated = results.filter((res) => res.status === 401).length;
    expect(results.every((res) => res.status === 401 || res.status === 429)).toBe(true);
    expect(evaluated).toBeLessThanOrEqual(10);
    const locked = await attempt(user.email, user.password, client()).expect(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('evaluates at most the address limit of 40 parallel attempts on many accounts', async () => {
    const from = client();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => attempt(`nobody${i}.${Date.now()}@example.test`, 'wrong password', from)));
    expect(results.filter((res) => res.status === 401).length).toBeLessThanOrEqual(10);
    const user = await t.createUser();
    await attempt(user.email, user.password, from).expect(429);
    await attempt(user.email, user.password, client()).expect(200);
  });

  it('gives back the points of successful logins, also when they come in parallel', async () => {
    const user = await t.createUser();
    const from = client();
    // Attempts in flight hold a point until they are judged, so the burst stays within the limit.
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(Array.from({ length: 8 }, () => attempt(user.email, user.password, from)));
      expect(results.map((res) => res.status)).toEqual(Array(8).fill(200));
    }
    for (let i = 0; i < 9; i++) await attempt(user.email, 'wrong password', from).expect(401);
    await attempt(user.email, user.password, from).expect(200);
  });
});

/** A private Redis in which the app's user may do everything except PUBLISH. */
async function redisWithoutPublish(): Promise<{ redis: PrivateRedis; url: string }> {
  const redis = new PrivateRedis(await freePort());
  await redis.start();
  const admin = createClient({ url: redis.url });
  await admin.connect();
  await admin.sendCommand(['ACL', 'SETUSER', 'app', 'on', '>app-password', '~*', '&*', '+@all', '-publish']);
  await admin.close();
  return { redis, url: `redis://app:app-password@127.0.0.1:${redis.port}` };
}

describe('a revocation whose broadcast is refused (Redis ACL denies PUBLISH)', () => {
  let redis: PrivateRedis;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    const denied = await redisWithoutPublish();
    redis = denied.redis;
    // A failed broadcast answers after REVOCATION_MAX_STALENESS_MS: short here, to keep the suite fast.
    const shared = testEnv('postgres+redis', {
      DATA_DIR: freshDataDir(),
      REDIS_URL: denied.url,
      REVOCATION_SYNC_INTERVAL_MS: '200',
      REVOCATION_MAX_STALENESS_MS: '2000',
    });
    a = await startAppWithEnv(shared);
    b = await startAppWithEnv(shared);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it('answers success only once it holds on every instance', async () => {
    const user = await a.createUser();
    const tokens = await jwtLogin(a, user.email, user.password);
    expect(await meStatus(b, tokens.access_token)).toBe(200);
    await a.http().post('/api/auth/logout').set(bearer(tokens.access_token)).send({ refresh_token: tokens.refresh_token }).expect(204);
    expect(await meStatus(a, tokens.access_token)).toBe(401);
    expect(await meStatus(b, tokens.access_token)).toBe(401);
    await b.http().post('/api/auth/refresh').send({ refresh_token: tokens.refresh_token }).expect(401);
  });

  it('logout-all and a demotion answer success and reach the other instance', async () => {
    const user = await a.createUser();
    const tokens = await jwtLogin(a, user.email, user.password);
    const browser = await a.http().post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);
    await a.http().post('/auth/logout-all').set(bearer(tokens.access_token)).expect(204);
    expect(await meStatus(a, tokens.access_token)).toBe(401);
    expect(await meStatus(b, tokens.access_token)).toBe(401);
    await b
      .http()
      .get('/web/me')
      .set('Cookie', cookiePair(sessionCookie(browser)))
      .expect(401);

    const admin = await a.createUser({ roles: ['admin'] });
    const adminToken = (await jwtLogin(a, admin.email, admin.password)).access_token;
    const demoted = await a.createUser({ roles: ['admin'] });
    const demotedToken = (await jwtLogin(b, demoted.email, demoted.password)).access_token;
    await a
      .http()
      .put(`/api/admin/users/${demoted.id}/roles`)
      .set(bearer(adminToken))
      .send({ roles: ['user'] })
      .expect(200);
    expect(await meStatus(b, demotedToken)).toBe(401);
  });
});

describe('reuse detected while Redis is down', () => {
  const env = appOnPrivateRedis({ REVOCATION_SYNC_INTERVAL_MS: '200', REVOCATION_MAX_STALENESS_MS: '2000' });

  it('still revokes the family, and its tokens stay dead once Redis is back', async () => {
    const { app: t, redis } = env;
    const user = await t.createUser();
    const first = await jwtLogin(t, user.email, user.password);
    const second = (await t.http().post('/api/auth/refresh').send({ refresh_token: first.refresh_token }).expect(200)).body as Pair;

    await redis.stop();
    const replay = await t.http().post('/api/auth/refresh').send({ refresh_token: first.refresh_token });
    expect(replay.status).toBe(401);

    await redis.start();
    await eventually(async () => (await t.http().get('/health/ready')).status === 200);
    await eventually(async () => (await meStatus(t, second.access_token)) !== 503);
    expect(await meStatus(t, second.access_token)).toBe(401);
    await t.http().post('/api/auth/refresh').send({ refresh_token: second.refresh_token }).expect(401);
  });
});

describe('a subscriber connection that flaps', () => {
  let redis: PrivateRedis;
  let a: TestApp;
  let b: TestApp;
  let admin: ReturnType<typeof createClient>;

  beforeAll(async () => {
    // A private Redis: cutting its subscribers must not disturb other suites.
    redis = new PrivateRedis(await freePort());
    await redis.start();
    admin = createClient({ url: redis.url });
    await admin.connect();
    const shared = testEnv('postgres+redis', { DATA_DIR: freshDataDir(), REDIS_URL: redis.url, REVOCATION_SYNC_INTERVAL_MS: '200' });
    a = await startAppWithEnv(shared);
    b = await startAppWithEnv(shared);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await admin?.close();
    await redis?.stop();
  });

  it('never serves a token revoked while it was reconnecting', async () => {
    const user = await a.createUser();
    for (let trial = 0; trial < 8; trial++) {
      const tokens = await jwtLogin(b, user.email, user.password);
      expect(await meStatus(a, tokens.access_token)).toBe(200);
      // Cut every subscriber connection while the logout is broadcast. B itself may answer 503
      // until it has caught up; it is asked again until the logout is made.
      const logout = async () => {
        for (;;) {
          const res = await b.http().post('/api/auth/logout').set(bearer(tokens.access_token));
          if (res.status === 204) return;
          expect(res.status).toBe(503);
          await sleep(20);
        }
      };
      await Promise.all([admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']), logout()]);
      // A cannot notice at once that its subscription dropped a message, but it reads the log
      // every 200 ms here: past that, it never lets the token through again.
      await sleep(600);
      for (let check = 0; check < 5; check++) {
        expect([401, 503]).toContain(await meStatus(a, tokens.access_token));
        await sleep(20);
      }
      await eventually(async () => (await meStatus(a, tokens.access_token)) === 401, 5000);
    }
  });
});

// A database that does not answer in time: every connection of the pool waits on a row that
// another client holds locked. Requests must be refused with 503, never answered with 500.
describe('a database too slow to hand out connections', () => {
  let t: TestApp;
  // Another client of the same database, outside the app.
  const outsider = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL });

  beforeAll(async () => {
    t = await startApp('postgres+redis');
    await outsider.initialize();
  });
  afterAll(async () => {
    await outsider.destroy();
    await t?.close();
  });

  it('answers 503 (not 500) while the pool is exhausted, and recovers', async () => {
    const admin = await t.createUser({ roles: ['admin'] });
    const target = await t.createUser();
    const token = (await jwtLogin(t, admin.email, admin.password)).access_token;
    const locker = outsider.createQueryRunner();
    await locker.connect();
    await locker.startTransaction();
    await locker.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [target.id]);
    // Sent now (a supertest request goes out only once awaited or then-ed).
    const changes = Array.from({ length: 16 }, (_, i) =>
      t
        .http()
        .put(`/api/admin/users/${target.id}/roles`)
        .set(bearer(token))
        .send({ roles: ['user', `r${i}`] })
        .then((res) => res),
    );
    await sleep(4500);
    await locker.rollbackTransaction();
    await locker.release();
    const statuses = (await Promise.all(changes)).map((res) => res.status);
    expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
    expect(statuses).toContain(503);
    await t
      .http()
      .put(`/api/admin/users/${target.id}/roles`)
      .set(bearer(token))
      .send({ roles: ['user'] })
      .expect(200);
  });
});

// Giving back the point of a successful login must not reach into the next window: the new
// window would start below zero, and a guesser could bank attempts that way.
describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('a successful login that straddles the end of a window (%s)', (setup) => {
  let t: TestApp;
  let address = 0;

  beforeAll(async () => {
    t = await startApp(setup, {
      TRUST_PROXY: '1',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '3',
      LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000',
      LOGIN_FAILURE_WINDOW_SECONDS: '2',
    });
  });
  afterAll(() => t.close());

  it('leaves the next window with no more than its limit of evaluated failures', async () => {
    const user = await t.createUser();
    for (const lead of [60, 30, 10]) {
      const from = `198.18.0.${++address}`;
      const attempt = (password: string) => t.http().post('/api/auth/login').set('X-Forwarded-For', from).send({ email: user.email, password });
      const opened = Date.now();
      await attempt('wrong password').expect(401); // opens the window
      // A correct login taken just before the window ends, given back just after it.
      await sleep(Math.max(0, opened + 2000 - lead - Date.now()));
      await attempt(user.password);
      await sleep(Math.max(0, opened + 2100 - Date.now()));
      const burst = await Promise.all(Array.from({ length: 10 }, () => attempt('wrong password')));
      expect(burst.filter((res) => res.status === 401).length).toBeLessThanOrEqual(3);
    }
  });
});

// The verifier accepts a token until exp plus its clock tolerance: a logout must hold as long.
describe('a logged-out token within the clock tolerance', () => {
  let t: TestApp;
  let env: ReturnType<typeof testEnv>;

  beforeAll(async () => {
    env = testEnv('postgres+redis', { DATA_DIR: freshDataDir(), ACCESS_TOKEN_TTL_SECONDS: '2', JWT_CLOCK_TOLERANCE_SECONDS: '5' });
    t = await startAppWithEnv(env);
  });
  afterAll(() => t.close());

  it('stays refused past its exp, also on an instance started afterwards', async () => {
    const user = await t.createUser();
    const early = await jwtLogin(t, user.email, user.password);
    const late = await jwtLogin(t, user.email, user.password);
    await t.http().post('/api/auth/logout').set(bearer(early.access_token)).expect(204);
    await sleep(2500); // both past exp, still within the tolerance
    expect(await meStatus(t, late.access_token)).toBe(200);
    await t.http().post('/api/auth/logout').set(bearer(late.access_token)).expect(204);
    expect(await meStatus(t, late.access_token)).toBe(401);
    expect(await meStatus(t, early.access_token)).toBe(401);
    const started = await startAppWithEnv(env);
    try {
      expect(await meStatus(started, early.access_token)).toBe(401);
      expect(await meStatus(started, late.access_token)).toBe(401);
    } finally {
      await started.close();
    }
  });
});
