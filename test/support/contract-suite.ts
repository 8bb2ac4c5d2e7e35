import { createPublicKey } from 'node:crypto';
import request from 'supertest';
import { StorageSetup } from './environments';
import { decodeSegment, hs256WithPublicKey, signWith, strangerKey, tamperedToken, unsignedToken } from './jwt';
import { startApp, TestApp, uniqueEmail } from './test-app';

const json = { 'Content-Type': 'application/json' };

export function expectErrorShape(body: Record<string, unknown>, status: number): void {
  expect(body.statusCode).toBe(status);
  expect(typeof body.error).toBe('string');
  expect(typeof body.message).toBe('string');
  expect(JSON.stringify(body)).not.toMatch(/\bat .+\.(ts|js):\d+/); // no stack frames
}

export function sessionCookie(res: request.Response, name = 'authswitch.sid'): string {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const cookie = cookies.find((value) => value.startsWith(`${name}=`));
  if (!cookie) throw new Error(`no ${name} cookie in ${JSON.stringify(cookies)}`);
  return cookie;
}

export const cookiePair = (setCookie: string) => setCookie.split(';')[0];

/**
 * Every endpoint and rule of ../shared/CONTRACT.md, against the real AppModule on one storage
 * setup. Run by sqlite.e2e-spec.ts and postgres-redis.e2e-spec.ts.
 */
