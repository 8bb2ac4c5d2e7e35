import { cookiePair, expectErrorShape, sessionCookie } from './support/contract-suite';
import { freshDataDir, testEnv, TEST_REDIS_URL } from './support/environments';
import { PrivatePostgres } from './support/postgres-server';
import { freePort } from './support/redis-server';
import { SlowLink } from './support/slow-link';
import { appOnPrivateRedis, startAppWithEnv, TestApp } from './support/test-app';
import { eventually } from './support/waiting';

// A store that stops answering must never let a request through unauthenticated: 503.
describe('when Redis goes down', () => {
  const env = appOnPrivateRedis();

  it('answers 503 on protected routes, keeps public ones up, and recovers', async () => {
    const { app: t, redis } = env;
    const user = await t.createUser();
    const tokens = (await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200)).body;
    const browser = await t.http().post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);
    const cookie = cookiePair(sessionCookie(browser));
    const bearer = { Authorization: `Bearer ${tokens.access_token}` };
    await t.http().get('/api/me').set(bearer).expect(200);

    await redis.stop();

    const jwtDown = await t.http().get('/api/me').set(bearer).expect(503);
    expectErrorShape(jwtDown.body, 503);
    expectErrorShape((await t.http().get('/web/me').set('Cookie', cookie).expect(503)).body, 503);
    expectErrorShape((await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(503)).body, 503);
    expectErrorShape((await t.http().post('/auth/logout-all').set(bearer).expect(503)).body, 503);
    const ready = await t.http().get('/health/ready').expect(503);
    expectErrorShape(ready.body, 503);
    await t.http().get('/health').expect(200);
    await t.http().get('/login').expect(200);

    await redis.start();
    await eventually(async () => (await t.http().get('/api/me').set(bearer)).status === 200);
    await t.http().get('/health/ready').expect(200);
    await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
  });
});

describe('when PostgreSQL goes down', () => {
  let postgres: PrivatePostgres;
  let t: TestApp;

  beforeAll(async () => {
    postgres = new PrivatePostgres(await freePort());
    postgres.init();
    postgres.start();
    t = await startAppWithEnv(testEnv('postgres+redis', { DATABASE_URL: postgres.url }));
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    postgres?.destroy();
  });

  it('answers 503 where the database is needed, keeps JWT checks working, and recovers', async () => {
    const user = await t.createUser();
    const tokens = (await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200)).body;
    const bearer = { Authorization: `Bearer ${tokens.access_token}` };

    postgres.stop();

    expectErrorShape((await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(503)).body, 503);
    expectErrorShape((await t.http().post('/auth/register').send({ email: 'down@example.test', password: 'password123' }).expect(503)).body, 503);
    expectErrorShape((await t.http().post('/api/auth/refresh').send({ refresh_token: tokens.refresh_token }).expect(503)).body, 503);
    expectErrorShape((await t.http().post('/auth/logout-all').set(bearer).expect(503)).body, 503);
    expectErrorShape((await t.http().get('/health/ready').expect(503)).body, 503);
    // Access-token checks need no database: verification and revocation state are in memory.
    await t.http().get('/api/me').set(bearer).expect(200);

    postgres.start();
    await eventually(async () => (await t.http().get('/health/ready')).status === 200);
    await t.http().post('/api/auth/refresh').send({ refresh_token: tokens.refresh_token }).expect(200);
  });
});

