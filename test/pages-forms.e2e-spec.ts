import { Browser, chromium } from 'playwright-core';
import { cookiePair, sessionCookie } from './support/contract-suite';
import { dropRedisKeys, StorageSetup } from './support/environments';
import { appOnPrivateRedis, startApp, TestApp, uniqueEmail } from './support/test-app';

// The pages' forms as a browser without scripts sends them: application/x-www-form-urlencoded
// POSTs to the page routes, answered with 303 or the form again, in HTML.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'a long enough password';
/** PUBLIC_URL of the markup-and-refusals app: the one origin its forms may come from. */
const OWN_ORIGIN = 'https://auth.example.test';

/** The value of the logout form's hidden CSRF field on an account page. */
function csrfField(html: string): string {
  const match = /<input type="hidden" name="_csrf" value="([^"]*)">/.exec(html);
  if (!match) throw new Error('no _csrf field on the page');
  return match[1];
}

async function closeApp(t: TestApp | undefined): Promise<void> {
  if (!t) return;
  const prefix = t.config.redis?.keyPrefix;
  await t.close();
  // Only the per-app prefixes testEnv() makes up: never a shared one.
  if (prefix?.startsWith('test:')) await dropRedisKeys(prefix);
}

describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('form pages without scripts (%s)', (setup) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(setup);
  });
  afterAll(() => closeApp(t));

  const postForm = (path: string, fields: Record<string, string>, cookie?: string) => {
    const req = t.http().post(path).type('form').send(fields);
    return cookie ? req.set('Cookie', cookie) : req;
  };

  async function signIn(email: string, password: string): Promise<string> {
    const res = await postForm('/login', { email, password }).expect(303);
    expect(res.headers.location).toBe('/account');
    return cookiePair(sessionCookie(res));
  }

  it('signs in with a form post: 303 to /account, and the cookie opens the account page', async () => {
    const user = await t.createUser({ password: PASSWORD });
    const cookie = await signIn(user.email, PASSWORD);
    const account = await t.http().get('/account').set('Cookie', cookie).expect(200);
    expect(account.headers['content-type']).toMatch(/^text\/html/);
    expect(account.text).toContain(`<strong id="email">${user.email}</strong>`);
  });

  it('answers a wrong password with 401 and the form again, without the password', async () => {
    const user = await t.createUser({ password: PASSWORD });
    const wrong = 'not the password 1234';
    const res = await postForm('/login', { email: user.email, password: wrong }).expect(401);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.text).toContain('<p id="error" role="alert">Invalid credentials</p>');
    expect(res.text).toContain(`value="${user.email}"`);
    expect(res.text).not.toContain(wrong);
    expect(res.text).toContain('<form method="post" action="/login"');
  });

  it('registers with a form post, signs in, and refuses the same email again with 409', async () => {
    const email = uniqueEmail('form');
    const res = await postForm('/register', { name: 'Ada', email, password: PASSWORD }).expect(303);
    expect(res.headers.location).toBe('/account');
    const account = await t
      .http()
      .get('/account')
      .set('Cookie', cookiePair(sessionCookie(res)))
      .expect(200);
    expect(account.text).toContain(`<strong id="email">${email}</strong> (Ada)`);

    const again = await postForm('/register', { name: 'Ada', email: email.toUpperCase(), password: 'another password' }).expect(409);
    expect(again.headers['content-type']).toMatch(/^text\/html/);
    expect(again.text).toContain('Email already registered');
    expect(again.text).not.toContain('another password');
    expect(again.headers['set-cookie']).toBeUndefined();
  });

  it('logs out with the form only when its _csrf field matches the session, then the session is dead', async () => {
    const user = await t.createUser({ password: PASSWORD });
    const cookie = await signIn(user.email, PASSWORD);
    const token = csrfField((await t.http().get('/account').set('Cookie', cookie).expect(200)).text);
    expect(token.length).toBeGreaterThan(20);

    const missing = await postForm('/logout', {}, cookie).expect(403);
    expect(missing.headers['content-type']).toMatch(/^text\/html/);
    expect(missing.text).toContain('CSRF');
    await postForm('/logout', { _csrf: `${token.slice(0, -1)}x` }, cookie).expect(403);
    await postForm('/logout', { _csrf: token.slice(0, 10) }, cookie).expect(403);
    await t.http().get('/account').set('Cookie', cookie).expect(200); // still signed in

    const out = await postForm('/logout', { _csrf: token }, cookie).expect(303);
    expect(out.headers.location).toBe('/login');
    expect(sessionCookie(out)).toMatch(/Expires=Thu, 01 Jan 1970/);
    const after = await t.http().get('/account').set('Cookie', cookie).expect(302);
    expect(after.headers.location).toBe('/login');
    await t.http().get('/web/me').set('Cookie', cookie).expect(401);
  });
});

