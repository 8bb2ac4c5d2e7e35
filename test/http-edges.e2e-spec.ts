import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { expectErrorShape } from './support/contract-suite';
import { StorageSetup } from './support/environments';
import { startApp, TestApp, uniqueEmail } from './support/test-app';

const NUL = '\u0000';

/** Sends raw bytes and reads until the server closes: status, headers and body as written. */
function rawExchange(port: number, payload: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    // The server may close while we are still writing; what it answered is what matters.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (chunks.length === 0) reject(error);
    });
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...headerLines] = head.split('\r\n');
      const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(payload);
  });
}

describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('HTTP edges on %s', (setup) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(setup);
  });
  afterAll(async () => {
    if (!t) return;
    await t.close();
    rmSync(t.config.dataDir, { recursive: true, force: true });
  });

  async function expectDetails(method: 'post' | 'put', path: string, body: unknown, details: string[], token?: string) {
    let req = t.http()[method](path);
    if (token) req = req.set('Authorization', `Bearer ${token}`);
    const res = await req.send(body as object);
    expect(res.status).toBe(400);
    expectErrorShape(res.body, 400);
    expect(res.body.message).toBe('Validation failed');
    expect(res.body.details).toEqual(details);
  }

  describe('NUL characters are refused with 400, not a database error', () => {
    it.each([
      ['email', { email: `a${NUL}b@example.test`, password: 'password123' }, ['email must not contain NUL characters']],
      ['password', { email: uniqueEmail('nul'), password: `pass${NUL}word123` }, ['password must not contain NUL characters']],
      ['name', { email: uniqueEmail('nul'), password: 'password123', name: `Ada${NUL}` }, ['name must not contain NUL characters']],
    ])('register: in the %s', async (_field, body, details) => {
      await expectDetails('post', '/auth/register', body, details);
    });

    it.each(['web', 'api'])('login on /%s: in the email and in the password', async (group) => {
      const user = await t.createUser();
      await expectDetails('post', `/${group}/auth/login`, { email: `${user.email}${NUL}`, password: user.password }, ['email must not contain NUL characters']);
      await expectDetails('post', `/${group}/auth/login`, { email: user.email, password: `${user.password}${NUL}` }, [
        'password must not contain NUL characters',
      ]);
      await expectDetails('post', `/${group}/auth/login`, { email: NUL, password: NUL }, [
        'email must not contain NUL characters',
        'password must not contain NUL characters',
      ]);
      // The clean request still works: nothing about the account was disturbed.
      await t.http().post(`/${group}/auth/login`).send({ email: user.email, password: user.password }).expect(200);
    });

    it('refresh and logout: in the refresh token', async () => {
      await expectDetails('post', '/api/auth/refresh', { refresh_token: `abc${NUL}def` }, ['refresh_token must not contain NUL characters']);
      const user = await t.createUser();
      const login = await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      await expectDetails(
        'post',
        '/api/auth/logout',
        { refresh_token: `abc${NUL}` },
        ['refresh_token must not contain NUL characters'],
        login.body.access_token,
      );
    });

    it('admin: in a role name', async () => {
      const admin = await t.createUser({ roles: ['admin'] });
      const target = await t.createUser();
      const login = await t.http().post('/api/auth/login').send({ email: admin.email, password: admin.password }).expect(200);
      await expectDetails(
        'put',
        `/api/admin/users/${target.id}/roles`,
        { roles: ['user', `admin${NUL}`] },
        ['roles must not contain NUL characters'],
        login.body.access_token,
      );
    });
  });

  describe('deep or non-Unicode bodies are refused with 400 before parsing, never a 500', () => {
    const deep = (levels: number, leaf = '"x"') => '{"email":'.repeat(levels) + leaf + '}'.repeat(levels);
    const refused = (message: string) => ({ statusCode: 400, error: 'Bad Request', message });
    const TOO_DEEP = 'Request body nested deeper than 32 levels';
    const NOT_UNICODE = 'Request body is not valid Unicode text';

    it.each(['/auth/register', '/api/auth/login', '/auth/password/forgot', '/login', '/forgot-password'])('JSON nested 5,000 deep at %s', async (path) => {
      const res = await t.http().post(path).set('Content-Type', 'application/json').send(deep(5000));
      expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: refused(TOO_DEEP) });
    });

    it('takes a body nested 32 deep to validation, and refuses 33', async () => {
      const at32 = await t
        .http()
        .post('/api/auth/login')
        .set('Content-Type', 'application/json')
        .send(`{"password":"x","email":${deep(31)}}`);
      expect({ status: at32.status, message: at32.body.message }).toEqual({ status: 400, message: 'Validation failed' });
      const at33 = await t
        .http()
        .post('/api/auth/login')
        .set('Content-Type', 'application/json')
        .send(`{"password":"x","email":${deep(32)}}`);
      expect(at33.body).toEqual(refused(TOO_DEEP));
      // Brackets inside strings are text, not nesting.
      await t
        .http()
        .post('/api/auth/login')
        .send({ email: uniqueEmail('brackets'), password: '{['.repeat(100) })
        .expect(401);
    });

    it.each([
      ['an escaped lone high surrogate', String.raw`"a\ud800b@example.test"`],
      ['an escaped lone low surrogate', String.raw`"\udc00@example.test"`],
      ['a high surrogate escape followed by another high one', String.raw`"\ud800\ud800@example.test"`],
    ])('a JSON email holding %s', async (_label, email) => {
      for (const path of ['/auth/register', '/api/auth/login', '/auth/password/forgot', '/login']) {
        const res = await t.http().post(path).set('Content-Type', 'application/json').send(`{"email":${email},"password":"password123"}`);
        expect({ path, status: res.status, body: res.body }).toEqual({ path, status: 400, body: refused(NOT_UNICODE) });
      }
    });

    it('a lone surrogate as raw bytes (UTF-8 of U+D800), in JSON and in a page form', async () => {
      const raw = Buffer.concat([Buffer.from('{"email":"a'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('@example.test","password":"password123"}')]);
      const json = await t
        .http()
        .post('/auth/register')
        .set('Content-Type', 'application/json')
        .serialize((bytes: Buffer) => bytes as unknown as string)
        .send(raw);
      expect({ status: json.status, body: json.body }).toEqual({ status: 400, body: refused(NOT_UNICODE) });
      const form = await t
        .http()
        .post('/register')
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .send('email=a%ED%A0%80%40example.test&password=password123');
      expect({ status: form.status, body: form.body }).toEqual({ status: 400, body: refused(NOT_UNICODE) });
      const token = await t.http().post('/oauth/token').type('form').send('grant_type=client_credentials&client_id=%ED%B0%80&client_secret=x');
      expect({ status: token.status, error: token.body.error, message: token.body.message }).toEqual({
        status: 400,
        error: 'invalid_request',
        message: NOT_UNICODE,
      });
    });

    it('a page form whose field names nest deeper than 32 brackets', async () => {
      const res = await t
        .http()
        .post('/login')
        .type('form')
        .send(`email${'[a]'.repeat(5000)}=x&password=y`);
      expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: refused(TOO_DEEP) });
    });

    it('still takes surrogate pairs, escaped and raw, as the characters they are', async () => {
      const name = String.raw`Ada \ud83d\ude00 ` + '\u{1F600}';
      const res = await t
        .http()
        .post('/auth/register')
        .set('Content-Type', 'application/json')
        .send(`{"email":"${uniqueEmail('emoji')}","password":"password123","name":"${name}"}`)
        .expect(201);
      expect(res.body.name).toBe('Ada \u{1F600} \u{1F600}');
    });
  });

  describe('validation messages name what is wrong', () => {
    it.each([
      ['nothing', {}, ['email is required', 'password is required']],
      ['an object as email', { email: {} }, ['email must be a string', 'password is required']],
      ['null values', { email: null, password: null }, ['email is required', 'password is required']],
      ['numbers', { email: 42, password: 12345678 }, ['email must be a string', 'password must be a string']],
      ['empty strings', { email: '', password: '' }, ['email must not be empty', 'password must not be empty']],
      [
        'oversized values',
        { email: 'e'.repeat(321), password: 'p'.repeat(1025) },
        ['email must be at most 320 characters', 'password must be at most 1024 characters'],
      ],
      ['an email that is not an email', { email: 'verify:42', password: 'password' }, ['email must be a valid email address']],
    ])('login with %s', async (_label, body, details) => {
      await expectDetails('post', '/api/auth/login', body, details);
    });

    it.each([
      ['nothing', {}, ['email is required', 'password is required']],
      ['wrong types', { email: ['a@b.c'], password: 12345678, name: 7 }, ['email must be a string', 'password must be a string', 'name must be a string']],
      [
        'an invalid email and a short password',
        { email: 'not-an-email', password: '1234567' },
        ['email must be a valid email address', 'password must be 8 to 256 characters'],
      ],
      [
        'an oversized email and name',
        { email: `${'e'.repeat(320)}@x.io`, password: 'password123', name: 'n'.repeat(101) },
        ['email must be at most 320 characters', 'name must be at most 100 characters'],
      ],
    ])('register with %s', async (_label, body, details) => {
      await expectDetails('post', '/auth/register', body, details);
    });

    it('refresh without a token, or with a wrong one', async () => {
      await expectDetails('post', '/api/auth/refresh', {}, ['refresh_token is required']);
      await expectDetails('post', '/api/auth/refresh', { refresh_token: 5 }, ['refresh_token must be a string']);
      await expectDetails('post', '/api/auth/refresh', { refresh_token: '' }, ['refresh_token must not be empty']);
      await expectDetails('post', '/api/auth/refresh', { refresh_token: 'r'.repeat(513) }, ['refresh_token must be at most 512 characters']);
    });

    it('admin role changes with a missing or malformed list', async () => {
      const admin = await t.createUser({ roles: ['admin'] });
      const target = await t.createUser();
      const token = (await t.http().post('/api/auth/login').send({ email: admin.email, password: admin.password }).expect(200)).body.access_token;
      const path = `/api/admin/users/${target.id}/roles`;
      await expectDetails('put', path, {}, ['roles is required'], token);
      await expectDetails('put', path, { roles: 'admin' }, ['roles must be an array'], token);
      await expectDetails('put', path, { roles: [1] }, ['each role must be a string'], token);
      await expectDetails('put', path, { roles: ['Admin'] }, ['each role must be a lower-case name of at most 32 characters'], token);
    });
  });
});

