import { ACCOUNT_LOCKOUT, describeAdministration, expectAllRefused, expectLoginDisabled, signInBoth } from './support/admin-suite';
import { freshDataDir, testEnv, TEST_REDIS_URL } from './support/environments';
import { startAppWithEnv, TestApp } from './support/test-app';

describe('administration on PostgreSQL with Redis', () => describeAdministration('postgres+redis'));

// Two instances of one deployment (shared PostgreSQL, Redis and key prefix): what an
// administrator does through one holds on the other on the very next request, without waiting.
describe('administration across two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let asAdminOnA: { Authorization: string };
  const shared = {
    DATA_DIR: freshDataDir(),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: `test:admin-pair:${Date.now()}:`,
    LOGIN_MAX_FAILURES_PER_ACCOUNT: String(ACCOUNT_LOCKOUT),
  };

  beforeAll(async () => {
    a = await startAppWithEnv(testEnv('postgres+redis', shared));
    b = await startAppWithEnv(testEnv('postgres+redis', shared));
    const admin = await a.createUser({ roles: ['admin'] });
    const login = await a.http().post('/api/auth/login').send({ email: admin.email, password: admin.password }).expect(200);
    asAdminOnA = { Authorization: `Bearer ${login.body.access_token}` };
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('disable on A: the bearer token and the session cookie are refused on B at once; enable on A: login works on B', async () => {
    const user = await a.createUser();
    const onB = await signInBoth(b, user.email, user.password);
    await b.http().get('/api/me').set(onB.bearer).expect(200);
    await b.http().get('/web/me').set('Cookie', onB.cookie).expect(200);

    await a.http().post(`/api/admin/users/${user.id}/disable`).set(asAdminOnA).send({ reason: 'Two instances' }).expect(200);
    await expectAllRefused(b, onB);
    await expectLoginDisabled(b, user.email, user.password);

    await a.http().post(`/api/admin/users/${user.id}/enable`).set(asAdminOnA).expect(200);
    await signInBoth(b, user.email, user.password);
  });

  it('unlock on A clears the lockout counted on B', async () => {
    const user = await a.createUser();
    for (let i = 0; i < ACCOUNT_LOCKOUT; i++) await b.http().post('/api/auth/login').send({ email: user.email, password: 'wrong password' }).expect(401);
    await b.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(429);
    await a.http().post(`/api/admin/users/${user.id}/unlock`).set(asAdminOnA).expect(200);
    await b.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
  });

  it('delete on A: refused on B at once, and on an instance started afterwards (its state comes from the log, not the gone row)', async () => {
    const user = await a.createUser();
    const onB = await signInBoth(b, user.email, user.password);
    await a.http().delete(`/api/admin/users/${user.id}`).set(asAdminOnA).expect(204);
    await expectAllRefused(b, onB);

    const c = await startAppWithEnv(testEnv('postgres+redis', shared));
    try {
      await c.http().get('/api/me').set(onB.bearer).expect(401);
      await c.http().get('/web/me').set('Cookie', onB.cookie).expect(401);
    } finally {
      await c.close();
    }
  });
});
