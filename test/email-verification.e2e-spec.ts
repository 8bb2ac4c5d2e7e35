import { AccountMailQueue } from '../src/auth/account-mail.queue';
import { MailService } from '../src/mail/mail.service';
import { dropRedisKeys, StorageSetup, testEnv } from './support/environments';
import { cookiePair, sessionCookie } from './support/contract-suite';
import { linkToken, mailsTo } from './support/mailbox';
import { startApp, startAppWithEnv, TestApp, uniqueEmail } from './support/test-app';
import { eventually } from './support/waiting';

const PASSWORD = 'correct horse battery';

/** Registers through the API, as a browser or client would; the mail follows the answer. */
async function register(t: TestApp, email = uniqueEmail('verify')): Promise<{ id: string; email: string }> {
  const res = await t.http().post('/auth/register').send({ email, password: PASSWORD, name: 'Vera' }).expect(201);
  return { id: res.body.id, email };
}

/** Every mail the requests so far asked for has been written (the queue's worker, then delivery). */
async function mailSettled(t: TestApp): Promise<void> {
  await t.app.get(AccountMailQueue).idle();
  await t.app.get(MailService).idle();
}

async function verificationToken(t: TestApp, email: string, after = 0): Promise<string> {
  await eventually(async () => mailsTo(t, email).length > after);
  return linkToken(t, email, '/verify-email')!;
}

describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('email verification on %s', (setup) => {
  let t: TestApp;
  let other: TestApp;
  beforeAll(async () => {
    const env = testEnv(setup, { PUBLIC_URL: 'https://auth.example.test', PASSWORD_RESET_MAX_PER_ADDRESS: '1000', REVOCATION_SYNC_INTERVAL_MS: '250' });
    t = await startAppWithEnv(env);
    other = await startAppWithEnv(env);
  });
  afterAll(async () => {
    await t.close();
    await other.close();
    await dropRedisKeys(t.config.redis?.keyPrefix);
  });

  it('mails a link at registration; following it turns emailVerified true for credentials issued before and after', async () => {
    const user = await register(t);
    const jwt = await t.http().post('/api/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    const web = await t.http().post('/web/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    const bearer = `Bearer ${jwt.body.access_token}`;
    const cookie = cookiePair(sessionCookie(web));
    expect((await t.http().get('/api/me').set('Authorization', bearer).expect(200)).body).toEqual({
      id: user.id,
      email: user.email,
      name: 'Vera',
      roles: ['user'],
      emailVerified: false,
    });
    expect((await t.http().get('/web/me').set('Cookie', cookie).expect(200)).body.emailVerified).toBe(false);

    const token = await verificationToken(t, user.email);
    const mail = mailsTo(t, user.email).pop()!;
    expect(mail).toContain('Subject: Confirm your email address');
    expect(mail.replace(/=\r?\n/g, '')).toContain('https://auth.example.test/verify-email?token=3D');
    await t.http().post('/auth/email/verify').send({ token }).expect(204);

    // The credentials from before the verification say so at once, on every instance, and so do new ones.
    expect((await t.http().get('/api/me').set('Authorization', bearer).expect(200)).body.emailVerified).toBe(true);
    await eventually(async () => (await other.http().get('/api/me').set('Authorization', bearer)).body.emailVerified === true, 3000);
    expect((await other.http().get('/web/me').set('Cookie', cookie).expect(200)).body.emailVerified).toBe(true);
    expect((await t.http().get('/web/me').set('Cookie', cookie).expect(200)).body.emailVerified).toBe(true);
    const later = await t.http().post('/api/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    expect((await t.http().get('/api/me').set('Authorization', `Bearer ${later.body.access_token}`).expect(200)).body.emailVerified).toBe(true);
    // Verification ends no credential.
    await t.http().post('/api/auth/refresh').send({ refresh_token: jwt.body.refresh_token }).expect(200);
  });

  it('refuses used, unknown and other-purpose tokens with 400, and lets one of parallel uses through', async () => {
    const user = await register(t);
    const token = await verificationToken(t, user.email);
    const answers = await Promise.all(Array.from({ length: 6 }, () => t.http().post('/auth/email/verify').send({ token })));
    expect(answers.map((res) => res.status).sort()).toEqual([204, 400, 400, 400, 400, 400]);
    const used = answers.find((res) => res.status === 400)!;
    expect(used.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Invalid or expired token' });

    await t.http().post('/auth/email/verify').send({ token: 'no-such-token' }).expect(400);
    await t.http().post('/auth/email/verify').send({}).expect(400);
    await t
      .http()
      .post('/auth/email/verify')
      .send({ token: 'x'.repeat(129) })
      .expect(400);

    // A password-reset token is no verification token, and the reset token survives the attempt.
    const other = await register(t);
    await verificationToken(t, other.email);
    await t.http().post('/auth/password/forgot').send({ email: other.email }).expect(202);
    await eventually(async () => linkToken(t, other.email, '/reset-password') !== undefined);
    const resetToken = linkToken(t, other.email, '/reset-password')!;
    await t.http().post('/auth/email/verify').send({ token: resetToken }).expect(400);
    const login = await t.http().post('/api/auth/login').send({ email: other.email, password: PASSWORD }).expect(200);
    expect((await t.http().get('/api/me').set('Authorization', `Bearer ${login.body.access_token}`)).body.emailVerified).toBe(false);
    await t.http().post('/auth/password/reset').send({ token: resetToken, password: 'another good password' }).expect(204);
  });

  it('resends a link to the signed-in user (any strategy, CSRF with a session), and none once verified', async () => {
    const user = await register(t);
    await verificationToken(t, user.email);
    await t.http().post('/auth/email/resend').expect(401);

    const web = await t.http().post('/web/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    const cookie = cookiePair(sessionCookie(web));
    await t.http().post('/auth/email/resend').set('Cookie', cookie).expect(403);
    const accepted = await t.http().post('/auth/email/resend').set('Cookie', cookie).set('X-CSRF-Token', web.body.csrfToken).expect(202);
    expect(accepted.body).toEqual({});
    const second = await verificationToken(t, user.email, 1);
    await t.http().post('/auth/email/verify').send({ token: second }).expect(204);

    const jwt = await t.http().post('/api/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    await t.http().post('/auth/email/resend').set('Authorization', `Bearer ${jwt.body.access_token}`).expect(202);
    await mailSettled(t);
    expect(mailsTo(t, user.email)).toHaveLength(2);
  });

  it('resends signed out to {email}: the same 202 {} for unknown, verified and unverified addresses; only the unverified one gets a link', async () => {
    const unverified = await register(t);
    const verified = await register(t);
    await verificationToken(t, unverified.email);
    await t
      .http()
      .post('/auth/email/verify')
      .send({ token: await verificationToken(t, verified.email) })
      .expect(204);
    const unknown = uniqueEmail('nobody');

    for (const email of [unknown, verified.email, ` ${unverified.email.toUpperCase()} `]) {
      const res = await t.http().post('/auth/email/resend').send({ email }).expect(202);
      expect(res.body).toEqual({});
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    await t.http().post('/auth/email/resend').send({ email: 'not an email' }).expect(400);
    await mailSettled(t);
    expect(mailsTo(t, unknown)).toHaveLength(0);
    expect(mailsTo(t, verified.email)).toHaveLength(1);
    expect(mailsTo(t, unverified.email)).toHaveLength(2);
    await t
      .http()
      .post('/auth/email/verify')
      .send({ token: linkToken(t, unverified.email, '/verify-email') })
      .expect(204);
  });

  it('shows a form at the mailed link that changes nothing; only its POST verifies, then says so', async () => {
    const email = uniqueEmail('page');
    await t.http().post('/register').type('form').send({ email, password: PASSWORD, name: 'Paige' }).expect(303);
    const token = await verificationToken(t, email);
    const isVerified = async () => {
      const login = await t.http().post('/api/auth/login').send({ email, password: PASSWORD }).expect(200);
      return (await t.http().get('/api/me').set('Authorization', `Bearer ${login.body.access_token}`).expect(200)).body.emailVerified as boolean;
    };

    // What a mail scanner does: fetch the link (twice, HEAD too). Nothing changes.
    for (let i = 0; i < 2; i++) {
      const page = await t.http().get(`/verify-email?token=${token}`).expect(200);
      expect(page.headers['referrer-policy']).toBe('strict-origin');
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.text).not.toContain('Address verified');
      expect(page.text.match(/<form\b[^>]*>/g)).toEqual(['<form method="post" action="/verify-email">']);
      expect(page.text).toContain(`<input type="hidden" name="token" value="${token}">`);
      expect(page.text.match(/<button\b/g)).toHaveLength(1);
    }
    await t.http().head(`/verify-email?token=${token}`).expect(200);
    expect(await isVerified()).toBe(false);

    const done = await t.http().post('/verify-email').type('form').send({ token }).expect(200);
    expect(done.headers['referrer-policy']).toBe('strict-origin');
    expect(done.headers['cache-control']).toBe('no-store');
    expect(done.text).toContain('Address verified');
    expect(await isVerified()).toBe(true);
    const again = await t.http().post('/verify-email').type('form').send({ token }).expect(400);
    expect(again.text).toContain('Invalid or expired token');
    const empty = await t.http().post('/verify-email').type('form').send({}).expect(400);
    expect(empty.text).toContain('token is required');
    await t.http().get('/verify-email').expect(400);
  });
});

describe('email verification required and limited', () => {
  it('gives a squatted, never verified address back to its owner: signed out, a new link can be asked for', async () => {
    const t = await startApp('sqlite', { REQUIRE_EMAIL_VERIFICATION: 'true' });
    try {
      // Someone registered the owner's address and never confirmed it; its first link is lost.
      const squatted = await register(t);
      await verificationToken(t, squatted.email);
      await t.http().post('/auth/register').send({ email: squatted.email, password: 'the owner password' }).expect(409);

      // Signed out, the owner asks for a new link: it reaches the mailbox.
      await t.http().post('/auth/email/resend').send({ email: squatted.email }).expect(202);
      await verificationToken(t, squatted.email, 1);
    } finally {
      await t.close();
    }
  });

  it('counts a completed password reset as a verified address (the mailbox was proven)', async () => {
    const t = await startApp('sqlite', { REQUIRE_EMAIL_VERIFICATION: 'true' });
    try {
      const squatted = await register(t);
      await verificationToken(t, squatted.email);
      await t.http().post('/api/auth/login').send({ email: squatted.email, password: PASSWORD }).expect(403);

      // A reset through the mailed link proves the mailbox: sign-in works at once.
      await t.http().post('/auth/password/forgot').send({ email: squatted.email }).expect(202);
      await eventually(async () => linkToken(t, squatted.email, '/reset-password') !== undefined);
      const resetToken = linkToken(t, squatted.email, '/reset-password')!;
      await t.http().post('/auth/password/reset').send({ token: resetToken, password: 'the owner password' }).expect(204);
      const login = await t.http().post('/api/auth/login').send({ email: squatted.email, password: 'the owner password' }).expect(200);
      expect((await t.http().get('/api/me').set('Authorization', `Bearer ${login.body.access_token}`).expect(200)).body.emailVerified).toBe(true);
      // The verification links mailed before the reset are void.
      await t
        .http()
        .post('/auth/email/verify')
        .send({ token: linkToken(t, squatted.email, '/verify-email') })
        .expect(400);
    } finally {
      await t.close();
    }
  });

  it('refuses sign-in with 403 until the address is verified (REQUIRE_EMAIL_VERIFICATION=true)', async () => {
    const t = await startApp('sqlite', { REQUIRE_EMAIL_VERIFICATION: 'true' });
    try {
      const user = await register(t);
      const refused = await t.http().post('/api/auth/login').send({ email: user.email, password: PASSWORD }).expect(403);
      expect(refused.body).toEqual({ statusCode: 403, error: 'Forbidden', message: expect.stringContaining('Email address not verified') });
      await t.http().post('/web/auth/login').send({ email: user.email, password: PASSWORD }).expect(403);
      // A wrong password still answers as before: the 403 tells nothing to a guesser.
      await t.http().post('/api/auth/login').send({ email: user.email, password: 'not the password' }).expect(401);
      const page = await t.http().post('/login').type('form').send({ email: user.email, password: PASSWORD }).expect(403);
      expect(page.text).toContain('Email address not verified');

      await t
        .http()
        .post('/auth/email/verify')
        .send({ token: await verificationToken(t, user.email) })
        .expect(204);
      await t.http().post('/api/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);

      // The register page signs nobody in before the address is confirmed either.
      const email = uniqueEmail('form');
      const form = await t.http().post('/register').type('form').send({ email, password: PASSWORD, name: 'Eve' }).expect(201);
      expect(form.headers['set-cookie']).toBeUndefined();
      expect(form.text).toContain('Check your mail');
      await verificationToken(t, email);
    } finally {
      await t.close();
    }
  });

  it('answers 429 with Retry-After to token guessing from one address and to resend floods', async () => {
    const t = await startApp('sqlite', { PASSWORD_RESET_MAX_PER_ADDRESS: '4', PASSWORD_RESET_MAX_PER_ACCOUNT: '2' });
    try {
      for (let i = 0; i < 4; i++)
        await t
          .http()
          .post('/auth/email/verify')
          .send({ token: `guess-${i}` })
          .expect(400);
      const limited = await t.http().post('/auth/email/verify').send({ token: 'guess-5' }).expect(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.body).toMatchObject({ statusCode: 429, message: 'Too many attempts from this address; try again later' });
    } finally {
      await t.close();
    }

    const u = await startApp('sqlite', { PASSWORD_RESET_MAX_PER_ACCOUNT: '2' });
    try {
      const user = await u.createUser();
      const login = await u.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const bearer = `Bearer ${login.body.access_token}`;
      await u.http().post('/auth/email/resend').set('Authorization', bearer).expect(202);
      await u.http().post('/auth/email/resend').set('Authorization', bearer).expect(202);
      const limited = await u.http().post('/auth/email/resend').set('Authorization', bearer).expect(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // The two accepted ones went to the signed-in user's own address.
      await mailSettled(u);
      expect(mailsTo(u, user.email)).toHaveLength(2);
      // Signed out, the same account's budget is spent already.
      await u.http().post('/auth/email/resend').send({ email: user.email }).expect(429);
      // Any address, known or not, has a budget of its own.
      const unknown = uniqueEmail('nobody');
      await u.http().post('/auth/email/resend').send({ email: unknown }).expect(202);
      await u.http().post('/auth/email/resend').send({ email: unknown }).expect(202);
      await u.http().post('/auth/email/resend').send({ email: unknown }).expect(429);
    } finally {
      await u.close();
    }

    const v = await startApp('sqlite', { TRUST_PROXY: 'true', PASSWORD_RESET_MAX_PER_ADDRESS: '3' });
    try {
      const from = '198.51.100.77';
      for (let i = 0; i < 3; i++)
        await v
          .http()
          .post('/auth/email/resend')
          .set('X-Forwarded-For', from)
          .send({ email: uniqueEmail('flood') })
          .expect(202);
      const limited = await v
        .http()
        .post('/auth/email/resend')
        .set('X-Forwarded-For', from)
        .send({ email: uniqueEmail('flood') })
        .expect(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await v.close();
    }
  });
});