export function describeContract(setup: StorageSetup): void {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(setup);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function sessionLogin(email: string, password: string, group = 'web') {
    const res = await t.http().post(`/${group}/auth/login`).send({ email, password }).expect(200);
    return { cookie: cookiePair(sessionCookie(res)), csrfToken: res.body.csrfToken as string, res };
  }

  async function jwtLogin(email: string, password: string, group = 'api') {
    const res = await t.http().post(`/${group}/auth/login`).send({ email, password }).expect(200);
    return res.body as { access_token: string; refresh_token: string; token_type: string; expires_in: number };
  }

  describe('health', () => {
    it('GET /health answers {"status":"ok"}', async () => {
      const res = await t.http().get('/health').expect(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('GET /health/ready answers 200 while the stores answer', async () => {
      const res = await t.http().get('/health/ready').expect(200);
      expect(res.body.status).toBe('ok');
      expect(Object.keys(res.body.info)).toEqual(setup === 'sqlite' ? ['database'] : ['database', 'redis']);
    });
  });

  describe('POST /auth/register', () => {
    it('creates a user with a trimmed, lower-cased email and the role "user"', async () => {
      const email = uniqueEmail('register');
      const res = await t
        .http()
        .post('/auth/register')
        .send({ email: `  ${email.toUpperCase()} `, password: 'password123', name: 'Ada' })
        .expect(201);
      expect(res.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), email, name: 'Ada', roles: ['user'] });
      expect(res.body).not.toHaveProperty('passwordHash');
    });

    it('refuses an email already registered, in any case, with 409', async () => {
      const email = uniqueEmail('dup');
      await t.http().post('/auth/register').send({ email, password: 'password123' }).expect(201);
      const res = await t.http().post('/auth/register').send({ email: email.toUpperCase(), password: 'password123' }).expect(409);
      expectErrorShape(res.body, 409);
    });

    it('ignores roles sent by the client', async () => {
      const res = await t
        .http()
        .post('/auth/register')
        .send({ email: uniqueEmail('sneaky'), password: 'password123', roles: ['admin'] })
        .expect(201);
      expect(res.body.roles).toEqual(['user']);
    });

    it.each([
      ['an invalid email', { email: 'not-an-email', password: 'password123' }],
      ['a 7-character password', { email: uniqueEmail(), password: '1234567' }],
      ['a 257-character password', { email: uniqueEmail(), password: 'x'.repeat(257) }],
      ['a missing password', { email: uniqueEmail() }],
      ['a non-string email', { email: 42, password: 'password123' }],
    ])('answers 400 with details for %s', async (_label, body) => {
      const res = await t.http().post('/auth/register').send(body).expect(400);
      expectErrorShape(res.body, 400);
      expect(res.body.details.length).toBeGreaterThan(0);
    });

    it('accepts passwords of exactly 8 and 256 characters', async () => {
      await t.http().post('/auth/register').send({ email: uniqueEmail(), password: '12345678' }).expect(201);
      await t
        .http()
        .post('/auth/register')
        .send({ email: uniqueEmail(), password: 'y'.repeat(256) })
        .expect(201);
    });
  });

  describe('bad input', () => {
    it('answers malformed JSON with 400 in the error shape', async () => {
      const res = await t.http().post('/auth/register').set(json).send('{"email": ').expect(400);
      expectErrorShape(res.body, 400);
    });

    it('answers a body over 100 kB with 413', async () => {
      const res = await t
        .http()
        .post('/auth/register')
        .set(json)
        .send(JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(110 * 1024) }))
        .expect(413);
      expectErrorShape(res.body, 413);
    });

    it('answers an unknown route with 404 in the error shape', async () => {
      const res = await t.http().get('/no/such/route').expect(404);
      expectErrorShape(res.body, 404);
    });

    it('answers a group that is not configured with 404', async () => {
      await t.http().get('/admin/me').expect(404);
      await t.http().post('/nope/auth/login').send({ email: 'a@b.c', password: 'x' }).expect(404);
    });

    it('never sends X-Powered-By', async () => {
      const res = await t.http().get('/health');
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  });

  describe('session group (web)', () => {
    it('logs in with an HttpOnly, SameSite=Lax, Path=/ cookie and a CSRF token', async () => {
      const user = await t.createUser();
      const res = await t.http().post('/web/auth/login').send({ email: user.email.toUpperCase(), password: user.password }).expect(200);
      expect(res.body).toEqual({
        user: { id: user.id, email: user.email, name: 'Test User', roles: ['user'] },
        csrfToken: expect.any(String),
      });
      const cookie = sessionCookie(res);
      expect(cookie).toMatch(/; HttpOnly/);
      expect(cookie).toMatch(/; SameSite=Lax/);
      expect(cookie).toMatch(/; Path=\//);
      expect(cookie).not.toMatch(/; Secure/);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('issues a new session id at every login, and the old one stops working', async () => {
      const user = await t.createUser();
      const first = await sessionLogin(user.email, user.password);
      const second = await t.http().post('/web/auth/login').set('Cookie', first.cookie).send({ email: user.email, password: user.password }).expect(200);
      const secondCookie = cookiePair(sessionCookie(second));
      expect(secondCookie).not.toBe(first.cookie);
      await t.http().get('/web/me').set('Cookie', first.cookie).expect(401);
      await t.http().get('/web/me').set('Cookie', secondCookie).expect(200);
    });

    it('GET /web/me answers the user with the cookie and 401 without', async () => {
      const user = await t.createUser();
      const { cookie } = await sessionLogin(user.email, user.password);
      const me = await t.http().get('/web/me').set('Cookie', cookie).expect(200);
      expect(me.body).toEqual({ id: user.id, email: user.email, name: 'Test User', roles: ['user'], emailVerified: false });
      expect(me.headers['cache-control']).toBe('no-store');
      const anonymous = await t.http().get('/web/me').expect(401);
      expectErrorShape(anonymous.body, 401);
    });

    it('does not accept a Bearer token on a session group', async () => {
      const user = await t.createUser();
      const tokens = await jwtLogin(user.email, user.password);
      await t.http().get('/web/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(401);
    });

    it('refuses a forged or unsigned cookie', async () => {
      await t.http().get('/web/me').set('Cookie', 'authswitch.sid=s%3Aforged.invalidsignature').expect(401);
      await t.http().get('/web/me').set('Cookie', 'authswitch.sid=plainvalue').expect(401);
    });

    it('requires X-CSRF-Token on unsafe methods and returns it from GET /web/auth/csrf', async () => {
      const user = await t.createUser();
      const { cookie, csrfToken } = await sessionLogin(user.email, user.password);
      const missing = await t.http().post('/web/auth/logout').set('Cookie', cookie).expect(403);
      expectErrorShape(missing.body, 403);
      await t
        .http()
        .post('/web/auth/logout')
        .set('Cookie', cookie)
        .set('X-CSRF-Token', csrfToken.slice(0, -2) + 'xx')
        .expect(403);
      const fetched = await t.http().get('/web/auth/csrf').set('Cookie', cookie).expect(200);
      expect(fetched.body).toEqual({ csrfToken });
      await t.http().get('/web/me').set('Cookie', cookie).expect(200); // still signed in
    });

    it('logout destroys the session and clears the cookie', async () => {
      const user = await t.createUser();
      const { cookie, csrfToken } = await sessionLogin(user.email, user.password);
      const res = await t.http().post('/web/auth/logout').set('Cookie', cookie).set('X-CSRF-Token', csrfToken).expect(204);
      expect(sessionCookie(res)).toMatch(/Expires=Thu, 01 Jan 1970/);
      await t.http().get('/web/me').set('Cookie', cookie).expect(401);
    });

    it('has no refresh route (404), and the JWT group has no csrf route (404)', async () => {
      await t.http().post('/web/auth/refresh').send({ refresh_token: 'x' }).expect(404);
      await t.http().get('/api/auth/csrf').expect(404);
    });
  });

  describe('login failures', () => {
    it('answers a wrong password and an unknown email with the same 401', async () => {
      const user = await t.createUser();
      const wrong = await t.http().post('/api/auth/login').send({ email: user.email, password: 'wrong password' }).expect(401);
      const unknown = await t
        .http()
        .post('/api/auth/login')
        .send({ email: uniqueEmail('ghost'), password: 'whatever1' })
        .expect(401);
      expect(wrong.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Invalid credentials' });
      expect(unknown.body).toEqual(wrong.body);
      const web = await t.http().post('/web/auth/login').send({ email: user.email, password: 'nope' }).expect(401);
      expect(web.body).toEqual(wrong.body);
      expect(web.headers['set-cookie']).toBeUndefined();
    });

    it('answers a login without credentials with 400', async () => {
      const res = await t.http().post('/api/auth/login').send({}).expect(400);
      expectErrorShape(res.body, 400);
    });
  });

  describe('JWT group (api)', () => {
    it('logs in with a Bearer pair signed ES256 with the JWKS key id', async () => {
      const user = await t.createUser();
      const tokens = await jwtLogin(user.email, user.password);
      expect(tokens).toEqual({ access_token: expect.any(String), refresh_token: expect.any(String), token_type: 'Bearer', expires_in: 900 });
      const header = decodeSegment(tokens.access_token, 0);
      const claims = decodeSegment(tokens.access_token, 1);
      const jwks = await t.http().get('/.well-known/jwks.json').expect(200);
      expect(jwks.body.keys).toHaveLength(1);
      const [key] = jwks.body.keys;
      expect(key).toMatchObject({ kid: header.kid, alg: 'ES256', use: 'sig', kty: 'EC', crv: 'P-256' });
      expect(key).not.toHaveProperty('d');
      expect(header.alg).toBe('ES256');
      expect(claims).toMatchObject({ iss: 'authswitch', aud: 'authswitch-api', sub: user.id, jti: expect.any(String) });
      expect((claims.exp as number) - (claims.iat as number)).toBe(900);
    });

    it('GET /api/me answers the user with the token, 401 without, and no-store', async () => {
      const user = await t.createUser();
      const { access_token } = await jwtLogin(user.email, user.password);
      const me = await t.http().get('/api/me').set('Authorization', `Bearer ${access_token}`).expect(200);
      expect(me.body).toEqual({ id: user.id, email: user.email, name: 'Test User', roles: ['user'], emailVerified: false });
      expect(me.headers['cache-control']).toBe('no-store');
      await t.http().get('/api/me').expect(401);
      await t.http().get('/api/me').set('Authorization', 'Basic Zm9vOmJhcg==').expect(401);
      await t.http().get('/api/me').set('Authorization', `bearer ${access_token}`).expect(200); // scheme is case-insensitive
    });

    it('does not accept the session cookie on a JWT group', async () => {
      const user = await t.createUser();
      const { cookie } = await sessionLogin(user.email, user.password);
      await t.http().get('/api/me').set('Cookie', cookie).expect(401);
    });

    it('rotates refresh tokens; a reused one revokes its whole family', async () => {
      const user = await t.createUser();
      const first = await jwtLogin(user.email, user.password);
      const second = await t.http().post('/api/auth/refresh').send({ refresh_token: first.refresh_token }).expect(200);
      expect(second.body).toEqual({ access_token: expect.any(String), refresh_token: expect.any(String), token_type: 'Bearer', expires_in: 900 });
      expect(second.body.refresh_token).not.toBe(first.refresh_token);
      await t.http().get('/api/me').set('Authorization', `Bearer ${second.body.access_token}`).expect(200);

      const reuse = await t.http().post('/api/auth/refresh').send({ refresh_token: first.refresh_token }).expect(401);
      expectErrorShape(reuse.body, 401);
      await t.http().post('/api/auth/refresh').send({ refresh_token: second.body.refresh_token }).expect(401);
      // The access tokens issued from the family die with it: a thief's copy stops at once.
      await t.http().get('/api/me').set('Authorization', `Bearer ${second.body.access_token}`).expect(401);
      await t.http().get('/api/me').set('Authorization', `Bearer ${first.access_token}`).expect(401);
    });

    it('refuses unknown and missing refresh tokens', async () => {
      await t.http().post('/api/auth/refresh').send({ refresh_token: 'not-a-token' }).expect(401);
      await t.http().post('/api/auth/refresh').send({}).expect(400);
    });

    it('logout revokes the access token at once, and the family of a refresh token sent with it', async () => {
      const user = await t.createUser();
      const tokens = await jwtLogin(user.email, user.password);
      await t.http().post('/api/auth/logout').set('Authorization', `Bearer ${tokens.access_token}`).send({ refresh_token: tokens.refresh_token }).expect(204);
      const after = await t.http().get('/api/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(401);
      expectErrorShape(after.body, 401);
      await t.http().post('/api/auth/refresh').send({ refresh_token: tokens.refresh_token }).expect(401);
    });

    it('logout without a refresh token leaves other logins working', async () => {
      const user = await t.createUser();
      const phone = await jwtLogin(user.email, user.password);
      const laptop = await jwtLogin(user.email, user.password);
      await t.http().post('/api/auth/logout').set('Authorization', `Bearer ${phone.access_token}`).expect(204);
      await t.http().get('/api/me').set('Authorization', `Bearer ${laptop.access_token}`).expect(200);
      await t.http().post('/api/auth/refresh').send({ refresh_token: phone.refresh_token }).expect(200);
    });
  });

  describe('attacks on the JWT verifier', () => {
    let user: { id: string; email: string; password: string };
    let valid: string;
    let claims: Record<string, unknown>;
    let kid: string;

    beforeAll(async () => {
      user = await t.createUser();
      valid = (await jwtLogin(user.email, user.password)).access_token;
      claims = decodeSegment(valid, 1);
      kid = decodeSegment(valid, 0).kid as string;
    });

    const now = () => Math.floor(Date.now() / 1000);
    const expectRefused = async (token: string) => {
      const res = await t.http().get('/api/me').set('Authorization', `Bearer ${token}`).expect(401);
      expectErrorShape(res.body, 401);
    };

    it('accepts the genuine token (control)', async () => {
      await t.http().get('/api/me').set('Authorization', `Bearer ${valid}`).expect(200);
    });

    it('refuses alg "none"', async () => {
      await expectRefused(unsignedToken({ ...claims, roles: ['admin'] }, kid));
    });

    it('refuses HS256 signed with the public key (key confusion)', async () => {
      const publicPem = createPublicKey(t.config.jwt.keys.signing.privateKey).export({ format: 'pem', type: 'spki' }).toString();
      await expectRefused(hs256WithPublicKey({ ...claims, roles: ['admin'] }, publicPem, kid));
    });

    it('refuses a tampered payload', async () => {
      await expectRefused(tamperedToken(valid, { roles: ['admin'] }));
    });

    it('refuses a wrong audience or issuer, even when properly signed', async () => {
      const key = t.config.jwt.keys.signing.privateKey;
      await expectRefused(await signWith(key, { alg: 'ES256', kid }, { ...claims, aud: 'another-api' }));
      await expectRefused(await signWith(key, { alg: 'ES256', kid }, { ...claims, iss: 'https://evil.example' }));
    });

    it('refuses an expired token and one without exp', async () => {
      const key = t.config.jwt.keys.signing.privateKey;
      await expectRefused(await signWith(key, { alg: 'ES256', kid }, { ...claims, iat: now() - 3600, exp: now() - 60 }));
      const { exp: _exp, ...noExp } = claims;
      await expectRefused(await signWith(key, { alg: 'ES256', kid }, noExp));
    });

    it('refuses an unknown kid and a key that is not ours', async () => {
      await expectRefused(await signWith(t.config.jwt.keys.signing.privateKey, { alg: 'ES256', kid: 'some-other-key' }, claims));
      await expectRefused(await signWith(strangerKey(), { alg: 'ES256', kid }, claims));
    });

    it('refuses garbage', async () => {
      await expectRefused('a.b.c');
      await t.http().get('/api/me').set('Authorization', 'Bearer not a token').expect(401);
      // The header holds the token and nothing else.
      await t.http().get('/api/me').set('Authorization', `Bearer ${valid} trailing`).expect(401);
    });
  });

  describe('POST /auth/logout-all', () => {
    it('rejects every earlier token and session of the user, and new logins work', async () => {
      const user = await t.createUser();
      const tokens = await jwtLogin(user.email, user.password);
      const other = await jwtLogin(user.email, user.password);
      const browser = await sessionLogin(user.email, user.password);

      await t.http().post('/auth/logout-all').set('Authorization', `Bearer ${tokens.access_token}`).expect(204);

      await t.http().get('/api/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(401);
      await t.http().get('/api/me').set('Authorization', `Bearer ${other.access_token}`).expect(401);
      await t.http().get('/web/me').set('Cookie', browser.cookie).expect(401);
      await t.http().post('/api/auth/refresh').send({ refresh_token: other.refresh_token }).expect(401);

      const fresh = await jwtLogin(user.email, user.password);
      await t.http().get('/api/me').set('Authorization', `Bearer ${fresh.access_token}`).expect(200);
      const freshSession = await sessionLogin(user.email, user.password);
      await t.http().get('/web/me').set('Cookie', freshSession.cookie).expect(200);
    });

    it('from a session, needs the CSRF token', async () => {
      const user = await t.createUser();
      const browser = await sessionLogin(user.email, user.password);
      const tokens = await jwtLogin(user.email, user.password);
      await t.http().post('/auth/logout-all').set('Cookie', browser.cookie).expect(403);
      await t.http().post('/auth/logout-all').set('Cookie', browser.cookie).set('X-CSRF-Token', browser.csrfToken).expect(204);
      await t.http().get('/web/me').set('Cookie', browser.cookie).expect(401);
      await t.http().get('/api/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(401);
    });

    it('answers 401 without credentials', async () => {
      await t.http().post('/auth/logout-all').expect(401);
    });
  });

  describe('PUT /api/admin/users/:id/roles', () => {
    it('lets an admin change roles; the change applies on the next request under every strategy', async () => {
      const admin = await t.createUser({ roles: ['admin', 'user'] });
      const target = await t.createUser({ roles: ['admin', 'user'] });
      const bystander = await t.createUser();
      const adminTokens = await jwtLogin(admin.email, admin.password);
      const targetTokens = await jwtLogin(target.email, target.password);
      const targetBrowser = await sessionLogin(target.email, target.password);

      // The target is an admin now: their token opens the admin route.
      await t
        .http()
        .put(`/api/admin/users/${bystander.id}/roles`)
        .set('Authorization', `Bearer ${targetTokens.access_token}`)
        .send({ roles: ['user', 'auditor'] })
        .expect(200);

      const res = await t
        .http()
        .put(`/api/admin/users/${target.id}/roles`)
        .set('Authorization', `Bearer ${adminTokens.access_token}`)
        .send({ roles: ['user'] })
        .expect(200);
      expect(res.body).toEqual({ id: target.id, email: target.email, name: 'Test User', roles: ['user'] });

      // Taken away: the old token and the old session stop working at once.
      await t
        .http()
        .put(`/api/admin/users/${bystander.id}/roles`)
        .set('Authorization', `Bearer ${targetTokens.access_token}`)
        .send({ roles: ['user'] })
        .expect(401);
      await t.http().get('/web/me').set('Cookie', targetBrowser.cookie).expect(401);

      // A refreshed or new token carries the new roles and is refused by the admin route.
      const refreshed = await t.http().post('/api/auth/refresh').send({ refresh_token: targetTokens.refresh_token }).expect(200);
      expect(decodeSegment(refreshed.body.access_token, 1).roles).toEqual(['user']);
      const forbidden = await t
        .http()
        .put(`/api/admin/users/${bystander.id}/roles`)
        .set('Authorization', `Bearer ${refreshed.body.access_token}`)
        .send({ roles: ['user'] })
        .expect(403);
      expectErrorShape(forbidden.body, 403);
      const session = await sessionLogin(target.email, target.password);
      expect(session.res.body.user.roles).toEqual(['user']);
    });

    it('leaves credentials alone when the roles do not change', async () => {
      const admin = await t.createUser({ roles: ['admin'] });
      const { access_token } = await jwtLogin(admin.email, admin.password);
      await t
        .http()
        .put(`/api/admin/users/${admin.id}/roles`)
        .set('Authorization', `Bearer ${access_token}`)
        .send({ roles: ['admin'] })
        .expect(200);
      await t.http().get('/api/me').set('Authorization', `Bearer ${access_token}`).expect(200);
    });

    it('answers 403 to a non-admin, 401 without a token', async () => {
      const user = await t.createUser();
      const tokens = await jwtLogin(user.email, user.password);
      await t
        .http()
        .put(`/api/admin/users/${user.id}/roles`)
        .set('Authorization', `Bearer ${tokens.access_token}`)
        .send({ roles: ['admin'] })
        .expect(403);
      await t
        .http()
        .put(`/api/admin/users/${user.id}/roles`)
        .send({ roles: ['admin'] })
        .expect(401);
    });

    it('validates the id and the roles', async () => {
      const admin = await t.createUser({ roles: ['admin'] });
      const { access_token } = await jwtLogin(admin.email, admin.password);
      const auth = { Authorization: `Bearer ${access_token}` };
      await t
        .http()
        .put('/api/admin/users/not-a-uuid/roles')
        .set(auth)
        .send({ roles: ['user'] })
        .expect(400);
      const missing = await t
        .http()
        .put('/api/admin/users/3f1c2b8e-8a5e-4c1e-9d2a-0b6f7e5d4c3b/roles')
        .set(auth)
        .send({ roles: ['user'] })
        .expect(404);
      expectErrorShape(missing.body, 404);
      await t.http().put(`/api/admin/users/${admin.id}/roles`).set(auth).send({ roles: 'admin' }).expect(400);
      await t
        .http()
        .put(`/api/admin/users/${admin.id}/roles`)
        .set(auth)
        .send({ roles: ['Not A Role!'] })
        .expect(400);
    });
  });

  describe('pages', () => {
    it('serves login and register forms with the inputs the contract names', async () => {
      const login = await t.http().get('/login').expect(200);
      expect(login.headers['content-type']).toMatch(/text\/html/);
      expect(login.text).toMatch(/name="email"/);
      expect(login.text).toMatch(/name="password"/);
      const register = await t.http().get('/register').expect(200);
      expect(register.text).toMatch(/name="name"/);
    });

    it('redirects /account to /login without a session and lists sessions with one', async () => {
      const anonymous = await t.http().get('/account').expect(302);
      expect(anonymous.headers.location).toBe('/login');
      const user = await t.createUser();
      await sessionLogin(user.email, user.password);
      const { cookie, csrfToken } = await sessionLogin(user.email, user.password);
      const page = await t.http().get('/account').set('Cookie', cookie).expect(200);
      expect(page.text).toContain(user.email);
      expect(page.text).toContain(csrfToken);
      expect(page.text.match(/<tr><td>/g)).toHaveLength(2);
    });
  });
}
