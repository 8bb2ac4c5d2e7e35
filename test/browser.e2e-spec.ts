import { AddressInfo } from 'node:net';
import { Browser, chromium } from 'playwright-core';
import { startApp, TestApp, uniqueEmail } from './support/test-app';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// The browser flow of the contract's pages, in real headless Chromium.
describe('pages in a real browser', () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    t = await startApp('sqlite');
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
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
});
