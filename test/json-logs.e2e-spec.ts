import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuiltServer, Env, startBuiltServer } from './support/built-server';
import { freshDataDir } from './support/environments';
import { eventually } from './support/waiting';

// The logs of the BUILT server (dist/main.js) with LOG_FORMAT=json, as a log collector reads
// them: its standard output and error after a run through every kind of route. Every line must
// be a JSON object; each request must have its access line; and no secret of the run may
// appear anywhere in them.

const ROOT = join(__dirname, '..');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Json = Record<string, unknown>;

/** The settings the run starts from, whatever the outer environment says. */
function baseEnv(dataDir: string): Env {
  return {
    DATA_DIR: dataDir,
    DATABASE_URL: undefined,
    REDIS_URL: undefined,
    AUTH_ROUTE_GROUPS: undefined,
    ADMIN_ROUTE_GROUP: undefined,
    SESSION_COOKIE_NAME: undefined,
    PUBLIC_URL: undefined,
    SMTP_URL: undefined,
    LOG_FORMAT: undefined,
    LOG_LEVEL: 'log',
  };
}

/** The operator's CLI on the same data folder; its last output line. */
function cli(env: Env, ...args: string[]): string {
  const result = spawnSync('node', ['dist/cli.js', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, LOG_LEVEL: 'error' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.status !== 0) throw new Error(`cli ${args[0]} failed: ${result.stderr}`);
  return result.stdout.trim().split('\n').pop()!;
}

/** The token of the newest link to `path` mailed to `email` (mails are .eml files without SMTP_URL). */
function mailedToken(dataDir: string, email: string, path: string): string | undefined {
  const dir = join(dataDir, 'mail');
  if (!existsSync(dir)) return undefined;
  const mail = readdirSync(dir)
    .filter((file) => file.endsWith('.eml'))
    .sort()
    .map((file) => readFileSync(join(dir, file), 'utf8'))
    .filter((raw) => raw.includes(`To: ${email}`))
    .pop()
    ?.replace(/=\r?\n/g, '');
  return mail?.match(new RegExp(`${path}\\?token=(?:3D)?([A-Za-z0-9_-]+)`))?.[1];
}

async function waitForToken(dataDir: string, email: string, path: string, not?: string): Promise<string> {
  let token: string | undefined;
  await eventually(async () => {
    token = mailedToken(dataDir, email, path);
    return token !== undefined && token !== not;
  });
  return token!;
}

/** One request of the run, as the client saw it. */
interface Sent {
  method: string;
  path: string;
  status: number;
  requestId: string;
  givenId?: string;
}

describe('JSON logs of the built server (LOG_FORMAT=json, LOG_LEVEL=log)', () => {
  const dataDir = freshDataDir();
  const sessionSecret = randomBytes(48).toString('base64');
  const sent: Sent[] = [];
  /** Every secret the run used or was given: none may appear in the logs. */
  const secrets = new Map<string, string>();
  const keep = (name: string, value: string | undefined) => {
    if (!value) throw new Error(`no ${name} to keep`);
    secrets.set(name, value);
    return value;
  };
  let server: BuiltServer;
  let output = '';
  let lines: Json[] = [];

  /** fetch against the server; records what was sent and the X-Request-Id that came back. */
  async function call(method: string, url: string, options: { headers?: Record<string, string>; json?: unknown; form?: string; givenId?: string } = {}) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.givenId !== undefined) headers['X-Request-Id'] = options.givenId;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = typeof options.json === 'string' ? options.json : JSON.stringify(options.json);
    } else if (options.form !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = options.form;
    }
    const res = await fetch(`${server.base}${url}`, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    const requestId = res.headers.get('x-request-id') ?? '';
    sent.push({ method, path: url.split('?')[0], status: res.status, requestId, givenId: options.givenId });
    return { status: res.status, requestId, res, body: text ? (JSON.parse(text.startsWith('{') || text.startsWith('[') ? text : '{}') as Json) : {}, text };
  }

  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  function sessionOf(res: Response): { cookie: string; value: string } {
    const setCookie = res.headers.getSetCookie().find((value) => value.startsWith('authswitch.sid='));
    if (!setCookie) throw new Error('no session cookie');
    const cookie = setCookie.split(';')[0];
    return { cookie, value: cookie.slice('authswitch.sid='.length) };
  }

  beforeAll(async () => {
    const email = `logs.${process.pid}.${Date.now()}@example.test`;
    const adminEmail = `logs-admin.${process.pid}.${Date.now()}@example.test`;
    const passwords = ['first password 1', 'second password 2', 'third password 3'].map((p, i) =>
      keep(`password ${i + 1}`, `${p} ${randomBytes(6).toString('hex')}`),
    );
    const adminPassword = keep('admin password', `admin password ${randomBytes(6).toString('hex')}`);
    keep('SESSION_SECRET', sessionSecret);

    const env: Env = { ...baseEnv(dataDir), NODE_ENV: 'development', LOG_FORMAT: 'json', SESSION_SECRET: sessionSecret };
    // The CLI first, on the same SQLite file: an admin, and a machine client with a secret.
    cli(env, 'users:create', '--email', adminEmail, '--password', adminPassword, '--roles', 'admin,user');
    const client = JSON.parse(cli(env, 'clients:create', '--name', 'Logs', '--scopes', 'reports:read')) as { client_id: string; client_secret: string };
    keep('client_secret', client.client_secret);

    server = await startBuiltServer(env);
    try {
      // Request ids: one given, one bad (replaced), none (made).
      await call('GET', '/health', { givenId: 'given-id.e2e:1' });
      await call('GET', '/health', { givenId: 'a bad id, with spaces' });
      await call('GET', '/health/ready');

      // Registration and the verification link (its token in a query string, as mailed).
      const registered = await call('POST', '/auth/register', { json: { email, password: passwords[0], name: 'Logs' } });
      expect(registered.status).toBe(201);
      const userId = registered.body.id as string;
      const verifyToken = keep('verification token', await waitForToken(dataDir, email, '/verify-email'));
      expect((await call('GET', `/verify-email?token=${verifyToken}`)).status).toBe(200);
      expect((await call('POST', '/auth/email/verify', { json: { token: verifyToken } })).status).toBe(204);

      // The JWT group: login, me, refresh, sessions, logout with the refresh token.
      const login = await call('POST', '/api/auth/login', { json: { email, password: passwords[0] } });
      expect(login.status).toBe(200);
      keep('access token 1', login.body.access_token as string);
      keep('refresh token 1', login.body.refresh_token as string);
      expect((await call('GET', '/api/me', { headers: bearer(login.body.access_token as string) })).status).toBe(200);
      const refreshed = await call('POST', '/api/auth/refresh', { json: { refresh_token: login.body.refresh_token } });
      expect(refreshed.status).toBe(200);
      const access2 = keep('access token 2', refreshed.body.access_token as string);
      keep('refresh token 2', refreshed.body.refresh_token as string);
      expect((await call('GET', '/auth/sessions', { headers: bearer(access2) })).status).toBe(200);

      // The session group: login, me, csrf.
      const web = await call('POST', '/web/auth/login', { json: { email, password: passwords[0] } });
      expect(web.status).toBe(200);
      const session = sessionOf(web.res);
      keep('session cookie', session.value);
      keep('session cookie (decoded)', decodeURIComponent(session.value));
      keep('session id', decodeURIComponent(session.value).slice(2).split('.')[0]);
      keep('csrf token 1', web.body.csrfToken as string);
      expect((await call('GET', '/web/me', { headers: { Cookie: session.cookie } })).status).toBe(200);
      const csrf = await call('GET', '/web/auth/csrf', { headers: { Cookie: session.cookie } });
      expect(csrf.body.csrfToken).toBe(web.body.csrfToken);

      // Password change (with the session and its CSRF token): every credential ends.
      const change = await call('POST', '/auth/password/change', {
        headers: { Cookie: session.cookie, 'X-CSRF-Token': web.body.csrfToken as string },
        json: { currentPassword: passwords[0], newPassword: passwords[1] },
      });
      expect(change.status).toBe(204);

      // Logouts: JWT with its refresh token, then a session with CSRF.
      const login2 = await call('POST', '/api/auth/login', { json: { email, password: passwords[1] } });
      keep('access token 3', login2.body.access_token as string);
      keep('refresh token 3', login2.body.refresh_token as string);
      const jwtLogout = await call('POST', '/api/auth/logout', {
        headers: bearer(login2.body.access_token as string),
        json: { refresh_token: login2.body.refresh_token },
      });
      expect(jwtLogout.status).toBe(204);
      const web2 = await call('POST', '/web/auth/login', { json: { email, password: passwords[1] } });
      const session2 = sessionOf(web2.res);
      keep('session cookie 2', session2.value);
      keep('csrf token 2', web2.body.csrfToken as string);
      const webLogout = await call('POST', '/web/auth/logout', { headers: { Cookie: session2.cookie, 'X-CSRF-Token': web2.body.csrfToken as string } });
      expect(webLogout.status).toBe(204);

      // Forgotten password: the reset link's page (token in the query string), then the reset.
      expect((await call('POST', '/auth/password/forgot', { json: { email } })).status).toBe(202);
      const resetToken = keep('reset token', await waitForToken(dataDir, email, '/reset-password'));
      expect((await call('GET', `/reset-password?token=${resetToken}`)).status).toBe(200);
      expect((await call('POST', '/auth/password/reset', { json: { token: resetToken, password: passwords[2] } })).status).toBe(204);

      // logout-all
      const login3 = await call('POST', '/api/auth/login', { json: { email, password: passwords[2] } });
      keep('access token 4', login3.body.access_token as string);
      keep('refresh token 4', login3.body.refresh_token as string);
      expect((await call('POST', '/auth/logout-all', { headers: bearer(login3.body.access_token as string) })).status).toBe(204);

      // The admin route.
      const admin = await call('POST', '/api/auth/login', { json: { email: adminEmail, password: adminPassword } });
      const adminToken = keep('admin access token', admin.body.access_token as string);
      keep('admin refresh token', admin.body.refresh_token as string);
      expect((await call('PUT', `/api/admin/users/${userId}/roles`, { headers: bearer(adminToken), json: { roles: ['user', 'reader'] } })).status).toBe(200);
      expect((await call('GET', `/api/admin/events?userId=${userId}&limit=5`, { headers: bearer(adminToken) })).status).toBe(200);

      // Machine clients: HTTP Basic (form-encoded), and the secret in a JSON body.
      const basic = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;
      keep('client Basic credentials', basic.slice('Basic '.length));
      const clientToken = await call('POST', '/oauth/token', { headers: { Authorization: basic }, form: 'grant_type=client_credentials' });
      expect(clientToken.status).toBe(200);
      keep('client access token', clientToken.body.access_token as string);
      expect((await call('GET', '/api/me', { headers: bearer(clientToken.body.access_token as string) })).status).toBe(200);
      const posted = await call('POST', '/oauth/token', {
        json: { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret },
      });
      keep('client access token 2', posted.body.access_token as string);

      // Refusals: a wrong password, a spent token, a bad CSRF token, an unparsable body, a 404.
      expect((await call('POST', '/api/auth/login', { json: { email, password: `${passwords[0]} wrong` } })).status).toBe(401);
      secrets.set('wrong password', `${passwords[0]} wrong`);
      expect((await call('GET', '/api/me', { headers: bearer(access2) })).status).toBe(401);
      expect((await call('POST', '/web/auth/logout', { headers: { Cookie: session.cookie, 'X-CSRF-Token': 'forged-csrf-token-value' } })).status).toBe(401);
      expect((await call('POST', '/auth/register', { json: '{"email": "x@y.test", "password": ' })).status).toBe(400);
      expect((await call('GET', `/no-such-route?token=${resetToken}`, { givenId: 'given-id.e2e:404' })).status).toBe(404);
    } finally {
      await server.stop();
    }
    output = server.output();
  });

  it('keeps the whole log (the starter keeps 64 kB)', () => {
    expect(output.length).toBeLessThan(60 * 1024);
  });

  it('writes one JSON object per line, each with level, time and msg', () => {
    const raw = output.split('\n').filter((line) => line !== '');
    lines = raw.map((line, index) => {
      try {
        return JSON.parse(line) as Json;
      } catch {
        throw new Error(`line ${index + 1} is not JSON: ${line}`);
      }
    });
    expect(lines.length).toBeGreaterThan(sent.length);
    for (const line of lines) {
      expect(line).toEqual(
        expect.objectContaining({ level: expect.stringMatching(/^(fatal|error|warn|info|debug|trace)$/), time: expect.any(String), msg: expect.any(String) }),
      );
      expect(Number.isNaN(Date.parse(line.time as string))).toBe(false);
    }
    // Nest's own start-up lines and the listening line are among them.
    expect(lines.some((line) => line.context === 'NestApplication')).toBe(true);
    expect(lines.some((line) => /^AuthSwitch listening on http:\/\//.test(line.msg as string))).toBe(true);
  });

  it('writes one access line per request: reqId, method, path without the query, status, duration', () => {
    const access = lines.filter((line) => line.msg === 'request completed' || line.msg === 'request failed');
    expect(access).toHaveLength(sent.length);
    for (const request of sent) {
      const mine = access.filter((line) => line.reqId === request.requestId);
      expect(mine).toEqual([
        expect.objectContaining({ method: request.method, path: request.path, status: request.status, duration: expect.any(Number), reqId: request.requestId }),
      ]);
      expect(mine[0].path).not.toContain('?');
    }
    // The query strings carried tokens; the paths were logged without them.
    expect(access.map((line) => line.path)).toEqual(expect.arrayContaining(['/verify-email', '/reset-password', '/no-such-route']));
  });

  it('echoes a sane X-Request-Id and logs it, and makes one when none or a bad one came', () => {
    expect(sent.every((request) => request.requestId !== '')).toBe(true);
    for (const request of sent) {
      if (request.givenId === 'given-id.e2e:1' || request.givenId === 'given-id.e2e:404') expect(request.requestId).toBe(request.givenId);
      else expect(request.requestId).toMatch(UUID);
    }
    expect(output).toContain('"reqId":"given-id.e2e:1"');
    expect(output).toContain('"reqId":"given-id.e2e:404"');
    expect(output).not.toContain('a bad id');
    // Errors carry it too: the 400 of an unparsable body, the 401s and the 404.
    expect(sent.filter((request) => request.status >= 400).map((request) => request.status)).toEqual([401, 401, 401, 400, 404]);
    // A line written by a service during a request carries that request's id (the mail lines).
    const mailLines = lines.filter((line) => line.context === 'Mail');
    expect(mailLines.length).toBeGreaterThan(0);
  });

  it('never writes a password, token, cookie, secret or Authorization value', () => {
    expect(secrets.size).toBeGreaterThan(20);
    const leaked = [...secrets].filter(([, value]) => output.includes(value)).map(([name]) => name);
    expect(leaked).toEqual([]);
    expect(output).not.toContain('Bearer ');
    expect(output).not.toContain('Basic ');
    expect(output).not.toMatch(/authswitch\.sid=/);
  });
});

describe('JSON logs by default in production', () => {
  it('logs JSON from the first line to the last without LOG_FORMAT', async () => {
    const dataDir = freshDataDir();
    const keyFile = join(dataDir, 'jwt-key.pem');
    writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const server = await startBuiltServer({
      ...baseEnv(dataDir),
      NODE_ENV: 'production',
      SESSION_SECRET: randomBytes(48).toString('base64'),
      JWT_PRIVATE_KEY_FILE: keyFile,
      LOG_LEVEL: 'warn',
    });
    let id: string | null;
    try {
      id = (await fetch(`${server.base}/health`)).headers.get('x-request-id');
    } finally {
      await server.stop();
    }
    expect(id).toMatch(UUID);
    const lines = server
      .output()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Json);
    // At warn: the start-up warnings (no SMTP_URL, Secure cookies without a proxy, no
    // PUBLIC_URL) and the listening line, which is written at any level; no access line.
    expect(lines.filter((line) => line.level === 'warn').length).toBeGreaterThan(0);
    const listening = lines.filter((line) => /^AuthSwitch listening on /.test(line.msg as string));
    expect(listening).toHaveLength(1);
    expect(lines.filter((line) => !listening.includes(line)).every((line) => ['warn', 'error', 'fatal'].includes(line.level as string))).toBe(true);
    expect(lines.some((line) => line.msg === 'request completed')).toBe(false);
  });
});