describe('form pages without scripts: markup and refusals (sqlite)', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    // X-Forwarded-For stands in for distinct clients, so each test has its own address counters.
    t = await startApp('sqlite', {
      PUBLIC_URL: OWN_ORIGIN,
      TRUST_PROXY: 'true',
      LOGIN_MAX_FAILURES_PER_ACCOUNT: '2',
      LOGIN_FAILURE_WINDOW_SECONDS: '60',
      REGISTER_MAX_PER_ADDRESS: '2',
      REGISTER_WINDOW_SECONDS: '60',
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  });
  afterAll(async () => {
    await browser?.close();
    await closeApp(t);
  });
  afterEach(() => jest.restoreAllMocks());

  let address = 0;
  const postForm = (path: string, fields: Record<string, string>, from = `198.51.100.${++address}`) =>
    t.http().post(path).type('form').set('X-Forwarded-For', from).send(fields);

  /** Every form of a page as Chromium's HTML parser reads it (scripts off: the markup alone). */
  async function formsOf(html: string) {
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.setContent(html);
      return await page.evaluate(() => ({
        forms: Array.from(document.forms).map((form) => ({ method: form.method, action: form.getAttribute('action') })),
        // A submit button may override its form's method.
        overrides: Array.from(document.querySelectorAll('[formmethod]')).map((element) => element.getAttribute('formmethod')),
        passwordsOutsidePostForms: Array.from(document.querySelectorAll<HTMLInputElement>('input[type="password"]')).filter(
          (input) => input.form?.method !== 'post',
        ).length,
      }));
    } finally {
      await context.close();
    }
  }

  it('has only method="post" forms on /login, /register, /account, /forgot-password, /reset-password and /verify-email', async () => {
    const user = await t.createUser({ password: PASSWORD });
    const signedIn = await postForm('/login', { email: user.email, password: PASSWORD }).expect(303);
    const pages = {
      login: (await t.http().get('/login').expect(200)).text,
      register: (await t.http().get('/register').expect(200)).text,
      account: (
        await t
          .http()
          .get('/account')
          .set('Cookie', cookiePair(sessionCookie(signedIn)))
          .expect(200)
      ).text,
      forgot: (await t.http().get('/forgot-password').expect(200)).text,
      reset: (await t.http().get('/reset-password?token=abc').expect(200)).text,
      verify: (await t.http().get('/verify-email?token=abc').expect(200)).text,
    };
    // The account page: an end button per sign-in (one here), then the logout form.
    const expected = {
      login: ['/login'],
      register: ['/register'],
      account: ['/account/sessions/end', '/logout'],
      forgot: ['/forgot-password'],
      reset: ['/reset-password'],
      verify: ['/verify-email'],
    };
    for (const [name, html] of Object.entries(pages)) {
      const { forms, overrides, passwordsOutsidePostForms } = await formsOf(html);
      // The raw markup too: every <form tag the parser saw carries the attribute itself.
      expect((html.match(/<form\b/gi) ?? []).length).toBe(forms.length);
      expect(forms).toEqual(expected[name as keyof typeof expected].map((action) => ({ method: 'post', action })));
      expect(overrides).toEqual([]);
      expect(passwordsOutsidePostForms).toBe(0);
    }
  });

  it('answers bad input with 400 and the validation message', async () => {
    const short = await postForm('/register', { email: uniqueEmail('short'), password: 'short' }).expect(400);
    expect(short.headers['content-type']).toMatch(/^text\/html/);
    expect(short.text).toContain('password must be 8 to 256 characters');
    expect(short.text).not.toContain('value="short"');

    const noEmail = await postForm('/register', { email: 'not-an-email', password: PASSWORD }).expect(400);
    expect(noEmail.text).toContain('email must be a valid email address');
    expect(noEmail.text).not.toContain(PASSWORD);

    const longName = await postForm('/register', { email: uniqueEmail('long'), password: PASSWORD, name: 'n'.repeat(101) }).expect(400);
    expect(longName.text).toContain('name must be at most 100 characters');

    const noPassword = await postForm('/login', { email: 'someone@example.test' }).expect(400);
    expect(noPassword.text).toContain('password is required');
    await t.http().post('/login').expect(400);
  });

  it('answers a locked-out account with 429 and Retry-After', async () => {
    const user = await t.createUser({ password: PASSWORD });
    for (let i = 0; i < 2; i++) await postForm('/login', { email: user.email, password: 'wrong password' }).expect(401);
    const locked = await postForm('/login', { email: user.email, password: PASSWORD }).expect(429);
    expect(locked.headers['content-type']).toMatch(/^text\/html/);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(locked.text).toContain('Too many failed login attempts');
    expect(locked.headers['set-cookie']).toBeUndefined();
  });

  it('counts form registrations against the same per-address limit as the API', async () => {
    const from = '203.0.113.7';
    await postForm('/register', { email: uniqueEmail('limit'), password: PASSWORD }, from).expect(303);
    await t
      .http()
      .post('/auth/register')
      .set('X-Forwarded-For', from)
      .send({ email: uniqueEmail('limit'), password: PASSWORD })
      .expect(201);
    const refused = await postForm('/register', { email: uniqueEmail('limit'), password: PASSWORD }, from).expect(429);
    expect(refused.headers['content-type']).toMatch(/^text\/html/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.text).toContain('Too many registrations');
  });

  it('sends a logout without a session to /login', async () => {
    const res = await postForm('/logout', { _csrf: 'anything' }).expect(303);
    expect(res.headers.location).toBe('/login');
  });

  it('refuses forms another site made the browser send (login CSRF)', async () => {
    const user = await t.createUser({ password: PASSWORD });
    const res = await postForm('/login', { email: user.email, password: PASSWORD }).set('Sec-Fetch-Site', 'cross-site').expect(403);
    expect(res.headers['set-cookie']).toBeUndefined();
    await postForm('/register', { email: uniqueEmail('csrf'), password: PASSWORD })
      .set('Sec-Fetch-Site', 'cross-site')
      .expect(403);
    await postForm('/login', { email: user.email, password: PASSWORD }).set('Sec-Fetch-Site', 'same-origin').expect(303);
  });

  it('refuses every page form with a foreign Origin and no Sec-Fetch-Site (older browsers): 403, no cookie, nothing done', async () => {
    const user = await t.createUser({ password: PASSWORD });
    const signIn = () => postForm('/login', { email: user.email, password: PASSWORD }).set('Origin', OWN_ORIGIN).expect(303);
    const cookie = cookiePair(sessionCookie(await signIn()));
    const account = (await t.http().get('/account').set('Cookie', cookie).expect(200)).text;
    const _csrf = csrfField(account);
    const id = /name="id" value="([^"]+)"/.exec(account)![1];
    const newEmail = uniqueEmail('foreign');
    const forms: Array<[string, Record<string, string>]> = [
      ['/login', { email: user.email, password: PASSWORD }],
      ['/register', { email: newEmail, password: PASSWORD }],
      ['/forgot-password', { email: user.email }],
      ['/reset-password', { token: 'some-token', password: PASSWORD }],
      ['/verify-email', { token: 'some-token' }],
      ['/account/sessions/end', { _csrf, id }],
      ['/logout', { _csrf }],
    ];
    // Another site, a sandboxed or privacy-stripped origin, another port, another scheme.
    const foreign = ['https://evil.example', 'null', `${OWN_ORIGIN}:8443`, OWN_ORIGIN.replace('https:', 'http:')];
    for (const origin of foreign) {
      for (const [path, fields] of forms) {
        const res = await postForm(path, fields).set('Cookie', cookie).set('Origin', origin);
        expect({ path, origin, status: res.status }).toEqual({ path, origin, status: 403 });
        expect(res.headers['set-cookie']).toBeUndefined();
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expect(res.text).toContain('sent from another site');
      }
    }
    // Nothing happened: the session lives, the address is free.
    await t.http().get('/account').set('Cookie', cookie).expect(200);
    await t.http().post('/forgot-password').type('form').set('Sec-Fetch-Site', 'cross-site').send({ email: user.email }).expect(403);

    // From the server's own origin every form works (the two last end sessions).
    await postForm('/register', { email: newEmail, password: PASSWORD }).set('Origin', OWN_ORIGIN).expect(303);
    await postForm('/forgot-password', { email: user.email }).set('Origin', OWN_ORIGIN).expect(200);
    await postForm('/reset-password', { token: 'some-token', password: PASSWORD }).set('Origin', OWN_ORIGIN).expect(400);
    await postForm('/verify-email', { token: 'some-token' }).set('Origin', OWN_ORIGIN).expect(400);
    const other = cookiePair(sessionCookie(await signIn()));
    await postForm('/account/sessions/end', { _csrf, id }).set('Cookie', cookie).set('Origin', OWN_ORIGIN).set('Sec-Fetch-Site', 'same-origin').expect(303);
    await t.http().get('/account').set('Cookie', cookie).expect(302);
    const otherCsrf = csrfField((await t.http().get('/account').set('Cookie', other).expect(200)).text);
    await postForm('/logout', { _csrf: otherCsrf }).set('Cookie', other).set('Origin', OWN_ORIGIN).expect(303);
    await t.http().get('/account').set('Cookie', other).expect(302);
  });

  it('keeps form bodies away from the JSON API', async () => {
    const user = await t.createUser({ password: PASSWORD });
    await t.http().post('/web/auth/login').type('form').send({ email: user.email, password: PASSWORD }).expect(400);
  });
});

// A real outage: the login counters live in a private Redis that the test stops.
describe('form pages when a store is down', () => {
  const env = appOnPrivateRedis();

  it('answers 503 in HTML and never echoes the password', async () => {
    const { app: t, redis } = env;
    const user = await t.createUser({ password: PASSWORD });
    await redis.stop();
    const login = await t.http().post('/login').type('form').send({ email: user.email, password: PASSWORD }).expect(503);
    expect(login.headers['content-type']).toMatch(/^text\/html/);
    expect(login.text).toContain('unavailable');
    expect(login.text).not.toContain(PASSWORD);
  });
});
