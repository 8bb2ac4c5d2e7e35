import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import { cookiePair, sessionCookie } from './support/contract-suite';
import { freshDataDir, testEnv } from './support/environments';
import { startServerProcess } from './support/server-process';
import { startAppWithEnv, TestApp } from './support/test-app';

/** The built server in its own process, its clock shifted by `skewMs`; resolves with its URL. */
async function startSkewedInstance(env: Record<string, string | undefined>, skewMs: number): Promise<{ url: string; child: ChildProcess }> {
  const server = await startServerProcess({
    env: { ...env, LOG_LEVEL: 'error', AUTHSWITCH_TEST_CLOCK_SKEW_MS: String(skewMs) },
    nodeArgs: ['-r', join(__dirname, 'support/skewed-clock.js')],
    label: `instance skewed by ${skewMs} ms`,
    timeoutMs: 30_000,
  });
  return { url: server.base, child: server.child };
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

// Instances whose clocks differ by seconds share one deployment. Revocation compares versions,
// never timestamps from two clocks, so neither direction of skew matters.
describe('instances whose clocks differ', () => {
  let a: TestApp;
  const children: ChildProcess[] = [];
  let ahead: string;
  let behind: string;

  beforeAll(async () => {
    const env = testEnv('postgres+redis', { DATA_DIR: freshDataDir() });
    a = await startAppWithEnv(env);
    const fast = await startSkewedInstance(env, 4000);
    const slow = await startSkewedInstance(env, -4000);
    children.push(fast.child, slow.child);
    ahead = fast.url;
    behind = slow.url;
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.map(stop));
    await a?.close();
  });

  const jwtLogin = async (url: string, email: string, password: string) =>
    (await request(url).post('/api/auth/login').send({ email, password }).expect(200)).body as { access_token: string; refresh_token: string };

  it('refuses everything issued by a fast clock just before logout-all made on a correct one', async () => {
    for (let trial = 0; trial < 3; trial++) {
      const user = await a.createUser();
      const tokens = await jwtLogin(ahead, user.email, user.password);
      const browser = await request(ahead).post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const own = (await a.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200)).body;
      await a.http().post('/auth/logout-all').set('Authorization', `Bearer ${own.access_token}`).expect(204);

      await a.http().get('/api/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(401);
      await request(ahead).get('/api/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(401);
      await request(ahead)
        .get('/web/me')
        .set('Cookie', cookiePair(sessionCookie(browser)))
        .expect(401);
      await request(ahead).post('/api/auth/refresh').send({ refresh_token: tokens.refresh_token }).expect(401);
    }
  });

  it('accepts at once what a slow clock issues right after logout-all', async () => {
    const user = await a.createUser();
    const before = await jwtLogin(behind, user.email, user.password);
    await request(behind).post('/auth/logout-all').set('Authorization', `Bearer ${before.access_token}`).expect(204);
    const after = await jwtLogin(behind, user.email, user.password);
    await a.http().get('/api/me').set('Authorization', `Bearer ${after.access_token}`).expect(200);
    await request(ahead).get('/api/me').set('Authorization', `Bearer ${after.access_token}`).expect(200);
    await a.http().get('/api/me').set('Authorization', `Bearer ${before.access_token}`).expect(401);
  });
});
