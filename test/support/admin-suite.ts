import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditService } from '../../src/audit/audit.service';
import { cookiePair, expectErrorShape, sessionCookie } from './contract-suite';
import { StorageSetup } from './environments';
import { linkToken } from './mailbox';
import { startApp, TestApp, uniqueEmail } from './test-app';
import { eventually } from './waiting';

/** How many wrong passwords lock an account in these suites (LOGIN_MAX_FAILURES_PER_ACCOUNT). */
export const ACCOUNT_LOCKOUT = 3;

export interface SignedIn {
  bearer: { Authorization: string };
  refreshToken: string;
  cookie: string;
}

/** Signs the user in on the api group (a token pair) and the web group (a session cookie). */
export async function signInBoth(t: TestApp, email: string, password: string): Promise<SignedIn> {
  const pair = await t.http().post('/api/auth/login').send({ email, password }).expect(200);
  const web = await t.http().post('/web/auth/login').send({ email, password }).expect(200);
  return { bearer: { Authorization: `Bearer ${pair.body.access_token}` }, refreshToken: pair.body.refresh_token, cookie: cookiePair(sessionCookie(web)) };
}

/** Every credential of `signedIn` is refused by `t`, at once: no waiting. */
export async function expectAllRefused(t: TestApp, signedIn: SignedIn): Promise<void> {
  expectErrorShape((await t.http().get('/api/me').set(signedIn.bearer).expect(401)).body, 401);
  expectErrorShape((await t.http().get('/web/me').set('Cookie', signedIn.cookie).expect(401)).body, 401);
  expectErrorShape((await t.http().post('/api/auth/refresh').send({ refresh_token: signedIn.refreshToken }).expect(401)).body, 401);
}

/** Login on both groups answers 403 `Account disabled` in the contract's error shape. */
export async function expectLoginDisabled(t: TestApp, email: string, password: string): Promise<void> {
  for (const group of ['api', 'web']) {
    const res = await t.http().post(`/${group}/auth/login`).send({ email, password }).expect(403);
    expectErrorShape(res.body, 403);
    expect(res.body.message).toBe('Account disabled');
  }
}

/**
 * The administration routes (`/api/admin/users...`), on one storage setup: list and search,
 * disable and enable, unlock, delete, and who may do them. Run on SQLite
 * (admin-sqlite.e2e-spec.ts) and PostgreSQL + Redis (admin.e2e-spec.ts).
 */
