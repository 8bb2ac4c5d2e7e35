import type { StorageSetup } from './support/environments';
import { cookiePair, sessionCookie } from './support/contract-suite';
import { linkToken, mails } from './support/mailbox';
import { startApp, TestApp } from './support/test-app';
import { eventually } from './support/waiting';

/** The reset token of the newest mail to this address. */
function resetTokenFor(t: TestApp, email: string): string | undefined {
  return linkToken(t, email, '/reset-password');
}

describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('password reset and change on %s', (setup) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(setup, { PUBLIC_URL: 'https://auth.example.test', PASSWORD_RESET_MAX_PER_ADDRESS: '1000' });
  });
  afterAll(() => t.close());

  async function forgot(email: string) {
    const res = await t.http().post('/auth/password/forgot').send({ email }).expect(202);
    expect(res.body).toEqual({});
  }

  it('mails a link for a known account, answers the same for an unknown one, and the link resets the password', async () => {
    const user = await t.createUser();
    const before = await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
    const browser = await t.http().post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);

    const count = mails(t).length;
    await forgot('nobody.at.all@example.test');
    await forgot(user.email.toUpperCase());
    await eventually(async () => resetTokenFor(t, user.email) !== undefined);
    expect(mails(t)).toHaveLength(count + 1); // none for the unknown address
    expect(mails(t).pop()).toContain('https://auth.example.test/reset-password?token');
    const token = resetTokenFor(t, user.email)!;

    await t.http().post('/auth/password/reset').send({ token, password: 'short' }).expect(400);
    await t.http().post('/auth/password/reset').send({ token, password: 'a brand new password' }).expect(204);
    // Used once; every earlier credential is dead; the new password works, the old does not.
    const again = await t.http().post('/auth/password/reset').send({ token, password: 'another new password' }).expect(400);
    expect(again.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Invalid or expired token' });
    await t.http().get('/api/me').set('Authorization', `Bearer ${before.body.access_token}`).expect(401);
    await t.http().post('/api/auth/refresh').send({ refresh_token: before.body.refresh_token }).expect(401);
    await t
      .http()
      .get('/web/me')
      .set('Cookie', cookiePair(sessionCookie(browser)))
      .expect(401);
    await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(401);
    await t.http().post('/api/auth/login').send({ email: user.email, password: 'a brand new password' }).expect(200);
  });

  it('refuses unknown tokens with 400 and lets exactly one of parallel resets with one token through', async () => {
    await t.http().post('/auth/password/reset').send({ token: 'not-a-token', password: 'a brand new password' }).expect(400);
    const user = await t.createUser();
    await forgot(user.email);
    await eventually(async () => resetTokenFor(t, user.email) !== undefined);
    const token = resetTokenFor(t, user.email)!;
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_v, i) =>
        t
          .http()
          .post('/auth/password/reset')
          .send({ token, password: `parallel password ${i}` }),
      ),
    );
    expect(answers.map((res) => res.status).sort()).toEqual([204, 400, 400, 400, 400, 400]);
  });

  it('changes the password of the signed-in user, ending every credential including the current one', async () => {
    const user = await t.createUser();
    const login = await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
    const bearer = `Bearer ${login.body.access_token}`;
    await t.http().post('/auth/password/change').send({ currentPassword: user.password, newPassword: 'a changed password' }).expect(401);
    await t
      .http()
      .post('/auth/password/change')
      .set('Authorization', bearer)
      .send({ currentPassword: 'wrong password', newPassword: 'a changed password' })
      .expect(401);
    await t
      .http()
      .post('/auth/password/change')
      .set('Authorization', bearer)
      .send({ currentPassword: user.password, newPassword: 'a changed password' })
      .expect(204);
    await t.http().get('/api/me').set('Authorization', bearer).expect(401);
    await t.http().post('/api/auth/login').send({ email: user.email, password: 'a changed password' }).expect(200);
  });

  it('works from the pages with plain POST forms: /login links to /forgot-password, the mailed link opens /reset-password', async () => {
    const user = await t.createUser();
    const login = await t.http().get('/login').expect(200);
    expect(login.text).toContain('href="/forgot-password"');
    const page = await t.http().get('/forgot-password').expect(200);
    expect(page.text).toMatch(/<form method="post" action="\/forgot-password">[\s\S]*name="email"/);
    const sent = await t.http().post('/forgot-password').type('form').send({ email: user.email }).expect(200);
    expect(sent.text).toContain('Check your mail');
    await eventually(async () => resetTokenFor(t, user.email) !== undefined);
    const token = resetTokenFor(t, user.email)!;

    const form = await t.http().get(`/reset-password?token=${token}`).expect(200);
    expect(form.headers['referrer-policy']).toBe('strict-origin');
    expect(form.text).toMatch(/<form method="post" action="\/reset-password">/);
    expect(form.text).toContain(`name="token" value="${token}"`);
    expect(form.text).toContain('name="password"');
    const done = await t.http().post('/reset-password').type('form').send({ token, password: 'a password from the page' }).expect(303);
    expect(done.headers.location).toBe('/login');
    const reused = await t.http().post('/reset-password').type('form').send({ token, password: 'a password from the page' }).expect(400);
    expect(reused.text).toContain('Invalid or expired token');
    await t.http().post('/api/auth/login').send({ email: user.email, password: 'a password from the page' }).expect(200);
  });

  it('needs the CSRF token when changing the password with a session', async () => {
    const user = await t.createUser();
    const login = await t.http().post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);
    const cookie = cookiePair(sessionCookie(login));
    await t.http().post('/auth/password/change').set('Cookie', cookie).send({ currentPassword: user.password, newPassword: 'a changed password' }).expect(403);
    await t
      .http()
      .post('/auth/password/change')
      .set('Cookie', cookie)
      .set('X-CSRF-Token', login.body.csrfToken)
      .send({ currentPassword: user.password, newPassword: 'a changed password' })
      .expect(204);
    await t.http().get('/web/me').set('Cookie', cookie).expect(401);
  });
});

