import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { join } from 'node:path';
import { AuditService } from '../src/audit/audit.service';
import { freshDataDir } from './support/environments';
import { linkToken, mailsTo } from './support/mailbox';
import { freePort } from './support/redis-server';
import { startApp, TestApp, uniqueEmail } from './support/test-app';
import { eventually } from './support/waiting';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// The browser flow of the contract's pages, in real headless Chromium.
describe('pages in a real browser', () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;

  /** Every request the page makes, to check that no password ever travels in a URL. */
  function recordRequests(page: Page): Array<{ method: string; url: string; body: string | null; referer?: string }> {
    const requests: Array<{ method: string; url: string; body: string | null; referer?: string }> = [];
    page.on('request', (request) =>
      requests.push({ method: request.method(), url: request.url(), body: request.postData(), referer: request.headers()['referer'] }),
    );
    return requests;
  }

  function expectNoPasswordInUrls(requests: Array<{ url: string }>, ...passwords: string[]): void {
    expect(requests.length).toBeGreaterThan(0);
    for (const { url } of requests) {
      expect(url).not.toMatch(/password/i);
      for (const password of passwords) {
        expect(url).not.toContain(password);
        expect(url).not.toContain(encodeURIComponent(password));
        expect(url).not.toContain(password.replace(/ /g, '+'));
      }
    }
  }

  async function sessionCookieOf(context: BrowserContext) {
    return (await context.cookies()).find((cookie) => cookie.name === 'authswitch.sid');
  }

  beforeAll(async () => {
    // The pages accept form posts only from PUBLIC_URL's origin, which Chromium sends as Origin.
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await startApp('sqlite', { PUBLIC_URL: base });
    await t.app.listen(port, '127.0.0.1');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('registers, lands on /account, keeps the session cookie away from scripts, and logs out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));

    const requests = recordRequests(page);

    const email = uniqueEmail('browser');
    await page.goto(`${base}/register`);
    await page.fill('input[name="name"]', 'Grace');
    await page.fill('input[name="email"]', email);
    await page.fill('input[name="password"]', 'a long enough password');
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/account`);

    expect(await page.textContent('#email')).toBe(email);
    expect(await page.locator('#sessions tbody tr').count()).toBe(1);
    expect(await page.evaluate(() => document.cookie)).not.toContain('authswitch.sid');
    const cookies = await context.cookies();
    expect(cookies.find((cookie) => cookie.name === 'authswitch.sid')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

    await page.click('#logout');
    await page.waitForURL(`${base}/login`);
    await page.goto(`${base}/account`);
    expect(page.url()).toBe(`${base}/login`);
    expect(problems).toEqual([]);
    // The script did the work: JSON to the API, never a native form post.
    expect(requests.filter((request) => request.method === 'POST').map((request) => new URL(request.url).pathname)).toEqual([
      '/auth/register',
      '/web/auth/login',
      '/web/auth/logout',
    ]);
    expectNoPasswordInUrls(requests, 'a long enough password');
    await context.close();
  });

  it('signs in through the login form and shows a wrong password as an error', async () => {
    const user = await t.createUser({ password: 'the right password' });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.fill('input[name="email"]', user.email);
    await page.fill('input[name="password"]', 'the wrong password');
    await page.click('button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('error')?.textContent !== '');
    expect(await page.textContent('#error')).toBe('Invalid credentials');

    await page.fill('input[name="password"]', 'the right password');
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    expect(await page.textContent('#email')).toBe(user.email);
    await context.close();
  });

  it('recovers an account: forgot password → the mailed link → a new password → signed in; the old password is dead', async () => {
    const user = await t.createUser({ password: 'the forgotten password' });
    const context = await browser.newContext();
    const page = await context.newPage();
    const requests = recordRequests(page);
    await page.goto(`${base}/login`);
    await page.click('a[href="/forgot-password"]');
    await page.waitForURL(`${base}/forgot-password`);
    await page.fill('input[name="email"]', user.email);
    await page.click('button[type="submit"]');
    await page.waitForSelector('text=Check your mail');

    // The mail is an .eml file (no SMTP_URL); its link starts with PUBLIC_URL, this server.
    await eventually(async () => linkToken(t, user.email, '/reset-password') !== undefined);
    const link = mailsTo(t, user.email)
      .pop()!
      .replace(/=\r?\n/g, '')
      .replace(/=3D/g, '=')
      .match(/https?:\/\/[^\s"<]+\/reset-password\?token=[A-Za-z0-9_-]+/)![0];
    expect(link.startsWith(`${base}/reset-password?token=`)).toBe(true);
    await page.goto(link);
    await page.fill('input[name="password"]', 'a password chosen in the browser');
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/login`);
    await page.fill('input[name="email"]', user.email);
    await page.fill('input[name="password"]', 'a password chosen in the browser');
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    expect(await page.textContent('#email')).toBe(user.email);
    for (const { url } of requests) {
      expect(url).not.toContain('chosen');
      expect(url).not.toContain('forgotten');
    }
    await t.http().post('/api/auth/login').send({ email: user.email, password: 'the forgotten password' }).expect(401);
    await context.close();
  });

  it('confirms the address from the link of the registration mail, with the button of the page it opens', async () => {
    const email = uniqueEmail('browser-verify');
    await t.http().post('/auth/register').send({ email, password: 'correct horse battery' }).expect(201);
    await eventually(async () => linkToken(t, email, '/verify-email') !== undefined);
    const emailVerified = async () => {
      const login = await t.http().post('/api/auth/login').send({ email, password: 'correct horse battery' }).expect(200);
      return (await t.http().get('/api/me').set('Authorization', `Bearer ${login.body.access_token}`).expect(200)).body.emailVerified as boolean;
    };
    const context = await browser.newContext();
    const page = await context.newPage();
    const requests = recordRequests(page);
    const token = linkToken(t, email, '/verify-email')!;
    await page.goto(`${base}/verify-email?token=${token}`);
    // Opening the link (what a mail scanner does) confirms nothing.
    expect(await page.textContent('h1')).toBe('Confirm your email address');
    expect(await emailVerified()).toBe(false);

    await page.click('button[type="submit"]');
    await page.locator('h1', { hasText: 'Address verified' }).waitFor();
    expect(await emailVerified()).toBe(true);
    // The token went in the POST body, and no request carried it in its Referer.
    const post = requests.find((request) => request.method === 'POST')!;
    expect(new URL(post.url).pathname).toBe('/verify-email');
    expect(post.body).toBe(`token=${token}`);
    for (const request of requests) expect(request.referer ?? '').not.toContain(token);
    expect(requests.filter((request) => request.referer !== undefined).length).toBeGreaterThan(0);
    await context.close();
  });

  it('works with JavaScript disabled: register, account, log out and sign in are plain form posts', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const requests = recordRequests(page);
    const email = uniqueEmail('noscript');
    const password = 'no script password';

    await page.goto(`${base}/register`);
    await page.fill('input[name="name"]', 'Lin');
    await page.fill('input[name="email"]', email);
    await page.fill('input[name="password"]', password);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    expect(await page.textContent('#email')).toBe(email);
    expect(await sessionCookieOf(context)).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

    await page.click('#logout');
    await page.waitForURL(`${base}/login`);
    expect(await sessionCookieOf(context)).toBeUndefined();
    await page.goto(`${base}/account`);
    expect(page.url()).toBe(`${base}/login`);

    // A wrong password comes back as the form with the message, the email kept, the password not.
    await page.fill('input[name="email"]', email);
    await page.fill('input[name="password"]', 'a wrong password');
    await page.click('button[type="submit"]');
    // The answer stays on /login, so wait for the message rather than for a URL.
    await page.locator('#error', { hasText: 'Invalid credentials' }).waitFor();
    expect(page.url()).toBe(`${base}/login`);
    expect(await page.inputValue('input[name="email"]')).toBe(email);
    expect(await page.inputValue('input[name="password"]')).toBe('');

    await page.fill('input[name="password"]', password);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    expect(await page.textContent('#email')).toBe(email);

    const posts = requests.filter((request) => request.method === 'POST');
    expect(posts.map((request) => new URL(request.url).pathname)).toEqual(['/register', '/logout', '/login', '/login']);
    // The password went in the bodies, and no script was ever fetched.
    expect(posts[0].body).toContain('password=no+script+password');
    expect(requests.some((request) => request.url.includes('/assets/pages.js'))).toBe(false);
    expectNoPasswordInUrls(requests, password, 'a wrong password');
    await context.close();
  });

  it("ends another browser's session with its button on the account page, and that browser is signed out", async () => {
    const user = await t.createUser({ password: 'two browsers password' });
    const signIn = async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${base}/login`);
      await page.fill('input[name="email"]', user.email);
      await page.fill('input[name="password"]', 'two browsers password');
      await page.click('button[type="submit"]');
      await page.waitForURL(`${base}/account`);
      return { context, page };
    };
    const first = await signIn();
    const second = await signIn();

    await first.page.reload();
    const rows = first.page.locator('#sessions tbody tr');
    expect(await rows.count()).toBe(2);
    // The row that is not this browser's: its button ends the second browser's session.
    const backOnAccount = first.page.waitForResponse((response) => new URL(response.url()).pathname === '/account' && response.request().method() === 'GET');
    await rows.filter({ hasNotText: 'this browser' }).locator('button.end-session').click();
    await backOnAccount;
    await first.page.waitForLoadState();
    expect(first.page.url()).toBe(`${base}/account`);
    expect(await first.page.locator('#sessions tbody tr').count()).toBe(1);
    expect(await first.page.textContent('#sessions tbody tr')).toContain('this browser');

    await second.page.goto(`${base}/account`);
    expect(second.page.url()).toBe(`${base}/login`);
    await first.page.goto(`${base}/account`);
    expect(first.page.url()).toBe(`${base}/account`);
    await first.context.close();
    await second.context.close();
  });

  it('administers users on /admin without scripts: search, the Disable button, the events and the sign-in chart', async () => {
    const admin = await t.createUser({ roles: ['admin', 'user'], password: 'admin browser password' });
    const marker = `adm${Date.now()}`;
    const target = await t.createUser({ name: `Target ${marker}`, password: 'target password' });
    const plain = await t.createUser({ password: 'plain password' });
    // A sign-in and a failed one for the chart (the failure's event is written after the answer).
    await t.http().post('/api/auth/login').send({ email: target.email, password: 'target password' }).expect(200);
    await t.http().post('/api/auth/login').send({ email: target.email, password: 'a wrong password' }).expect(401);
    await t.app.get(AuditService).flush();

    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const signIn = async (email: string, password: string) => {
      await page.goto(`${base}/login`);
      await page.fill('input[name="email"]', email);
      await page.fill('input[name="password"]', password);
      await page.click('button[type="submit"]');
      await page.waitForURL(`${base}/account`);
    };
    // Signed out: to the login page.
    await page.goto(`${base}/admin`);
    expect(page.url()).toBe(`${base}/login`);
    // Signed in without the role: 403.
    await signIn(plain.email, 'plain password');
    expect((await page.goto(`${base}/admin`))?.status()).toBe(403);
    await context.clearCookies();

    await signIn(admin.email, 'admin browser password');
    await page.goto(`${base}/admin`);
    expect(await page.locator('#sign-in-chart g.hour').count()).toBe(24);
    const total = async (kind: string) =>
      (await page.locator(`#sign-in-chart rect.${kind}`).evaluateAll((bars) => bars.map((bar) => Number(bar.getAttribute('data-count'))))).reduce(
        (sum, count) => sum + count,
        0,
      );
    expect(await total('succeeded')).toBeGreaterThanOrEqual(1);
    expect(await total('failed')).toBeGreaterThanOrEqual(1);

    await page.fill('input[name="query"]', marker.toUpperCase());
    await page.click('#search');
    await page.waitForURL((url) => url.pathname === '/admin' && url.searchParams.get('query') === marker.toUpperCase());
    const rows = page.locator('#users tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator('td.email').textContent()).toBe(target.email);

    await rows.first().locator('input[name="reason"]').fill('Disabled in the browser');
    await rows.first().locator('button.disable-user').click();
    await page.locator('#users tbody tr td.status', { hasText: 'disabled' }).waitFor();
    // Back on the same search, and the user can no longer sign in.
    expect(new URL(page.url()).searchParams.get('query')).toBe(marker.toUpperCase());
    const refused = await t.http().post('/api/auth/login').send({ email: target.email, password: 'target password' }).expect(403);
    expect(refused.body.message).toBe('Account disabled');
    const events = await page.textContent('#events');
    expect(events).toContain('user.disabled');
    expect(events).toContain(target.id);
    expect(events).not.toContain(target.email);

    const screenshot = join(process.env.SCREENSHOT_DIR ?? freshDataDir(), `admin-page-${process.pid}.png`);
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`admin page screenshot: ${screenshot}`);

    // The Enable button of the same row undoes it.
    await rows.first().locator('button.enable-user').click();
    await page.locator('#users tbody tr td.status', { hasText: 'active' }).waitFor();
    await t.http().post('/api/auth/login').send({ email: target.email, password: 'target password' }).expect(200);
    await context.close();
  });

  it('still posts the form, not a GET, when the script fails to load', async () => {
    const user = await t.createUser({ password: 'script blocked password' });
    const context = await browser.newContext();
    await context.route('**/assets/pages.js*', (route) => route.abort());
    const page = await context.newPage();
    const requests = recordRequests(page);
    await page.goto(`${base}/login`);
    await page.fill('input[name="email"]', user.email);
    await page.fill('input[name="password"]', 'script blocked password');
    await page.click('button[type="submit"]');
    await page.waitForURL(`${base}/account`);
    expect(await page.textContent('#email')).toBe(user.email);
    expect(requests.filter((request) => request.method === 'POST').map((request) => new URL(request.url).pathname)).toEqual(['/login']);
    expectNoPasswordInUrls(requests, 'script blocked password');
    await context.close();
  });
});
