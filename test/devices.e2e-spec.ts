import { createClient } from 'redis';
import { DataSource } from 'typeorm';
import { SessionRecord } from '../src/sessions/session-record.entity';
import { RefreshFamily } from '../src/tokens/refresh-family.entity';
import { cookiePair, expectErrorShape, sessionCookie } from './support/contract-suite';
import { dropRedisKeys, freshDataDir, StorageSetup, testEnv, TEST_REDIS_URL } from './support/environments';
import { decodeSegment } from './support/jwt';
import { startAppWithEnv, TestApp } from './support/test-app';
import { eventually, sleep } from './support/waiting';

/*
 * The device list (GET /auth/sessions, DELETE /auth/sessions/:id, the /account page's buttons)
 * on SQLite (one instance) and on PostgreSQL + Redis (two instances sharing the stores: what
 * one instance ends, the other refuses on the very next request).
 */

/** Short, so that the last-use marks are written during the test (60 s in production). */
const FLUSH_MS = 1000;
const WEB_AGENT = 'DevicesTest/web (a browser)';
const API_AGENT = 'DevicesTest/api (a mobile app)';
const WEB_ADDRESS = '203.0.113.10';
const API_ADDRESS = '203.0.113.20';

type Pair = { access_token: string; refresh_token: string };
interface Device {
  id: string;
  kind: 'session' | 'refresh';
  current: boolean;
  createdAt: string;
  lastUsedAt: string;
  ip: string;
  userAgent: string;
}
interface WebSignIn {
  cookie: string;
  csrfToken: string;
  sid: string;
}

/** One app, or two instances of one deployment (same database, Redis and secrets). */
interface Deployment {
  a: TestApp;
  b: TestApp;
  close(): Promise<void>;
}

const shortFlush = (config: TestApp['config']) => ({ ...config, deviceActivityFlushMs: FLUSH_MS });

async function single(setup: StorageSetup): Promise<Deployment> {
  const app = await startAppWithEnv(testEnv(setup, { TRUST_PROXY: '1' }), shortFlush);
  return { a: app, b: app, close: () => closeApps(app) };
}

async function pair(): Promise<Deployment> {
  const shared = testEnv('postgres+redis', { DATA_DIR: freshDataDir(), TRUST_PROXY: '1' });
  const a = await startAppWithEnv(shared, shortFlush);
  const b = await startAppWithEnv(shared, shortFlush);
  return { a, b, close: () => closeApps(a, b) };
}