describe('password reset limits', () => {
  it("counts every limit in its own namespace: forgot-password never spends the verification mails' or tokens' budgets", async () => {
    const t = await startApp('sqlite', { PASSWORD_RESET_MAX_PER_ADDRESS: '2', PASSWORD_RESET_MAX_PER_ACCOUNT: '2' });
    try {
      const user = await t.createUser();
      const login = await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      // Not an email: refused before anything is counted (it used to spend the resend budget of that user).
      for (let i = 0; i < 3; i++) {
        const refused = await t
          .http()
          .post('/auth/password/forgot')
          .send({ email: `verify:${user.id}` })
          .expect(400);
        expect(refused.body).toMatchObject({ statusCode: 400, error: 'Bad Request', details: ['email must be a valid email address'] });
      }
      // The address spends its whole forgot-password budget...
      await t.http().post('/auth/password/forgot').send({ email: user.email }).expect(202);
      await t.http().post('/auth/password/forgot').send({ email: 'someone.else@example.test' }).expect(202);
      await t.http().post('/auth/password/forgot').send({ email: 'a.third@example.test' }).expect(429);
      // ...and the other routes still have theirs.
      await t.http().post('/auth/email/verify').send({ token: 'a-guess' }).expect(400);
      await t.http().post('/auth/password/reset').send({ token: 'a-guess', password: 'a brand new password' }).expect(400);
      for (let i = 0; i < 2; i++) await t.http().post('/auth/email/resend').set('Authorization', `Bearer ${login.body.access_token}`).expect(202);
    } finally {
      await t.close();
    }
  });

  it('answers 429 with Retry-After once an account has asked too often', async () => {
    const t = await startApp('sqlite', { PASSWORD_RESET_MAX_PER_ACCOUNT: '2' });
    try {
      const user = await t.createUser();
      await t.http().post('/auth/password/forgot').send({ email: user.email }).expect(202);
      await t.http().post('/auth/password/forgot').send({ email: user.email }).expect(202);
      const refused = await t.http().post('/auth/password/forgot').send({ email: user.email }).expect(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // Another account from the same address is not held back by that one.
      await t.http().post('/auth/password/forgot').send({ email: 'someone.else@example.test' }).expect(202);
    } finally {
      await t.close();
    }
  });
});