// Two instances of one deployment share PostgreSQL, Redis and secrets; a revocation made
// through one is enforced by the other on the very next request.
describe('two instances behind one load balancer', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    const shared = { DATA_DIR: freshDataDir(), REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: `test:pair:${Date.now()}:` };
    a = await startAppWithEnv(testEnv('postgres+redis', shared));
    b = await startAppWithEnv(testEnv('postgres+redis', shared));
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  const login = async (app: TestApp, email: string, password: string) =>
    (await app.http().post('/api/auth/login').send({ email, password }).expect(200)).body as { access_token: string; refresh_token: string };

  it('accepts on B a token and a session made on A', async () => {
    const user = await a.createUser();
    const tokens = await login(a, user.email, user.password);
    await b.http().get('/api/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(200);
    const browser = await a.http().post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);
    await b
      .http()
      .get('/web/me')
      .set('Cookie', cookiePair(sessionCookie(browser)))
      .expect(200);
  });

  it('enforces on B a logout made on A', async () => {
    const user = await a.createUser();
    const tokens = await login(a, user.email, user.password);
    await b.http().get('/api/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(200);
    await a.http().post('/api/auth/logout').set('Authorization', `Bearer ${tokens.access_token}`).expect(204);
    await b.http().get('/api/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(401);
  });

  it('enforces on A a logout-all and a demotion made on B', async () => {
    const user = await a.createUser();
    const tokens = await login(a, user.email, user.password);
    const browser = await a.http().post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);
    await b
      .http()
      .post('/auth/logout-all')
      .set('Authorization', `Bearer ${(await login(b, user.email, user.password)).access_token}`)
      .expect(204);
    await a.http().get('/api/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(401);
    await a
      .http()
      .get('/web/me')
      .set('Cookie', cookiePair(sessionCookie(browser)))
      .expect(401);

    const admin = await a.createUser({ roles: ['admin'] });
    const adminTokens = await login(b, admin.email, admin.password);
    const demoted = await a.createUser({ roles: ['admin'] });
    const demotedTokens = await login(a, demoted.email, demoted.password);
    await a
      .http()
      .put(`/api/admin/users/${user.id}/roles`)
      .set('Authorization', `Bearer ${demotedTokens.access_token}`)
      .send({ roles: ['user', 'x'] })
      .expect(200);
    await b
      .http()
      .put(`/api/admin/users/${demoted.id}/roles`)
      .set('Authorization', `Bearer ${adminTokens.access_token}`)
      .send({ roles: ['user'] })
      .expect(200);
    await a
      .http()
      .put(`/api/admin/users/${user.id}/roles`)
      .set('Authorization', `Bearer ${demotedTokens.access_token}`)
      .send({ roles: ['user'] })
      .expect(401);
  });
});

/*
 * The broadcast is a message like any other: it can still be on its way to B when the client,
 * told "logged out" by A, asks B. Here B reaches Redis over a real link that holds everything
 * coming back for LINK_DELAY_MS. A answers only once every subscribed instance has applied
 * the revocation (or the staleness bound has passed), so B refuses the token at once.
 * Before acknowledged delivery, B accepted it for LINK_DELAY_MS.
 */
describe('a revocation whose broadcast is slow to reach the other instance', () => {
  const LINK_DELAY_MS = 400;
  let link: SlowLink;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    const redisUrl = new URL(TEST_REDIS_URL);
    link = new SlowLink({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) }, LINK_DELAY_MS);
    await link.start();
    const shared = { DATA_DIR: freshDataDir(), REDIS_KEY_PREFIX: `test:slow:${Date.now()}:` };
    a = await startAppWithEnv(testEnv('postgres+redis', { ...shared, REDIS_URL: TEST_REDIS_URL }));
    const slowUrl = new URL(TEST_REDIS_URL);
    slowUrl.hostname = '127.0.0.1';
    slowUrl.port = String(link.port);
    b = await startAppWithEnv(testEnv('postgres+redis', { ...shared, REDIS_URL: slowUrl.toString() }));
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await link?.stop();
  });

  it('is applied on B before A answers a logout or a logout-all', async () => {
    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
    const user = await a.createUser();
    const login = async () => (await a.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200)).body;

    const first = await login();
    await b.http().get('/api/me').set(bearer(first.access_token)).expect(200);
    await a.http().post('/api/auth/logout').set(bearer(first.access_token)).expect(204);
    await b.http().get('/api/me').set(bearer(first.access_token)).expect(401);

    const second = await login();
    const third = await login();
    await b.http().get('/api/me').set(bearer(second.access_token)).expect(200);
    await a.http().post('/auth/logout-all').set(bearer(third.access_token)).expect(204);
    await b.http().get('/api/me').set(bearer(second.access_token)).expect(401);
  });
});
