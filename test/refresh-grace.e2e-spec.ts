import { DataSource } from 'typeorm';
import { createHash } from 'node:crypto';
import { freshDataDir, StorageSetup, testEnv } from './support/environments';
import { startAppWithEnv, TestApp } from './support/test-app';
import { eventually, sleep } from './support/waiting';

/*
 * REFRESH_REUSE_GRACE_SECONDS: a spent refresh token presented again within the grace answers
 * the pair it was traded for (same access and refresh token), on any instance; outside the
 * grace, for an older token, or after logout-all it is refused, and a reuse revokes the family
 * as in the strict default. Real servers: SQLite (one instance), and two instances sharing
 * PostgreSQL and Redis.
 */

type Pair = { access_token: string; refresh_token: string; token_type: string; expires_in: number };

/** Two instances of one deployment (one app twice on SQLite, which has no shared store to run two on). */
interface Deployment {
  a: TestApp;
  b: TestApp;
  /** Both instances, for checks that must hold everywhere. */
  all: TestApp[];
  close(): Promise<void>;
}

async function deploy(setup: StorageSetup, grace: number): Promise<Deployment> {
  const env = testEnv(setup, { DATA_DIR: freshDataDir(), REFRESH_REUSE_GRACE_SECONDS: String(grace) });
  const a = await startAppWithEnv(env);
  const b = setup === 'sqlite' ? a : await startAppWithEnv(env);
  const all = a === b ? [a] : [a, b];
  return { a, b, all, close: async () => void (await Promise.all(all.map((app) => app.close()))) };
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function login(d: Deployment): Promise<Pair> {
  const user = await d.a.createUser();
  return (await d.a.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200)).body as Pair;
}

const refresh = (app: TestApp, token: string) => app.http().post('/api/auth/refresh').send({ refresh_token: token });

/** Both tokens of the pair are dead on every instance (a revocation reaches the other instance over Redis). */
async function expectDead(d: Deployment, pair: Pair): Promise<void> {
  for (const app of d.all) {
    await eventually(async () => (await app.http().get('/api/me').set(bearer(pair.access_token))).status === 401, 3000);
  }
  await refresh(d.b, pair.refresh_token).expect(401);
}

/** The pair works: its access token on every instance, its refresh token once. Returns the next pair. */
async function expectAlive(d: Deployment, pair: Pair): Promise<Pair> {
  for (const app of d.all) await app.http().get('/api/me').set(bearer(pair.access_token)).expect(200);
  const next = (await refresh(d.b, pair.refresh_token).expect(200)).body as Pair;
  await d.a.http().get('/api/me').set(bearer(next.access_token)).expect(200);
  return next;
}

/** The stored `successor` of a refresh token's row. */
async function storedSuccessor(app: TestApp, token: string): Promise<string | null> {
  const hash = createHash('sha256').update(token).digest('hex');
  const rows: Array<{ successor: string | null }> = await app.app
    .get(DataSource)
    .query(`SELECT successor FROM refresh_tokens WHERE token_hash = ${app.config.database.type === 'postgres' ? '$1' : '?'}`, [hash]);
  return rows[0]?.successor ?? null;
}

describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('refresh-token reuse grace (%s)', (setup) => {
  describe('off (the default): strictly single-use', () => {
    let d: Deployment;
    beforeAll(async () => {
      d = await deploy(setup, 0);
    });
    afterAll(() => d?.close());

    it('a second presentation is refused and kills the pair the first one got', async () => {
      const first = await login(d);
      const next = (await refresh(d.a, first.refresh_token).expect(200)).body as Pair;
      expect(await storedSuccessor(d.a, first.refresh_token)).toBeNull();
      const again = await refresh(d.b, first.refresh_token).expect(401);
      expect(again.body.message).toBe('Invalid refresh token');
      await expectDead(d, next);
    });
  });

  describe('30 s', () => {
    let d: Deployment;
    beforeAll(async () => {
      d = await deploy(setup, 30);
    });
    afterAll(() => d?.close());

    it('a retried presentation gets the identical pair, and the family keeps working', async () => {
      const first = await login(d);
      const res = await refresh(d.a, first.refresh_token).expect(200);
      const retried = await refresh(d.b, first.refresh_token).expect(200);
      expect(retried.headers['cache-control']).toBe('no-store');
      expect(retried.body).toEqual(res.body);
      const pair = res.body as Pair;
      // Stored sealed: neither token of the pair is readable from the database.
      const sealed = await storedSuccessor(d.a, first.refresh_token);
      expect(sealed).toEqual(expect.any(String));
      for (const secret of [pair.refresh_token, pair.access_token, pair.access_token.split('.')[1]]) expect(sealed).not.toContain(secret);
      const next = await expectAlive(d, pair);
      await expectAlive(d, next);
    });

    it('N presentations of one token at once, over both instances, all get the same pair', async () => {
      for (let trial = 0; trial < 5; trial++) {
        let pair = await login(d);
        // Half the trials race a token that is itself a successor (the family already rotated once).
        if (trial % 2) pair = (await refresh(d.a, pair.refresh_token).expect(200)).body as Pair;
        const results = await Promise.all(Array.from({ length: 6 }, (_, i) => refresh(i % 2 ? d.b : d.a, pair.refresh_token)));
        expect(results.map((res) => res.status)).toEqual(Array(6).fill(200));
        const answers = new Set(results.map((res) => JSON.stringify(res.body)));
        expect(answers.size).toBe(1);
        await expectAlive(d, results[0].body as Pair);
      }
    });

    it('an older token, whose successor has been rotated on, is a reuse even within the grace', async () => {
      const first = await login(d);
      const second = (await refresh(d.a, first.refresh_token).expect(200)).body as Pair;
      const third = (await refresh(d.b, second.refresh_token).expect(200)).body as Pair;
      await refresh(d.b, first.refresh_token).expect(401);
      await expectDead(d, third);
      // Revoked, not merely refused: the pair a grace retry could have given is dead as well.
      await refresh(d.a, second.refresh_token).expect(401);
      await expectDead(d, second);
    });

    it('after logout-all, a retry gets nothing', async () => {
      const first = await login(d);
      const next = (await refresh(d.a, first.refresh_token).expect(200)).body as Pair;
      await d.b.http().post('/auth/logout-all').set(bearer(next.access_token)).expect(204);
      await refresh(d.b, first.refresh_token).expect(401);
      await refresh(d.a, first.refresh_token).expect(401);
      await expectDead(d, next);
    });

    it('a retry racing logout-all hands out nothing that outlives it', async () => {
      for (let trial = 0; trial < 4; trial++) {
        const first = await login(d);
        const next = (await refresh(d.a, first.refresh_token).expect(200)).body as Pair;
        const retry = sleep(trial * 3).then(() => refresh(trial % 2 ? d.a : d.b, first.refresh_token));
        await d.b.http().post('/auth/logout-all').set(bearer(next.access_token)).expect(204);
        const res = await retry;
        expect([200, 401]).toContain(res.status);
        if (res.status === 200) expect(res.body).toEqual(next);
        await expectDead(d, next);
      }
    });
  });

  describe('1 s', () => {
    let d: Deployment;
    beforeAll(async () => {
      d = await deploy(setup, 1);
    });
    afterAll(() => d?.close());

    it('a presentation after the grace is a reuse: refused, and the family revoked', async () => {
      const first = await login(d);
      const next = (await refresh(d.a, first.refresh_token).expect(200)).body as Pair;
      await sleep(1300);
      await refresh(d.b, first.refresh_token).expect(401);
      await expectDead(d, next);
    });
  });
});
