import { createClient } from 'redis';
import { DataSource } from 'typeorm';
import { expectErrorShape } from './support/contract-suite';
import { freshDataDir, testEnv } from './support/environments';
import { PrivatePostgres } from './support/postgres-server';
import { freePort, PrivateRedis } from './support/redis-server';
import { startAppWithEnv, TestApp } from './support/test-app';
import { eventually } from './support/waiting';

/*
 * Contract, "Revocation under a double fault": instance A may not PUBLISH (a Redis ACL denies
 * it) and instance B cannot read the database (its role is locked out). A revocation that A
 * answers with success must still never be accepted by B: B either read it from the log, or
 * its copy is older than REVOCATION_MAX_STALENESS_MS and it answers 503.
 * Real servers: a private PostgreSQL in which B logs in as a role of its own, and a private
 * Redis in which A's user lacks PUBLISH.
 */

type Pair = { access_token: string; refresh_token: string };
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const STALENESS_MS = 1500;

describe('a revocation while A cannot publish and B cannot read the database', () => {
  let postgres: PrivatePostgres;
  let redis: PrivateRedis;
  let admin: DataSource;
  let a: TestApp;
  let b: TestApp;

  const sql = (text: string) => admin.query(text);

  beforeAll(async () => {
    postgres = new PrivatePostgres(await freePort());
    postgres.init();
    postgres.start();
    redis = new PrivateRedis(await freePort());
    await redis.start();
    const redisAdmin = createClient({ url: redis.url });
    await redisAdmin.connect();
    await redisAdmin.sendCommand(['ACL', 'SETUSER', 'a', 'on', '>a-password', '~*', '&*', '+@all', '-publish']);
    await redisAdmin.close();

    const shared = testEnv('postgres+redis', {
      DATA_DIR: freshDataDir(),
      REVOCATION_SYNC_INTERVAL_MS: '200',
      REVOCATION_MAX_STALENESS_MS: String(STALENESS_MS),
    });
    // A migrates the database as its owner; B is a role of its own, so that it can be locked out alone.
    a = await startAppWithEnv({ ...shared, DATABASE_URL: postgres.url, REDIS_URL: `redis://a:a-password@127.0.0.1:${redis.port}` });
    admin = new DataSource({ type: 'postgres', url: postgres.url });
    await admin.initialize();
    await sql('CREATE ROLE instance_b LOGIN');
    await sql('GRANT USAGE ON SCHEMA public TO instance_b');
    await sql('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO instance_b');
    await sql('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO instance_b');
    b = await startAppWithEnv({ ...shared, DATABASE_URL: postgres.url.replace('postgres@', 'instance_b@'), REDIS_URL: redis.url });
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await admin?.destroy();
    await redis?.stop();
    postgres?.destroy();
  });

  const login = async (email: string, password: string) => (await a.http().post('/api/auth/login').send({ email, password }).expect(200)).body as Pair;
  const meOnB = (token: string) => b.http().get('/api/me').set(bearer(token));

  /** B is asked again and again for as long as a staleness period and more: never a 200. */
  async function neverAcceptedByB(token: string): Promise<void> {
    const until = Date.now() + 2 * STALENESS_MS;
    const statuses = new Set<number>();
    while (Date.now() < until) {
      const res = await meOnB(token);
      statuses.add(res.status);
      expect([401, 503]).toContain(res.status);
      if (res.status === 503) expectErrorShape(res.body, 503);
    }
    // B cannot read the log and missed the broadcast: it can only have refused by answering 503.
    expect([...statuses]).toEqual([503]);
  }

  it('is never accepted by B once A has answered, and B answers 503 until it reads the log again', async () => {
    const user = await a.createUser();
    const single = await login(user.email, user.password);
    const everything = await login(user.email, user.password);
    await meOnB(single.access_token).expect(200);
    await meOnB(everything.access_token).expect(200);

    // B loses the database: its role may no longer log in, and its open connections are cut.
    await sql('ALTER ROLE instance_b NOLOGIN');
    await sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'instance_b'");

    const started = Date.now();
    await a.http().post('/api/auth/logout').set(bearer(single.access_token)).send({ refresh_token: single.refresh_token }).expect(204);
    const answeredAfter = Date.now() - started;
    await neverAcceptedByB(single.access_token);
    // The broadcast failed, so A answered only once B had had time to stop vouching.
    expect(answeredAfter).toBeGreaterThanOrEqual(STALENESS_MS);

    await a.http().post('/auth/logout-all').set(bearer(everything.access_token)).expect(204);
    await neverAcceptedByB(everything.access_token);

    // B reaches the database again: it reads the log and refuses both tokens as revoked.
    await sql('ALTER ROLE instance_b LOGIN');
    await eventually(async () => (await meOnB(everything.access_token)).status === 401, 15_000);
    await meOnB(single.access_token).expect(401);
    await b.http().post('/api/auth/refresh').send({ refresh_token: single.refresh_token }).expect(401);
    await b.http().post('/api/auth/refresh').send({ refresh_token: everything.refresh_token }).expect(401);
    // And it vouches again for credentials that are alive.
    const fresh = await login(user.email, user.password);
    await meOnB(fresh.access_token).expect(200);
  });
});
