import { DataSource } from 'typeorm';
import { decodeSegment } from './support/jwt';
import { cookiePair, sessionCookie } from './support/contract-suite';
import { startApp, TestApp } from './support/test-app';

// AUTH_ROUTE_GROUPS decides per group how requests authenticate; changing it needs no code.
describe('AUTH_ROUTE_GROUPS', () => {
  describe('flipped to web=jwt,api=session', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp('sqlite', { AUTH_ROUTE_GROUPS: 'web=jwt,api=session' });
    });
    afterAll(() => t.close());

    it('makes web answer login with tokens and accept only the Bearer token', async () => {
      const user = await t.createUser();
      const login = await t.http().post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);
      expect(login.body).toEqual(expect.objectContaining({ token_type: 'Bearer', access_token: expect.any(String) }));
      expect(login.headers['set-cookie']).toBeUndefined();
      await t.http().get('/web/me').set('Authorization', `Bearer ${login.body.access_token}`).expect(200);
      await t.http().post('/web/auth/refresh').send({ refresh_token: login.body.refresh_token }).expect(200);
      await t.http().get('/web/auth/csrf').expect(404);
    });

    it('makes api answer login with a session cookie and require CSRF on unsafe methods', async () => {
      const admin = await t.createUser({ roles: ['admin'] });
      const user = await t.createUser();
      const login = await t.http().post('/api/auth/login').send({ email: admin.email, password: admin.password }).expect(200);
      expect(login.body).toEqual({ user: expect.objectContaining({ id: admin.id }), csrfToken: expect.any(String) });
      const cookie = cookiePair(sessionCookie(login));
      await t.http().get('/api/me').set('Cookie', cookie).expect(200);
      // The admin route lives in the api group, so it follows the group's strategy too.
      await t
        .http()
        .put(`/api/admin/users/${user.id}/roles`)
        .set('Cookie', cookie)
        .send({ roles: ['user', 'editor'] })
        .expect(403);
      await t
        .http()
        .put(`/api/admin/users/${user.id}/roles`)
        .set('Cookie', cookie)
        .set('X-CSRF-Token', login.body.csrfToken)
        .send({ roles: ['user', 'editor'] })
        .expect(200);
      await t.http().post('/api/auth/refresh').send({ refresh_token: 'x' }).expect(404);
    });

    it('serves the pages on the session group, since web no longer has sessions', async () => {
      const page = await t.http().get('/login').expect(200);
      expect(page.text).toContain('data-group="api"');
    });
  });

  describe('a group with strategy any', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp('sqlite', { AUTH_ROUTE_GROUPS: 'web=session,api=jwt,mobile=any' });
    });
    afterAll(() => t.close());

    it('answers login with both a session and a token pair', async () => {
      const user = await t.createUser();
      const login = await t.http().post('/mobile/auth/login').send({ email: user.email, password: user.password }).expect(200);
      expect(login.body).toEqual(
        expect.objectContaining({
          user: expect.objectContaining({ id: user.id }),
          csrfToken: expect.any(String),
          access_token: expect.any(String),
          token_type: 'Bearer',
        }),
      );
      expect(sessionCookie(login)).toMatch(/HttpOnly/);
    });

    it('accepts the Bearer token, or the cookie when no token is sent', async () => {
      const user = await t.createUser();
      const login = await t.http().post('/mobile/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const cookie = cookiePair(sessionCookie(login));
      await t.http().get('/mobile/me').set('Authorization', `Bearer ${login.body.access_token}`).expect(200);
      await t.http().get('/mobile/me').set('Cookie', cookie).expect(200);
      await t.http().get('/mobile/me').expect(401);
      // A Bearer token that is sent decides: a bad one is not rescued by a good cookie.
      await t.http().get('/mobile/me').set('Cookie', cookie).set('Authorization', 'Bearer x.y.z').expect(401);
    });

    it('needs CSRF with the cookie but not with the Bearer token', async () => {
      const user = await t.createUser();
      const login = await t.http().post('/mobile/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const cookie = cookiePair(sessionCookie(login));
      await t.http().post('/mobile/auth/logout').set('Cookie', cookie).expect(403);
      await t.http().post('/mobile/auth/logout').set('Authorization', `Bearer ${login.body.access_token}`).expect(204);
      await t.http().get('/mobile/me').set('Authorization', `Bearer ${login.body.access_token}`).expect(401);
      await t.http().post('/mobile/auth/logout').set('Cookie', cookie).set('X-CSRF-Token', login.body.csrfToken).expect(204);
      await t.http().get('/mobile/me').set('Cookie', cookie).expect(401);
    });

    it('has both the refresh and the csrf routes', async () => {
      const user = await t.createUser();
      const login = await t.http().post('/mobile/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const refreshed = await t.http().post('/mobile/auth/refresh').send({ refresh_token: login.body.refresh_token }).expect(200);
      expect(decodeSegment(refreshed.body.access_token, 1).sub).toBe(user.id);
      const csrf = await t
        .http()
        .get('/mobile/auth/csrf')
        .set('Cookie', cookiePair(sessionCookie(login)))
        .expect(200);
      expect(csrf.body.csrfToken).toBe(login.body.csrfToken);
    });
  });

  describe('a single session group', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp('sqlite', { AUTH_ROUTE_GROUPS: 'web=session' });
    });
    afterAll(() => t.close());

    it('has no api group at all', async () => {
      const user = await t.createUser();
      await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(404);
      await t
        .http()
        .put(`/api/admin/users/${user.id}/roles`)
        .send({ roles: ['user'] })
        .expect(404);
      await t.http().post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);
    });
  });
  describe('groups are a boundary (web=session,api=jwt,partner=jwt)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp('sqlite', { AUTH_ROUTE_GROUPS: 'web=session,api=jwt,partner=jwt' });
    });
    afterAll(() => t.close());

    it("binds an access token to the group that issued it; group-less routes accept any group's token", async () => {
      const user = await t.createUser();
      const partner = await t.http().post('/partner/auth/login').send({ email: user.email, password: user.password }).expect(200);
      expect(decodeSegment(partner.body.access_token, 1).grp).toBe('partner');
      await t.http().get('/partner/me').set('Authorization', `Bearer ${partner.body.access_token}`).expect(200);
      const refused = await t.http().get('/api/me').set('Authorization', `Bearer ${partner.body.access_token}`).expect(401);
      expect(refused.body.message).toBe('Token was issued for another route group');
      await t.http().post('/auth/logout-all').set('Authorization', `Bearer ${partner.body.access_token}`).expect(204);
    });

    it('refreshes a family only in its own group, without spending the token elsewhere', async () => {
      const user = await t.createUser();
      const partner = await t.http().post('/partner/auth/login').send({ email: user.email, password: user.password }).expect(200);
      await t.http().post('/api/auth/refresh').send({ refresh_token: partner.body.refresh_token }).expect(401);
      // Not spent, not treated as reuse: the right group still rotates it, into partner tokens.
      const rotated = await t.http().post('/partner/auth/refresh').send({ refresh_token: partner.body.refresh_token }).expect(200);
      expect(decodeSegment(rotated.body.access_token, 1).grp).toBe('partner');
      await t.http().get('/partner/me').set('Authorization', `Bearer ${rotated.body.access_token}`).expect(200);
    });
  });

  describe('refresh families and groups (web=session,api=jwt,partner=jwt)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp('sqlite', { AUTH_ROUTE_GROUPS: 'web=session,api=jwt,partner=jwt' });
    });
    afterAll(() => t.close());

    it('treats a spent refresh token shown in another group as reuse: the family dies', async () => {
      const user = await t.createUser();
      const login = await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const next = await t.http().post('/api/auth/refresh').send({ refresh_token: login.body.refresh_token }).expect(200);
      await t.http().post('/partner/auth/refresh').send({ refresh_token: login.body.refresh_token }).expect(401);
      await t.http().post('/api/auth/refresh').send({ refresh_token: next.body.refresh_token }).expect(401);
      await t.http().get('/api/me').set('Authorization', `Bearer ${next.body.access_token}`).expect(401);
    });

    it('binds a family from before groups existed to the group of its first refresh', async () => {
      const user = await t.createUser();
      const login = await t.http().post('/partner/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const familyId = decodeSegment(login.body.access_token, 1).fam as string;
      await t.app.get(DataSource).query('UPDATE refresh_families SET route_group = NULL WHERE id = ?', [familyId]);
      const bound = await t.http().post('/api/auth/refresh').send({ refresh_token: login.body.refresh_token }).expect(200);
      expect(decodeSegment(bound.body.access_token, 1).grp).toBe('api');
      // Bound now: it no longer rotates in another group.
      await t.http().post('/partner/auth/refresh').send({ refresh_token: bound.body.refresh_token }).expect(401);
      await t.http().post('/api/auth/refresh').send({ refresh_token: bound.body.refresh_token }).expect(200);
    });
  });

  describe('the admin routes follow the groups', () => {
    it('live in the first Bearer group when there is no api group, so roles can still be changed', async () => {
      const t = await startApp('sqlite', { AUTH_ROUTE_GROUPS: 'web=session,partner=jwt' });
      try {
        const admin = await t.createUser({ roles: ['admin'] });
        const user = await t.createUser();
        const login = await t.http().post('/partner/auth/login').send({ email: admin.email, password: admin.password }).expect(200);
        const res = await t
          .http()
          .put(`/partner/admin/users/${user.id}/roles`)
          .set('Authorization', `Bearer ${login.body.access_token}`)
          .send({ roles: ['user', 'editor'] })
          .expect(200);
        expect(res.body.roles).toEqual(['user', 'editor']);
        await t
          .http()
          .put(`/api/admin/users/${user.id}/roles`)
          .set('Authorization', `Bearer ${login.body.access_token}`)
          .send({ roles: ['user'] })
          .expect(404);
      } finally {
        await t.close();
      }
    });

    it('live in ADMIN_ROUTE_GROUP when it is set', async () => {
      const t = await startApp('sqlite', { AUTH_ROUTE_GROUPS: 'web=session,api=jwt,ops=jwt', ADMIN_ROUTE_GROUP: 'ops' });
      try {
        const admin = await t.createUser({ roles: ['admin'] });
        const user = await t.createUser();
        const login = await t.http().post('/ops/auth/login').send({ email: admin.email, password: admin.password }).expect(200);
        await t
          .http()
          .put(`/ops/admin/users/${user.id}/roles`)
          .set('Authorization', `Bearer ${login.body.access_token}`)
          .send({ roles: ['user'] })
          .expect(200);
        await t
          .http()
          .put(`/api/admin/users/${user.id}/roles`)
          .send({ roles: ['user'] })
          .expect(404);
      } finally {
        await t.close();
      }
    });
  });

  describe('no wildcard group routes', () => {
    it('answers 404 for a group that is not configured, and never matches a path that is not a group', async () => {
      const t = await startApp('sqlite', { AUTH_ROUTE_GROUPS: 'web=session,api=jwt' });
      try {
        await t.http().get('/partners/me').expect(404);
        await t.http().post('/partners/auth/login').send({ email: 'a@b.test', password: 'whatever1' }).expect(404);
        // A session group has no refresh route, a jwt group no csrf route.
        await t.http().post('/web/auth/refresh').send({ refresh_token: 'x' }).expect(404);
        await t.http().get('/api/auth/csrf').expect(404);
      } finally {
        await t.close();
      }
    });
  });
});