describe('errors before Express sees the request', () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await startApp('sqlite');
    await new Promise<void>((resolve) => t.server.listen(0, '127.0.0.1', resolve));
    port = (t.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    if (!t) return;
    await t.close();
    rmSync(t.config.dataDir, { recursive: true, force: true });
  });

  it('answers request headers over 16 kB with 431 in the error shape, then closes', async () => {
    const res = await rawExchange(port, `GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
    expect(res.status).toBe(431);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers.connection).toBe('close');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
    const body = JSON.parse(res.body);
    expectErrorShape(body, 431);
    expect(body).toEqual({ statusCode: 431, error: 'Request Header Fields Too Large', message: 'Request headers too large' });
  });

  it('answers the same through an ordinary client that is still sending', async () => {
    // Many headers, so the overflow happens while the client is mid-write.
    const headers = Object.fromEntries(Array.from({ length: 200 }, (_v, i) => [`x-filler-${i}`, 'f'.repeat(200)]));
    const res = await fetch(`http://127.0.0.1:${port}/health`, { headers });
    expect(res.status).toBe(431);
    expectErrorShape(await res.json(), 431);
  });

  it('answers a malformed request line with 400 in the error shape', async () => {
    const res = await rawExchange(port, 'THIS IS NOT HTTP\r\n\r\n');
    expect(res.status).toBe(400);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body)).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Malformed HTTP request' });
  });

  it('still serves ordinary requests on the same server', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});
