import { privateSchema } from './support/private-schema';
import { DataSource } from 'typeorm';
import { dropRedisKeys, StorageSetup } from './support/environments';
import { startApp, TestApp } from './support/test-app';
import { Housekeeping } from '../src/tokens/housekeeping.service';
import { OneTimeTokenService } from '../src/tokens/one-time-token.service';

/*
 * Contract, "Housekeeping": spent refresh tokens, dead families, used or expired one-time tokens
 * and expired revocation entries are deleted once they can no longer change an answer. A round
 * is run by hand with an injected clock (the schedule runs the same method).
 */

type Pair = { access_token: string; refresh_token: string };
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const DAY_MS = 24 * 3600_000;

describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('housekeeping (%s)', (setup) => {
  let t: TestApp;
  let db: DataSource;
  let housekeeping: Housekeeping;

  let schema: Awaited<ReturnType<typeof privateSchema>> | undefined;

  beforeAll(async () => {
    // Rounds run with a clock days ahead delete every old-enough row: on PostgreSQL (shared by
    // the suites running alongside) they get a schema of their own.
    schema = setup === 'postgres+redis' ? await privateSchema() : undefined;
    t = await startApp(setup, { REFRESH_TOKEN_TTL_SECONDS: String(7 * 24 * 3600), ...(schema ? { DATABASE_URL: schema.url } : {}) });
    db = t.app.get(DataSource);
    housekeeping = t.app.get(Housekeeping);
  });
  afterAll(async () => {
    const prefix = t?.config.redis?.keyPrefix;
    await t?.close();
    await dropRedisKeys(prefix);
    await schema?.drop();
  });

  const login = async (email: string, password: string) => (await t.http().post('/api/auth/login').send({ email, password }).expect(200)).body as Pair;
  const refresh = async (token: string) => (await t.http().post('/api/auth/refresh').send({ refresh_token: token }).expect(200)).body as Pair;
  const familyOf = (pair: Pair) => JSON.parse(Buffer.from(pair.access_token.split('.')[1], 'base64url').toString()).fam as string;
  /** One COUNT(*) AS n, with `?` placeholders (numbered for PostgreSQL). */
  const count = async (sql: string, ...params: unknown[]) => {
    let index = 0;
    const rows = (await db.query(setup === 'sqlite' ? sql : sql.replace(/\?/g, () => `$${++index}`), params)) as { n: number | string }[];
    return Number(rows[0].n);
  };
  const tokensOf = (family: string) => count('SELECT COUNT(*) AS n FROM refresh_tokens WHERE family_id = ?', family);
  const familyRows = (family: string) => count('SELECT COUNT(*) AS n FROM refresh_families WHERE id = ?', family);
  const revocationsOf = (subject: string) => count('SELECT COUNT(*) AS n FROM revocations WHERE subject = ?', subject);

  it('deletes the tokens and row of a family once it is dead, and keeps the spent tokens of a live one', async () => {
    const user = await t.createUser();
    // A family rotated N times, then ended by logout.
    let dead = await login(user.email, user.password);
    for (let i = 0; i < 5; i++) dead = await refresh(dead.refresh_token);
    const deadFamily = familyOf(dead);
    expect(await tokensOf(deadFamily)).toBe(6);
    await t.http().post('/api/auth/logout').set(bearer(dead.access_token)).send({ refresh_token: dead.refresh_token }).expect(204);
    // A live family with spent tokens: the first two are older than the newest spent one.
    const first = await login(user.email, user.password);
    const second = await refresh(first.refresh_token);
    const third = await refresh(second.refresh_token);
    const liveFamily = familyOf(third);

    await housekeeping.runOnce();
    expect(await tokensOf(deadFamily)).toBe(0);
    expect(await familyRows(deadFamily)).toBe(0);
    expect(await tokensOf(liveFamily)).toBe(3);
    expect(await familyRows(liveFamily)).toBe(1);
    // The dead family's tokens answer as before.
    await t.http().post('/api/auth/refresh').send({ refresh_token: dead.refresh_token }).expect(401);
    await t.http().get('/api/me').set(bearer(dead.access_token)).expect(401);

    // Reuse detection on the live family is unchanged: its oldest spent token still revokes it.
    await t.http().post('/api/auth/refresh').send({ refresh_token: first.refresh_token }).expect(401);
    await t.http().post('/api/auth/refresh').send({ refresh_token: third.refresh_token }).expect(401);
    await t.http().get('/api/me').set(bearer(third.access_token)).expect(401);
    await housekeeping.runOnce();
    expect(await tokensOf(liveFamily)).toBe(0);
  });

  it('deletes expired families, used and expired one-time tokens and expired revocation entries, and nothing alive', async () => {
    const user = await t.createUser();
    const expiring = await refresh((await login(user.email, user.password)).refresh_token);
    const expiringFamily = familyOf(expiring);
    const jti = JSON.parse(Buffer.from(expiring.access_token.split('.')[1], 'base64url').toString()).jti as string;
    await t.http().post('/api/auth/logout').set(bearer(expiring.access_token)).expect(204); // revokes the access token only
    const oneTime = t.app.get(OneTimeTokenService);
    const used = await oneTime.issue(user.id, 'password-reset', 3600);
    expect(await oneTime.spend(used, 'password-reset')).toBe(user.id);
    await oneTime.issue(user.id, 'password-reset', 60);
    await oneTime.issue(user.id, 'email-verify', 30 * 24 * 3600);
    const oneTimeRows = () => count('SELECT COUNT(*) AS n FROM one_time_tokens WHERE user_id = ?', user.id);
    expect(await oneTimeRows()).toBe(3);

    // Now: nothing of that is prunable yet (the spent token's row may still be read by spend()).
    await housekeeping.runOnce();
    expect(await tokensOf(expiringFamily)).toBe(2);
    expect(await oneTimeRows()).toBe(3);
    expect(await revocationsOf(jti)).toBe(1);

    // A day later: the access token's revocation entry and the one-time tokens that are used or expired.
    await housekeeping.runOnce(Date.now() + DAY_MS);
    expect(await revocationsOf(jti)).toBe(0);
    expect(await oneTimeRows()).toBe(1);
    expect(await tokensOf(expiringFamily)).toBe(2); // the family can still refresh for days
    expect(await familyRows(expiringFamily)).toBe(1);

    // Past the refresh-token lifetime: the family can yield nothing any more.
    await housekeeping.runOnce(Date.now() + 8 * DAY_MS);
    expect(await tokensOf(expiringFamily)).toBe(0);
    expect(await familyRows(expiringFamily)).toBe(0);
  });
});