export function describeAdministration(setup: StorageSetup): void {
  let t: TestApp;
  let admin: { id: string; email: string; password: string };
  let asAdmin: { Authorization: string };

  beforeAll(async () => {
    t = await startApp(setup, { LOGIN_MAX_FAILURES_PER_ACCOUNT: String(ACCOUNT_LOCKOUT) });
    admin = await t.createUser({ roles: ['admin', 'user'] });
    const login = await t.http().post('/api/auth/login').send({ email: admin.email, password: admin.password }).expect(200);
    asAdmin = { Authorization: `Bearer ${login.body.access_token}` };
  });
  afterAll(async () => {
    await t?.close();
  });

  const events = async (userId: string) => (await t.app.get(AuditService).list({ userId, limit: 100 })).events;

  describe('listing', () => {
    it('lists users a page at a time in email order, searched by part of the email or name', async () => {
      const marker = `Mk${randomBytes(4).toString('hex')}`;
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await t.createUser({ name: `Member ${marker} ${i}` }));
      // Found by email too, whatever the case.
      const byEmail = await t.createUser({ name: 'Someone else' });

      const seen: Array<Record<string, unknown>> = [];
      let cursor: string | null = null;
      let res: { body: { users: Array<Record<string, unknown>>; next_cursor: string | null } };
      let pages = 0;
      do {
        res = await t
          .http()
          .get('/api/admin/users')
          .query({ query: marker.toLowerCase(), limit: 2, ...(cursor ? { cursor } : {}) })
          .set(asAdmin)
          .expect(200);
        expect(Object.keys(res.body).sort()).toEqual(['next_cursor', 'users']);
        seen.push(...res.body.users);
        cursor = res.body.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      // The pages, one after the other, are the whole result in the database's email order.
      const whole = await t.http().get('/api/admin/users').query({ query: marker }).set(asAdmin).expect(200);
      expect(whole.body.next_cursor).toBeNull();
      expect(seen).toEqual(whole.body.users);
      expect(seen.map((user) => user.id).sort()).toEqual(made.map((user) => user.id).sort());
      expect(Object.keys(seen[0]).sort()).toEqual(['createdAt', 'disabled', 'email', 'emailVerified', 'id', 'lastLoginAt', 'name', 'roles']);
      expect(seen[0]).toMatchObject({ roles: ['user'], emailVerified: false, disabled: false, lastLoginAt: null, createdAt: expect.stringMatching(/^\d{4}-/) });

      const found = await t.http().get('/api/admin/users').query({ query: byEmail.email.toUpperCase() }).set(asAdmin).expect(200);
      expect(found.body).toEqual({ users: [expect.objectContaining({ id: byEmail.id, email: byEmail.email })], next_cursor: null });
    });

    it('takes % and _ in the query literally', async () => {
      const marker = `Lit${randomBytes(4).toString('hex')}`;
      const percent = await t.createUser({ name: `${marker} 50% off` });
      await t.createUser({ name: `${marker} 50 percent off` });
      await t.createUser({ name: `${marker}x5` });
      const search = async (query: string) =>
        (await t.http().get('/api/admin/users').query({ query }).set(asAdmin).expect(200)).body.users.map((user: { id: string }) => user.id);
      expect(await search(`${marker} 50%`)).toEqual([percent.id]);
      expect(await search(`${marker}_`)).toEqual([]);
      expect(await search(`${marker}%5`)).toEqual([]);
      expect((await search(marker)).length).toBe(3);
    });

    it('refuses a bad cursor, limit or query with 400', async () => {
      for (const query of [{ cursor: 'not-a-cursor' }, { cursor: Buffer.from('e:12').toString('base64url') }, { cursor: '%%%' }]) {
        const res = await t.http().get('/api/admin/users').query(query).set(asAdmin).expect(400);
        expectErrorShape(res.body, 400);
        expect(res.body.message).toBe('Invalid cursor');
      }
      for (const query of [{ limit: '0' }, { limit: '101' }, { limit: 'ten' }, { query: 'x'.repeat(321) }]) {
        expectErrorShape((await t.http().get('/api/admin/users').query(query).set(asAdmin).expect(400)).body, 400);
      }
      await t
        .http()
        .get('/api/admin/users')
        .query({ query: 'x'.repeat(320), limit: '100' })
        .set(asAdmin)
        .expect(200);
    });

    it('shows one user, 404 for an unknown id, 400 for one that is not a UUID', async () => {
      const user = await t.createUser();
      const res = await t.http().get(`/api/admin/users/${user.id}`).set(asAdmin).expect(200);
      expect(res.body).toMatchObject({ id: user.id, email: user.email, disabled: false, disabledAt: null, disabledReason: null, disabledUntil: null });
      expect((await t.http().get(`/api/admin/users/${randomUUID()}`).set(asAdmin).expect(404)).body.message).toBe('User not found');
      await t.http().get('/api/admin/users/nope').set(asAdmin).expect(400);
    });

    it('is for admins only: 403 for a plain user, 401 without credentials', async () => {
      const user = await t.createUser();
      const login = await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const asUser = { Authorization: `Bearer ${login.body.access_token}` };
      expectErrorShape((await t.http().get('/api/admin/users').set(asUser).expect(403)).body, 403);
      await t.http().post(`/api/admin/users/${user.id}/disable`).set(asUser).send({ reason: 'x' }).expect(403);
      await t.http().delete(`/api/admin/users/${admin.id}`).set(asUser).expect(403);
      await t.http().get('/api/admin/users').expect(401);
    });
  });

  describe('disable and enable', () => {
    it('ends every session and token of the user at once; login answers 403 until enabled', async () => {
      const user = await t.createUser();
      const signedIn = await signInBoth(t, user.email, user.password);
      await t.http().get('/api/me').set(signedIn.bearer).expect(200);

      const res = await t.http().post(`/api/admin/users/${user.id}/disable`).set(asAdmin).send({ reason: 'Reported for abuse' }).expect(200);
      expect(res.body).toMatchObject({
        id: user.id,
        disabled: true,
        disabledReason: 'Reported for abuse',
        disabledUntil: null,
        disabledAt: expect.any(String),
      });
      await expectAllRefused(t, signedIn);
      await expectLoginDisabled(t, user.email, user.password);
      // The login page says so too.
      const page = await t.http().post('/login').type('form').send({ email: user.email, password: user.password }).expect(403);
      expect(page.text).toContain('Account disabled');
      const listed = await t.http().get('/api/admin/users').query({ query: user.email }).set(asAdmin).expect(200);
      expect(listed.body.users[0].disabled).toBe(true);

      const enabled = await t.http().post(`/api/admin/users/${user.id}/enable`).set(asAdmin).expect(200);
      expect(enabled.body).toMatchObject({ disabled: false, disabledReason: null });
      // Enabling gives no credential back: the old ones stay ended.
      await t.http().get('/api/me').set(signedIn.bearer).expect(401);
      await signInBoth(t, user.email, user.password);

      const recorded = await events(user.id);
      expect(recorded.find((event) => event.type === 'user.disabled')).toMatchObject({
        actor: { kind: 'admin', id: admin.id },
        details: { reason: 'Reported for abuse', until: null },
      });
      expect(recorded.find((event) => event.type === 'user.enabled')).toMatchObject({ actor: { kind: 'admin', id: admin.id } });
    });

    it('lapses by itself at `until`; an `until` in the past is refused', async () => {
      const user = await t.createUser();
      const until = new Date(Date.now() + 1500).toISOString();
      const res = await t.http().post(`/api/admin/users/${user.id}/disable`).set(asAdmin).send({ reason: 'Cooling off', until }).expect(200);
      expect(res.body.disabledUntil).toBe(until);
      await expectLoginDisabled(t, user.email, user.password);
      await eventually(async () => (await t.http().post('/api/auth/login').send({ email: user.email, password: user.password })).status === 200);

      for (const body of [{ reason: 'x', until: new Date(Date.now() - 1000).toISOString() }, { reason: 'x', until: 'tomorrow' }, { reason: '' }, {}]) {
        expectErrorShape((await t.http().post(`/api/admin/users/${user.id}/disable`).set(asAdmin).send(body).expect(400)).body, 400);
      }
      expectErrorShape(
        (
          await t
            .http()
            .post(`/api/admin/users/${user.id}/disable`)
            .set(asAdmin)
            .send({ reason: 'r'.repeat(201) })
            .expect(400)
        ).body,
        400,
      );
      await t.http().post(`/api/admin/users/${randomUUID()}/disable`).set(asAdmin).send({ reason: 'x' }).expect(404);
      await t.http().post(`/api/admin/users/${randomUUID()}/enable`).set(asAdmin).expect(404);
    });

    it('stays disabled through a password reset', async () => {
      const user = await t.createUser();
      await t.http().post(`/api/admin/users/${user.id}/disable`).set(asAdmin).send({ reason: 'Locked' }).expect(200);
      await t.http().post('/auth/password/forgot').send({ email: user.email }).expect(202);
      await eventually(async () => linkToken(t, user.email, '/reset-password') !== undefined);
      await t
        .http()
        .post('/auth/password/reset')
        .send({ token: linkToken(t, user.email, '/reset-password'), password: 'a brand new password' })
        .expect(204);
      await expectLoginDisabled(t, user.email, 'a brand new password');
      expect((await t.http().get(`/api/admin/users/${user.id}`).set(asAdmin).expect(200)).body.disabled).toBe(true);
    });

    it('refuses an admin disabling or deleting themselves (409)', async () => {
      for (const call of [
        t.http().post(`/api/admin/users/${admin.id}/disable`).set(asAdmin).send({ reason: 'oops' }),
        t.http().delete(`/api/admin/users/${admin.id}`).set(asAdmin),
      ]) {
        const res = await call.expect(409);
        expectErrorShape(res.body, 409);
        expect(res.body.message).toBe('Administrators cannot disable or delete their own account');
      }
      await t.http().get('/api/me').set(asAdmin).expect(200);
    });
  });

  it("the /admin page: escaped, for admins only, its buttons behind the page forms' checks", async () => {
    await t.http().get('/admin').expect(302).expect('Location', '/login');
    const plain = await t.createUser();
    const asPlain = await signInBoth(t, plain.email, plain.password);
    await t.http().get('/admin').set('Cookie', asPlain.cookie).expect(403);

    const marker = `Esc${randomBytes(4).toString('hex')}`;
    const target = await t.createUser({ name: `<script>alert(1)</script> ${marker}` });
    const web = await t.http().post('/web/auth/login').send({ email: admin.email, password: admin.password }).expect(200);
    const cookie = cookiePair(sessionCookie(web));
    const csrf = web.body.csrfToken as string;
    const page = await t.http().get('/admin').query({ query: marker }).set('Cookie', cookie).expect(200);
    expect(page.text).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(page.text).not.toContain('<script>alert');
    expect(page.text.match(/<g class="hour"/g)).toHaveLength(24);
    expectErrorShape((await t.http().get('/api/admin/users').query({ cursor: 'bad' }).set(asAdmin).expect(400)).body, 400);
    expect((await t.http().get('/admin').query({ cursor: 'bad' }).set('Cookie', cookie).expect(400)).text).toContain('Invalid cursor');

    const post = (form: Record<string, string>, headers: Record<string, string> = {}) =>
      t.http().post('/admin/users/disable').set('Cookie', cookie).set(headers).type('form').send(form);
    await post({ id: target.id, reason: 'x' }).expect(403);
    await post({ id: target.id, reason: 'x', _csrf: csrf }, { 'Sec-Fetch-Site': 'cross-site' }).expect(403);
    await post({ id: target.id, reason: 'x', _csrf: csrf }, { Origin: 'https://evil.example' }).expect(403);
    await post({ id: admin.id, reason: 'x', _csrf: csrf }).expect(409);
    await post({ id: target.id, reason: '', _csrf: csrf }).expect(400);
    expect((await t.http().get(`/api/admin/users/${target.id}`).set(asAdmin).expect(200)).body.disabled).toBe(false);
    await t
      .http()
      .post('/admin/users/disable')
      .set('Cookie', asPlain.cookie)
      .type('form')
      .send({ id: target.id, reason: 'x', _csrf: (await t.http().get('/web/auth/csrf').set('Cookie', asPlain.cookie).expect(200)).body.csrfToken })
      .expect(403);

    await post({ id: target.id, reason: 'From the page', _csrf: csrf, query: marker }).expect(303).expect('Location', `/admin?query=${marker}`);
    expect((await t.http().get(`/api/admin/users/${target.id}`).set(asAdmin).expect(200)).body).toMatchObject({
      disabled: true,
      disabledReason: 'From the page',
    });
    await t.http().post('/admin/users/enable').set('Cookie', cookie).type('form').send({ id: target.id, _csrf: csrf }).expect(303).expect('Location', '/admin');
    expect((await t.http().get(`/api/admin/users/${target.id}`).set(asAdmin).expect(200)).body.disabled).toBe(false);
  });

  it("unlock clears the account's failed-login limit", async () => {
    const user = await t.createUser();
    for (let i = 0; i < ACCOUNT_LOCKOUT; i++) await t.http().post('/api/auth/login').send({ email: user.email, password: 'wrong password' }).expect(401);
    expectErrorShape((await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(429)).body, 429);

    await t.http().post(`/api/admin/users/${user.id}/unlock`).set(asAdmin).expect(200);
    await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
    expect((await events(user.id)).find((event) => event.type === 'user.unlocked')).toMatchObject({ actor: { kind: 'admin', id: admin.id } });
    await t.http().post(`/api/admin/users/${randomUUID()}/unlock`).set(asAdmin).expect(404);
  });

  it('delete: 204, every credential refused, the rows gone, the email free again, the events kept without it', async () => {
    const email = uniqueEmail('deleted');
    const password = 'correct horse battery';
    const registered = await t.http().post('/auth/register').send({ email, password, name: 'Del' }).expect(201);
    const id = registered.body.id as string;
    const signedIn = await signInBoth(t, email, password);

    await t.http().delete(`/api/admin/users/${id}`).set(asAdmin).expect(204);
    await expectAllRefused(t, signedIn);
    await t.http().get(`/api/admin/users/${id}`).set(asAdmin).expect(404);
    await t.http().delete(`/api/admin/users/${id}`).set(asAdmin).expect(404);
    await t.http().post('/api/auth/login').send({ email, password }).expect(401);
    const dataSource = t.app.get(DataSource);
    for (const table of ['users', 'refresh_families', 'refresh_tokens', 'one_time_tokens', 'known_devices', 'sessions']) {
      const column = table === 'users' ? 'id' : 'user_id';
      const [{ count }] = await dataSource.query(`SELECT COUNT(*) AS count FROM ${table} WHERE ${column} = $1`.replace('$1', setup === 'sqlite' ? '?' : '$1'), [
        id,
      ]);
      expect({ table, count: Number(count) }).toEqual({ table, count: 0 });
    }

    const again = await t.http().post('/auth/register').send({ email, password: 'another password' }).expect(201);
    expect(again.body.id).not.toBe(id);
    await t.http().post('/api/auth/login').send({ email, password: 'another password' }).expect(200);

    const kept = await events(id);
    expect(kept.map((event) => event.type)).toEqual(expect.arrayContaining(['user.registered', 'login.succeeded', 'user.deleted']));
    expect(kept.find((event) => event.type === 'user.deleted')).toMatchObject({ actor: { kind: 'admin', id: admin.id }, userId: id });
    expect(JSON.stringify(kept)).not.toContain(email);
  });
}
