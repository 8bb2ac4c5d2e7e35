import { createHmac } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AuditService } from '../src/audit/audit.service';
import type { AppConfig } from '../src/server/app-config';
import { AuditWebhook } from '../src/audit/audit-webhook';
import { ClientsService } from '../src/clients/clients.service';
import { cookiePair, expectErrorShape, sessionCookie } from './support/contract-suite';
import { freshDataDir, StorageSetup, testEnv } from './support/environments';
import { linkToken, mailsTo } from './support/mailbox';
import { privateSchema } from './support/private-schema';
import { startApp, startAppWithEnv, TestApp, uniqueEmail } from './support/test-app';
import { eventually } from './support/waiting';

/*
 * Contract, "Audit trail" and "Unusual use": every flow records its event (with who, where and
 * why, and never a secret or an email), the admin API and the CLI read the trail, the webhook
 * gets every event at least once, signed, across a failing receiver and a restart.
 */

type AuditEvent = {
  id: string;
  type: string;
  at: string;
  actor: { kind: string; id: string | null };
  userId: string | null;
  ip: string | null;
  group: string | null;
  details: Record<string, unknown>;
};
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
const SAFARI_IOS = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1';

describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('the audit trail on %s', (setup) => {
  let t: TestApp;
  let adminToken: string;

  beforeAll(async () => {
    t = await startApp(setup, { STUFFING_ACCOUNTS: '5', PUBLIC_URL: 'https://auth.example.test' });
    const admin = await t.createUser({ roles: ['admin'] });
    adminToken = (await t.http().post('/api/auth/login').send({ email: admin.email, password: admin.password }).expect(200)).body.access_token;
  });
  afterAll(() => t.close());

  const eventsOf = async (userId: string, extra = ''): Promise<AuditEvent[]> => {
    await t.app.get(AuditService).flush();
    const res = await t.http().get(`/api/admin/events?userId=${userId}&limit=100${extra}`).set(bearer(adminToken)).expect(200);
    return res.body.events as AuditEvent[];
  };

  it('records each flow in the transaction of its change, with actor, address and group, and never a secret or an email', async () => {
    const email = uniqueEmail('audited');
    const password = 'first password 1';
    const secrets: string[] = [email, password];
    const registered = await t.http().post('/auth/register').set('User-Agent', FIREFOX).send({ email, password, name: 'Audited' }).expect(201);
    const userId = registered.body.id as string;
    await eventually(async () => linkToken(t, email, '/verify-email') !== undefined);
    const verifyToken = linkToken(t, email, '/verify-email')!;
    secrets.push(verifyToken);
    await t.http().post('/auth/email/verify').send({ token: verifyToken }).expect(204);

    await t.http().post('/api/auth/login').send({ email, password: 'wrong password!' }).expect(401);
    const pair = (await t.http().post('/api/auth/login').set('User-Agent', FIREFOX).send({ email, password }).expect(200)).body;
    const next = (await t.http().post('/api/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(200)).body;
    await t.http().post('/api/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(401); // reuse
    secrets.push(pair.access_token, pair.refresh_token, next.access_token, next.refresh_token);

    const web = await t.http().post('/web/auth/login').set('User-Agent', FIREFOX).send({ email, password }).expect(200);
    const cookie = cookiePair(sessionCookie(web));
    secrets.push(cookie.split('=')[1], web.body.csrfToken);
    await t.http().post('/web/auth/logout').set('Cookie', cookie).set('X-CSRF-Token', web.body.csrfToken).expect(204);

    const third = (await t.http().post('/api/auth/login').set('User-Agent', FIREFOX).send({ email, password }).expect(200)).body;
    const devices = (await t.http().get('/auth/sessions').set(bearer(third.access_token)).expect(200)).body as { id: string; current: boolean }[];
    const fourth = (await t.http().post('/api/auth/login').set('User-Agent', FIREFOX).send({ email, password }).expect(200)).body;
    await t
      .http()
      .delete(`/auth/sessions/${devices.find((device) => device.current)!.id}`)
      .set(bearer(fourth.access_token))
      .expect(204);
    await t.http().post('/api/auth/logout').set(bearer(fourth.access_token)).expect(204);
    secrets.push(third.access_token, third.refresh_token, fourth.access_token, fourth.refresh_token);

    const newPassword = 'second password 2';
    secrets.push(newPassword);
    const fifth = (await t.http().post('/api/auth/login').send({ email, password }).expect(200)).body;
    await t.http().post('/auth/password/change').set(bearer(fifth.access_token)).send({ currentPassword: password, newPassword }).expect(204);
    await t.http().post('/auth/password/forgot').send({ email }).expect(202);
    await eventually(async () => linkToken(t, email, '/reset-password') !== undefined);
    const resetToken = linkToken(t, email, '/reset-password')!;
    const resetPassword = 'third password 3';
    secrets.push(resetToken, resetPassword);
    await t.http().post('/auth/password/reset').send({ token: resetToken, password: resetPassword }).expect(204);
    const sixth = (await t.http().post('/api/auth/login').send({ email, password: resetPassword }).expect(200)).body;
    await t.http().post('/auth/logout-all').set(bearer(sixth.access_token)).expect(204);
    await t
      .http()
      .put(`/api/admin/users/${userId}/roles`)
      .set(bearer(adminToken))
      .send({ roles: ['user', 'auditor'] })
      .expect(200);

    const events = await eventsOf(userId);
    const types = events.map((event) => event.type);
    for (const type of [
      'user.registered',
      'email.verified',
      'login.failed',
      'login.succeeded',
      'refresh.reuse_detected',
      'logout',
      'session.ended',
      'password.changed',
      'password.reset',
      'logout_all',
      'role.changed',
    ]) {
      expect(types).toContain(type);
    }
    // Newest first, each in the public shape.
    expect(types[0]).toBe('role.changed');
    expect([...events].sort((x, y) => y.at.localeCompare(x.at)).map((event) => event.at)).toEqual(events.map((event) => event.at));
    const failed = events.find((event) => event.type === 'login.failed')!;
    expect(failed).toMatchObject({ actor: { kind: 'user', id: userId }, userId, group: 'api', details: { reason: 'invalid_credentials' } });
    expect(failed.ip).toEqual(expect.any(String));
    const webLogin = events.find((event) => event.type === 'login.succeeded' && event.group === 'web')!;
    expect(webLogin).toMatchObject({ details: { strategy: 'session' }, actor: { kind: 'user', id: userId } });
    expect(events.find((event) => event.type === 'role.changed')).toMatchObject({
      actor: { kind: 'admin' },
      details: { from: ['user'], to: ['user', 'auditor'] },
    });
    expect(events.filter((event) => event.type === 'logout').map((event) => event.details.via)).toEqual(expect.arrayContaining(['session', 'jwt']));

    const everything = JSON.stringify(events);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });

  it('filters by type and time, pages with a cursor, and refuses a bad query or a non-admin', async () => {
    const user = await t.createUser();
    const since = new Date().toISOString();
    for (let i = 0; i < 5; i++) await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
    await t.app.get(AuditService).flush();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { events: AuditEvent[]; next_cursor: string | null } } = await t
        .http()
        .get(`/api/admin/events?type=login.succeeded&userId=${user.id}&since=${encodeURIComponent(since)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`)
        .set(bearer(adminToken))
        .expect(200);
      expect(page.body.events.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.events.map((event) => event.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(
      (
        await t
          .http()
          .get(`/api/admin/events?userId=${user.id}&since=${encodeURIComponent(future)}`)
          .set(bearer(adminToken))
          .expect(200)
      ).body.events,
    ).toEqual([]);

    for (const query of ['type=nope', 'userId=not-a-uuid', 'since=yesterday', 'limit=0', 'limit=101', 'cursor=bm9wZQ']) {
      expectErrorShape((await t.http().get(`/api/admin/events?${query}`).set(bearer(adminToken)).expect(400)).body, 400);
    }
    const plain = (await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200)).body.access_token;
    expectErrorShape((await t.http().get('/api/admin/events').set(bearer(plain)).expect(403)).body, 403);
    await t.http().get('/api/admin/events').expect(401);
  });

  it('records machine clients: created, a token issued, a refused authentication, revoked', async () => {
    const clients = t.app.get(ClientsService);
    const { clientId, secret } = await clients.create({ name: 'audited client', scopes: ['reports:read'] });
    const basic = (id: string, key: string) => `Basic ${Buffer.from(`${id}:${key}`).toString('base64')}`;
    await t.http().post('/oauth/token').set('Authorization', basic(clientId, secret!)).type('form').send({ grant_type: 'client_credentials' }).expect(200);
    await t.http().post('/oauth/token').set('Authorization', basic(clientId, 'wrong')).type('form').send({ grant_type: 'client_credentials' }).expect(401);
    await clients.revoke(clientId);
    await t.app.get(AuditService).flush();
    const all = (await t.http().get('/api/admin/events?limit=100').set(bearer(adminToken)).expect(200)).body.events as AuditEvent[];
    const ofClient = all.filter((event) => event.details.clientId === clientId || event.actor.id === clientId);
    expect(ofClient.map((event) => event.type).sort()).toEqual(['client.auth_failed', 'client.created', 'client.revoked', 'client.token_issued']);
    expect(JSON.stringify(ofClient)).not.toContain(secret!);
  });

  it('records a sign-in from a new device and mails the owner, but not the first device nor a known one', async () => {
    const user = await t.createUser();
    const login = (agent: string, ip?: string) => {
      const request = t.http().post('/api/auth/login').set('User-Agent', agent);
      if (ip) request.set('X-Forwarded-For', ip);
      return request.send({ email: user.email, password: user.password }).expect(200);
    };
    await login(FIREFOX);
    await login(FIREFOX);
    expect(await eventsOf(user.id, '&type=anomaly.new_device')).toEqual([]);
    await login(SAFARI_IOS);
    const [found] = await eventsOf(user.id, '&type=anomaly.new_device');
    expect(found).toMatchObject({ actor: { kind: 'system' }, userId: user.id, details: { device: 'Safari on iOS', network: expect.any(String) } });
    await eventually(async () => mailsTo(t, user.email).some((mail) => mail.includes('New sign-in to your account')));
    const mail = mailsTo(t, user.email)
      .find((raw) => raw.includes('New sign-in'))!
      .replace(/=\r?\n/g, '');
    expect(mail).toContain('Safari on iOS');
    expect(mail).toContain('https://auth.example.test/account');
    // Two parallel sign-ins from one more new device report it once.
    const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
    await Promise.all([login(CHROME), login(CHROME), login(CHROME)]);
    expect((await eventsOf(user.id, '&type=anomaly.new_device')).filter((event) => event.details.device === 'Chrome on Windows')).toHaveLength(1);
  });

  it('mails the owner when a refresh token is used twice', async () => {
    const user = await t.createUser();
    const pair = (await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200)).body;
    await t.http().post('/api/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(200);
    await t.http().post('/api/auth/refresh').send({ refresh_token: pair.refresh_token }).expect(401);
    await eventually(async () => mailsTo(t, user.email).some((mail) => mail.includes('A sign-in of yours was ended')));
    expect(await eventsOf(user.id, '&type=refresh.reuse_detected')).toHaveLength(1);
  });

  it('answers a sign-in racing the deletion of its account with 200 or 401, never 500', async () => {
    const statuses = new Set<number>();
    for (let trial = 0; trial < 8; trial++) {
      const user = await t.createUser();
      const login = t.http().post('/api/auth/login').set('User-Agent', FIREFOX).send({ email: user.email, password: user.password });
      // The password check takes tens of ms: the deletion lands inside it at various points.
      const remove = new Promise((resolve) => setTimeout(resolve, trial * 4)).then(() =>
        t.http().delete(`/api/admin/users/${user.id}`).set(bearer(adminToken)).expect(204),
      );
      const [answer] = await Promise.all([login, remove]);
      statuses.add(answer.status);
      expect([200, 401]).toContain(answer.status);
    }
    expect(statuses.size).toBeGreaterThan(0);
  });

  it('refuses an address whose failures named STUFFING_ACCOUNTS accounts, records it once, and leaves other addresses alone', async () => {
    const from = (ip: string) => ({ 'X-Forwarded-For': ip });
    // Without TRUST_PROXY the header is ignored: every request is from the same (loopback) address.
    const stuffing = await startApp(setup, { STUFFING_ACCOUNTS: '5', TRUST_PROXY: 'loopback' });
    try {
      const account = await stuffing.createUser();
      const attacker = '198.51.100.23';
      for (let i = 0; i < 5; i++) {
        await stuffing
          .http()
          .post('/api/auth/login')
          .set(from(attacker))
          .send({ email: uniqueEmail('guess'), password: 'not the password' })
          .expect(401);
      }
      const refused = await stuffing.http().post('/api/auth/login').set(from(attacker)).send({ email: account.email, password: account.password }).expect(429);
      expectErrorShape(refused.body, 429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      await stuffing.http().post('/api/auth/login').set(from('203.0.113.50')).send({ email: account.email, password: account.password }).expect(200);
      await stuffing.app.get(AuditService).flush();
      const page = await stuffing.app.get(AuditService).list({ type: 'anomaly.credential_stuffing', limit: 10 });
      expect(page.events).toHaveLength(1);
      expect(page.events[0].ip).toBe(attacker);
    } finally {
      await stuffing.close();
    }
  });
});

/** A webhook receiver: answers `failFirst` requests with 500, then 204; keeps what it got. */
function receiver(secret: string, failFirst: number) {
  const got: { id: string; body: string; signatureValid: boolean }[] = [];
  let failing = failFirst;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      if (failing > 0) {
        failing -= 1;
        res.writeHead(500).end();
        return;
      }
      got.push({ id: String(req.headers['x-authswitch-event-id']), body, signatureValid: req.headers['x-authswitch-signature'] === expected });
      res.writeHead(204).end();
    });
  });
  return {
    got,
    setFailing: (count: number) => void (failing = count),
    start: () =>
      new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}/hook`))),
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('the audit webhook on %s', (setup) => {
  const SECRET = 'a webhook secret of at least 32 characters';

  it('delivers every event at least once, signed, through a failing receiver and a restart', async () => {
    const hook = receiver(SECRET, 1_000_000);
    const url = await hook.start();
    const schema = setup === 'postgres+redis' ? await privateSchema() : undefined;
    const shared = testEnv(setup, {
      DATA_DIR: freshDataDir(),
      AUDIT_WEBHOOK_URL: url,
      AUDIT_WEBHOOK_SECRET: SECRET,
      ...(schema ? { DATABASE_URL: schema.url } : {}),
    });
    const fastRetries = (config: AppConfig): AppConfig => ({ ...config, audit: { ...config.audit, webhookRetryMs: 50 } });
    let first: TestApp | undefined = await startAppWithEnv(shared, fastRetries);
    let second: TestApp | undefined;
    try {
      const users = [await first.createUser(), await first.createUser()];
      for (const user of users) await first.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      await first.http().post('/api/auth/login').send({ email: users[0].email, password: 'wrong password' }).expect(401);
      await first.app.get(AuditService).flush();
      const expected = (await first.app.get(AuditService).list({ limit: 100 })).events.map((event) => event.id);
      expect(expected.length).toBeGreaterThanOrEqual(3);
      // The receiver has refused every attempt so far; the instance stops with all of it pending.
      await eventually(async () => (await first!.app.get(AuditWebhook).pendingCount()) === expected.length);
      await first.close();
      first = undefined;

      hook.setFailing(2);
      second = await startAppWithEnv(shared, fastRetries);
      await eventually(async () => expected.every((id) => hook.got.some((delivery) => delivery.id === id)), 15_000);
      expect(hook.got.every((delivery) => delivery.signatureValid)).toBe(true);
      const delivered = hook.got.map((delivery) => JSON.parse(delivery.body) as { id: string; type: string });
      expect(delivered.map((event) => event.type)).toEqual(expect.arrayContaining(['login.succeeded', 'login.failed']));
      for (const delivery of hook.got) expect(JSON.parse(delivery.body).id).toBe(delivery.id);
      await eventually(async () => (await second!.app.get(AuditWebhook).pendingCount()) === 0);
    } finally {
      await first?.close();
      await second?.close();
      await hook.stop();
      await schema?.drop();
    }
  }, 60_000);

  it('deletes events older than AUDIT_RETENTION_DAYS', async () => {
    // A private database: the round runs days ahead and deletes every older event it finds.
    const schema = setup === 'postgres+redis' ? await privateSchema() : undefined;
    const app = await startApp(setup, { AUDIT_RETENTION_DAYS: '30', ...(schema ? { DATABASE_URL: schema.url } : {}) });
    try {
      const user = await app.createUser();
      await app.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const audit = app.app.get(AuditService);
      expect(await audit.prune(Date.now() + 29 * 86_400_000)).toBe(0);
      expect((await audit.list({ limit: 10 })).events).toHaveLength(1);
      expect(await audit.prune(Date.now() + 31 * 86_400_000)).toBe(1);
      expect((await audit.list({ limit: 10 })).events).toHaveLength(0);
    } finally {
      await app.close();
      await schema?.drop();
    }
  });

  it('refuses to start with a webhook URL but no secret, or a short one', async () => {
    await expect(startApp(setup, { AUDIT_WEBHOOK_URL: 'http://127.0.0.1:9/hook' })).rejects.toThrow(/AUDIT_WEBHOOK_SECRET/);
    await expect(startApp(setup, { AUDIT_WEBHOOK_URL: 'http://127.0.0.1:9/hook', AUDIT_WEBHOOK_SECRET: 'short' })).rejects.toThrow(/AUDIT_WEBHOOK_SECRET/);
  });
});