/** Closes the apps, then deletes the Redis keys they wrote under their own (test-only) prefix. */
async function closeApps(...apps: TestApp[]): Promise<void> {
  const prefix = apps[0].config.redis?.keyPrefix;
  for (const app of new Set(apps)) await app.close();
  await dropRedisKeys(prefix);
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** The session id inside a signed cookie (`s:<sid>.<signature>`, URL-encoded). */
function sidOf(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  return value.slice(2, value.lastIndexOf('.'));
}

describe.each([
  ['sqlite', () => single('sqlite')],
  ['two instances on postgres+redis', () => pair()],
])('device list (%s)', (_label, make) => {
  let d: Deployment;

  beforeAll(async () => {
    d = await make();
  });
  afterAll(async () => {
    await d?.close();
  });

  async function webLogin(app: TestApp, email: string, password: string): Promise<WebSignIn> {
    const res = await app.http().post('/web/auth/login').set('User-Agent', WEB_AGENT).set('X-Forwarded-For', WEB_ADDRESS).send({ email, password }).expect(200);
    const cookie = cookiePair(sessionCookie(res));
    return { cookie, csrfToken: res.body.csrfToken as string, sid: sidOf(cookie) };
  }

  async function jwtLogin(app: TestApp, email: string, password: string): Promise<Pair> {
    return (await app.http().post('/api/auth/login').set('User-Agent', API_AGENT).set('X-Forwarded-For', API_ADDRESS).send({ email, password }).expect(200))
      .body as Pair;
  }

  async function listWithCookie(app: TestApp, web: WebSignIn): Promise<Device[]> {
    return (await app.http().get('/auth/sessions').set('Cookie', web.cookie).expect(200)).body as Device[];
  }

  async function listWithToken(app: TestApp, token: string): Promise<Device[]> {
    return (await app.http().get('/auth/sessions').set(bearer(token)).expect(200)).body as Device[];
  }

  const familyOf = (token: string) => decodeSegment(token, 1).fam as string;
  const byKind = (devices: Device[], kind: Device['kind']) => devices.filter((device) => device.kind === kind);

  /** What the store holds as the last use (ms), read the way another instance would. */
  async function storedLastUse(kind: Device['kind'], id: string): Promise<number | null> {
    const dataSource = d.a.app.get(DataSource);
    if (kind === 'refresh') return (await dataSource.getRepository(RefreshFamily).findOneByOrFail({ id })).lastUsedAt;
    if (!d.a.config.redis) return (await dataSource.getRepository(SessionRecord).findOneByOrFail({ sid: id })).lastUsedAt;
    const redis = createClient({ url: TEST_REDIS_URL });
    await redis.connect();
    try {
      const value = await redis.get(`${d.a.config.redis.keyPrefix}session-seen:${id}`);
      return value === null ? null : Number(value);
    } finally {
      await redis.close();
    }
  }

  it('lists a web session and a refresh family with kinds, current flags, address and agent, and never a secret', async () => {
    const user = await d.a.createUser();
    const before = Date.now();
    const web = await webLogin(d.a, user.email, user.password);
    const pair = await jwtLogin(d.b, user.email, user.password);
    const after = Date.now();

    const fromSession = await listWithCookie(d.a, web);
    expect(fromSession).toHaveLength(2);
    const [session] = byKind(fromSession, 'session');
    const [family] = byKind(fromSession, 'refresh');
    expect(session).toMatchObject({ kind: 'session', current: true, ip: WEB_ADDRESS, userAgent: WEB_AGENT });
    expect(family).toMatchObject({ kind: 'refresh', current: false, ip: API_ADDRESS, userAgent: API_AGENT });
    for (const device of fromSession) {
      expect(Object.keys(device).sort()).toEqual(['createdAt', 'current', 'id', 'ip', 'kind', 'lastUsedAt', 'userAgent']);
      expect(device.id).toMatch(/^[A-Za-z0-9_-]{22,}$/);
      expect(new Date(device.createdAt).toISOString()).toBe(device.createdAt);
      expect(Date.parse(device.createdAt)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(device.createdAt)).toBeLessThanOrEqual(after);
      expect(Date.parse(device.lastUsedAt)).toBeGreaterThanOrEqual(Date.parse(device.createdAt));
    }

    // The other instance, with the token: the same handles, the other one current.
    const fromToken = await listWithToken(d.b, pair.access_token);
    expect(fromToken.map(({ id, kind }) => ({ id, kind }))).toEqual(fromSession.map(({ id, kind }) => ({ id, kind })));
    expect(byKind(fromToken, 'session')[0].current).toBe(false);
    expect(byKind(fromToken, 'refresh')[0].current).toBe(true);

    // No session id, cookie, token or family id anywhere in either answer.
    const cookieValue = web.cookie.slice(web.cookie.indexOf('=') + 1);
    for (const body of [JSON.stringify(fromSession), JSON.stringify(fromToken)]) {
      for (const secret of [
        web.sid,
        web.sid.slice(0, 8),
        cookieValue,
        decodeURIComponent(cookieValue),
        pair.access_token,
        pair.refresh_token,
        familyOf(pair.access_token),
        web.csrfToken,
      ]) {
        expect(body).not.toContain(secret);
      }
    }
  });

  it('ends a family from a session only with the CSRF token; its access and refresh tokens are refused at once on the other instance', async () => {
    const user = await d.a.createUser();
    const web = await webLogin(d.a, user.email, user.password);
    const pair = await jwtLogin(d.b, user.email, user.password);
    const [family] = byKind(await listWithCookie(d.a, web), 'refresh');

    const refused = await d.a.http().delete(`/auth/sessions/${family.id}`).set('Cookie', web.cookie).expect(403);
    expectErrorShape(refused.body, 403);
    await d.a
      .http()
      .delete(`/auth/sessions/${family.id}`)
      .set('Cookie', web.cookie)
      .set('X-CSRF-Token', `${web.csrfToken.slice(0, -1)}x`)
      .expect(403);
    await d.b.http().get('/api/me').set(bearer(pair.access_token)).expect(200); // untouched so far

    await d.a.http().delete(`/auth/sessions/${family.id}`).set('Cookie', web.cookie).set('X-CSRF-Token', web.csrfToken).expect(204);
    await d.b.http().get('/api/me').set(bearer(pair.access_token)).expect(401);
    await d.b.http().post('/api/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(401);
    await d.a.http().get('/api/me').set(bearer(pair.access_token)).expect(401);

    const left = await listWithCookie(d.b, web);
    expect(left.map(({ kind }) => kind)).toEqual(['session']);
    // Ended already: no longer one of the user's.
    await d.a.http().delete(`/auth/sessions/${family.id}`).set('Cookie', web.cookie).set('X-CSRF-Token', web.csrfToken).expect(404);
  });

  it('ends a session from a JWT: the cookie is refused at once on the other instance', async () => {
    const user = await d.a.createUser();
    const web = await webLogin(d.a, user.email, user.password);
    const pair = await jwtLogin(d.b, user.email, user.password);
    const [session] = byKind(await listWithToken(d.b, pair.access_token), 'session');

    await d.b.http().delete(`/auth/sessions/${session.id}`).set(bearer(pair.access_token)).expect(204);
    await d.a.http().get('/web/me').set('Cookie', web.cookie).expect(401);
    await d.b.http().get('/web/me').set('Cookie', web.cookie).expect(401);
    await d.a.http().get('/auth/sessions').set('Cookie', web.cookie).expect(401);
    // The token's own family lives on.
    expect((await listWithToken(d.a, pair.access_token)).map(({ kind, current }) => ({ kind, current }))).toEqual([{ kind: 'refresh', current: true }]);
  });

  it("ends the request's own session and clears its cookie", async () => {
    const user = await d.a.createUser();
    const web = await webLogin(d.a, user.email, user.password);
    const [own] = await listWithCookie(d.a, web);
    const res = await d.a.http().delete(`/auth/sessions/${own.id}`).set('Cookie', web.cookie).set('X-CSRF-Token', web.csrfToken).expect(204);
    expect(sessionCookie(res)).toMatch(/Expires=Thu, 01 Jan 1970/);
    await d.b.http().get('/web/me').set('Cookie', web.cookie).expect(401);
  });

  it("answers 404 for another user's sign-in and for ids that are none, and ends nothing", async () => {
    const alice = await d.a.createUser();
    const bob = await d.a.createUser();
    const aliceToken = (await jwtLogin(d.a, alice.email, alice.password)).access_token;
    const bobWeb = await webLogin(d.b, bob.email, bob.password);
    const bobPair = await jwtLogin(d.b, bob.email, bob.password);
    const bobDevices = await listWithCookie(d.b, bobWeb);
    expect(bobDevices).toHaveLength(2);

    const candidates = [
      ...bobDevices.map((device) => device.id),
      bobWeb.sid,
      familyOf(bobPair.access_token),
      'nope',
      'A'.repeat(22),
      bobDevices[0].id.slice(0, -1) + (bobDevices[0].id.endsWith('A') ? 'B' : 'A'),
      'x'.repeat(500),
      encodeURIComponent('../../etc'),
    ];
    for (const id of candidates) {
      const res = await d.a.http().delete(`/auth/sessions/${id}`).set(bearer(aliceToken));
      expect({ id, status: res.status }).toEqual({ id, status: 404 });
      expectErrorShape(res.body, 404);
    }
    await d.a.http().get('/web/me').set('Cookie', bobWeb.cookie).expect(200);
    await d.a.http().get('/api/me').set(bearer(bobPair.access_token)).expect(200);
    expect(await listWithCookie(d.a, bobWeb)).toHaveLength(2);
    await d.a.http().get('/auth/sessions').expect(401);
  });

  it('moves lastUsedAt on use, writes it at most once per interval, and counts a refresh as a use', async () => {
    const user = await d.a.createUser();
    const web = await webLogin(d.a, user.email, user.password);
    let pair = await jwtLogin(d.a, user.email, user.password);
    const familyId = familyOf(pair.access_token);
    await sleep(50);

    // First use of each: marked at once.
    const used = Date.now();
    await d.a.http().get('/web/me').set('Cookie', web.cookie).expect(200);
    await d.a.http().get('/api/me').set(bearer(pair.access_token)).expect(200);
    const usedUntil = Date.now();
    // More uses within the interval: not marked again.
    await sleep(150);
    for (let i = 0; i < 3; i++) {
      await d.a.http().get('/web/me').set('Cookie', web.cookie).expect(200);
      await d.a.http().get('/api/me').set(bearer(pair.access_token)).expect(200);
    }
    const within = (value: string | number | null) => {
      const at = typeof value === 'string' ? Date.parse(value) : Number(value);
      return value !== null && at >= used && at <= usedUntil;
    };

    // The instance that saw the use shows it before it is written.
    const listed = await listWithCookie(d.a, web);
    expect(listed.every((device) => within(device.lastUsedAt))).toBe(true);

    // Written by the flush, with the first mark of the interval, not a later use.
    await eventually(async () => within(await storedLastUse('session', web.sid)) && within(await storedLastUse('refresh', familyId)), 4 * FLUSH_MS);
    await sleep(FLUSH_MS + 300); // another flush or more
    expect(within(await storedLastUse('session', web.sid))).toBe(true);
    expect(within(await storedLastUse('refresh', familyId))).toBe(true);
    // The other instance reads what was written. (Listed with a sign-in of its own: a listing is a use.)
    const lister = await jwtLogin(d.b, user.email, user.password);
    const seen = (await listWithToken(d.b, lister.access_token)).filter((device) => listed.some(({ id }) => id === device.id));
    expect(seen.map(({ kind, lastUsedAt }) => ({ kind, written: within(lastUsedAt) }))).toEqual(listed.map(({ kind }) => ({ kind, written: true })));

    // An interval later, a refresh is a use and a session request another: both move on.
    const refreshed = Date.now();
    pair = (await d.a.http().post('/api/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(200)).body as Pair;
    await d.a.http().get('/web/me').set('Cookie', web.cookie).expect(200);
    await eventually(
      async () => Number(await storedLastUse('refresh', familyId)) >= refreshed && Number(await storedLastUse('session', web.sid)) >= refreshed,
      4 * FLUSH_MS,
    );
    const fromOther = (await listWithToken(d.b, lister.access_token)).filter((device) => listed.some(({ id }) => id === device.id));
    expect(fromOther).toHaveLength(2);
    expect(fromOther.every((device) => Date.parse(device.lastUsedAt) >= refreshed)).toBe(true);
  });

  it('never brings back a session ended between its use and the flush', async () => {
    const user = await d.a.createUser();
    const web = await webLogin(d.a, user.email, user.password);
    const pair = await jwtLogin(d.a, user.email, user.password);
    await d.a.http().get('/web/me').set('Cookie', web.cookie).expect(200); // marked, not written yet
    const [session] = byKind(await listWithToken(d.a, pair.access_token), 'session');
    await d.a.http().delete(`/auth/sessions/${session.id}`).set(bearer(pair.access_token)).expect(204);
    await sleep(FLUSH_MS * 2 + 200);
    await d.a.http().get('/web/me').set('Cookie', web.cookie).expect(401);
    await d.b.http().get('/web/me').set('Cookie', web.cookie).expect(401);
    expect(byKind(await listWithToken(d.b, pair.access_token), 'session')).toEqual([]);
    if (!d.a.config.redis) expect(await d.a.app.get(DataSource).getRepository(SessionRecord).findOneBy({ sid: web.sid })).toBeNull();
  });

  describe('the /account page', () => {
    const postForm = (app: TestApp, path: string, fields: Record<string, string>, cookie: string) =>
      app.http().post(path).type('form').set('Cookie', cookie).send(fields);

    async function formSignIn(app: TestApp, email: string, password: string): Promise<string> {
      const res = await app.http().post('/login').type('form').set('User-Agent', WEB_AGENT).send({ email, password }).expect(303);
      return cookiePair(sessionCookie(res));
    }

    /** The rows of the page: each with its end form's id, its kind and whether it is this browser. */
    function rowsOf(html: string): Array<{ id: string; kind: string; current: boolean; csrf: string }> {
      return [
        ...html.matchAll(
          /<tr><td>([^<]*)<\/td>.*?<td>(this browser|this client|)<\/td><td><form method="post" action="\/account\/sessions\/end"><input type="hidden" name="_csrf" value="([^"]*)"><input type="hidden" name="id" value="([^"]*)">/g,
        ),
      ].map((match) => ({ kind: match[1], current: match[2] !== '', csrf: match[3], id: match[4] }));
    }

    it('lists every sign-in with an end button, and a form post ends the one chosen', async () => {
      const user = await d.a.createUser();
      const mine = await formSignIn(d.a, user.email, user.password);
      const other = await formSignIn(d.b, user.email, user.password);
      const pair = await jwtLogin(d.b, user.email, user.password);

      const page = await d.a.http().get('/account').set('Cookie', mine).expect(200);
      const rows = rowsOf(page.text);
      expect(rows.map(({ kind, current }) => ({ kind, current }))).toEqual([
        { kind: 'Web session', current: true },
        { kind: 'Web session', current: false },
        { kind: 'App (refresh token)', current: false },
      ]);
      expect(page.text).toContain(WEB_AGENT);
      expect(page.text).toContain(API_AGENT);
      for (const secret of [sidOf(mine), sidOf(other), familyOf(pair.access_token), pair.refresh_token]) expect(page.text).not.toContain(secret);
      const csrf = rows[0].csrf;

      // Refused without the page's token, or from another site: nothing ends.
      await postForm(d.a, '/account/sessions/end', { id: rows[1].id }, mine).expect(403);
      await postForm(d.a, '/account/sessions/end', { id: rows[1].id, _csrf: 'wrong' }, mine).expect(403);
      await postForm(d.a, '/account/sessions/end', { id: rows[1].id, _csrf: csrf }, mine).set('Sec-Fetch-Site', 'cross-site').expect(403);
      await d.b.http().get('/web/me').set('Cookie', other).expect(200);
      const unknown = await postForm(d.a, '/account/sessions/end', { id: 'not-a-sign-in', _csrf: csrf }, mine).expect(404);
      expect(unknown.headers['content-type']).toMatch(/^text\/html/);

      // The other browser's session, then the app's family: back to /account each time.
      const ended = await postForm(d.a, '/account/sessions/end', { id: rows[1].id, _csrf: csrf }, mine).expect(303);
      expect(ended.headers.location).toBe('/account');
      await d.b.http().get('/web/me').set('Cookie', other).expect(401);
      await postForm(d.a, '/account/sessions/end', { id: rows[2].id, _csrf: csrf }, mine).expect(303);
      await d.b.http().get('/api/me').set(bearer(pair.access_token)).expect(401);
      expect(rowsOf((await d.a.http().get('/account').set('Cookie', mine).expect(200)).text).map(({ current }) => current)).toEqual([true]);

      // This browser's own: signed out.
      const out = await postForm(d.a, '/account/sessions/end', { id: rows[0].id, _csrf: csrf }, mine).expect(303);
      expect(out.headers.location).toBe('/login');
      expect(sessionCookie(out)).toMatch(/Expires=Thu, 01 Jan 1970/);
      expect((await d.b.http().get('/account').set('Cookie', mine).expect(302)).headers.location).toBe('/login');
    });
  });
});
