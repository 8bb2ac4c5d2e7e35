import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, sign, SignOptions } from 'jsonwebtoken';
import { createClient as createRedisClient } from 'redis';
import type { RawEnv } from '../src/server/app-config';
import { dropRedisKeys, freshDataDir, StorageSetup, testEnv } from './support/environments';
import { startAppWithEnv, TestApp } from './support/test-app';
import { eventually } from './support/waiting';

const ROOT = join(__dirname, '..');
const PUBLIC_URL = 'https://auth.example.test';
const TOKEN_URL = `${PUBLIC_URL}/oauth/token`;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The operator's CLI, a process of its own, on the apps' configuration. */
function cli(env: RawEnv, ...args: string[]) {
  const result = spawnSync('node', ['dist/cli.js', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, LOG_LEVEL: 'error' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

function createClient(env: RawEnv, ...args: string[]): { client_id: string; client_secret?: string } {
  const result = cli(env, 'clients:create', ...args);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout.split('\n').pop()!);
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

function assertion(key: KeyObject, clientId: string, claims: Record<string, unknown> = {}, options: SignOptions = {}): string {
  return sign({ jti: randomUUID(), ...claims }, key, {
    algorithm: 'ES256',
    issuer: clientId,
    subject: clientId,
    audience: TOKEN_URL,
    expiresIn: 60,
    ...options,
  });
}

describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('machine clients on %s, two instances', (setup) => {
  let env: RawEnv;
  let a: TestApp;
  let b: TestApp;
  let secretClient: { client_id: string; client_secret?: string };
  let keyClient: { client_id: string };
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  beforeAll(async () => {
    env = testEnv(setup, { PUBLIC_URL, REVOCATION_SYNC_INTERVAL_MS: '250', CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS: '10000' });
    a = await startAppWithEnv(env);
    b = await startAppWithEnv(env);
    secretClient = createClient(env, '--name', 'Reports', '--scopes', 'reports:read,reports:write');
    const keyFile = join(env.DATA_DIR!, 'client-public.pem');
    writeFileSync(keyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
    keyClient = createClient(env, '--name', 'Signer', '--scopes', 'billing:read', '--public-key-file', keyFile);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await dropRedisKeys(env.REDIS_KEY_PREFIX);
  });

  it('clients:create prints the id and a secret once; with a public key, no secret; clients:list shows neither secret nor digest', () => {
    expect(secretClient.client_id).toMatch(/^client_[0-9a-f]{24}$/);
    expect(secretClient.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Object.keys(keyClient)).toEqual(['client_id']);
    const list = cli(env, 'clients:list');
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(secretClient.client_secret);
    const rows = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    expect(rows).toEqual(
      expect.arrayContaining([
        {
          client_id: secretClient.client_id,
          name: 'Reports',
          scopes: ['reports:read', 'reports:write'],
          authentication: 'client_secret',
          createdAt: expect.any(String),
          revokedAt: null,
        },
        {
          client_id: keyClient.client_id,
          name: 'Signer',
          scopes: ['billing:read'],
          authentication: 'private_key_jwt',
          createdAt: expect.any(String),
          revokedAt: null,
        },
      ]),
    );
  });

  it('client_secret_basic (form-encoded): a scoped token, no-store, no refresh token, no roles', async () => {
    const res = await a
      .http()
      .post('/oauth/token')
      .set('Authorization', basic(secretClient.client_id, secretClient.client_secret!))
      .type('form')
      .send({ grant_type: 'client_credentials' })
      .expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900, scope: 'reports:read reports:write' });
    const token = decode(res.body.access_token, { complete: true })!;
    expect(token.header).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
    const claims = token.payload as Record<string, unknown>;
    expect(claims).toEqual({
      sub: secretClient.client_id,
      client_id: secretClient.client_id,
      scope: 'reports:read reports:write',
      iss: 'authswitch',
      aud: 'authswitch-api',
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.any(String),
    });
    // Accepted by the other instance and by jwt groups; /api/me tells who the client is.
    const me = await b.http().get('/api/me').set('Authorization', `Bearer ${res.body.access_token}`).expect(200);
    expect(me.body).toEqual({ client_id: secretClient.client_id, scope: 'reports:read reports:write' });
    // Not a person: no session group, no account routes, no admin routes.
    await a.http().get('/web/me').set('Authorization', `Bearer ${res.body.access_token}`).expect(401);
    await a.http().post('/auth/logout-all').set('Authorization', `Bearer ${res.body.access_token}`).expect(403);
    await a.http().post('/api/auth/logout').set('Authorization', `Bearer ${res.body.access_token}`).expect(403);
    await a
      .http()
      .put(`/api/admin/users/${randomUUID()}/roles`)
      .set('Authorization', `Bearer ${res.body.access_token}`)
      .send({ roles: ['admin'] })
      .expect(403);
  });

  it('client_secret_post, as JSON and as a form, with a subset of the scopes', async () => {
    const json = await a
      .http()
      .post('/oauth/token')
      .send({ grant_type: 'client_credentials', client_id: secretClient.client_id, client_secret: secretClient.client_secret, scope: 'reports:read' })
      .expect(200);
    expect(json.body.scope).toBe('reports:read');
    const form = await b
      .http()
      .post('/oauth/token')
      .type('form')
      .send({
        grant_type: 'client_credentials',
        client_id: secretClient.client_id,
        client_secret: secretClient.client_secret,
        scope: 'reports:write reports:read',
      })
      .expect(200);
    expect(form.body.scope).toBe('reports:write reports:read');
    const me = await a.http().get('/api/me').set('Authorization', `Bearer ${json.body.access_token}`).expect(200);
    expect(me.body).toEqual({ client_id: secretClient.client_id, scope: 'reports:read' });
  });

  it('private_key_jwt: an assertion signed with the client key, each jti once across instances', async () => {
    const signed = assertion(keys.privateKey, keyClient.client_id);
    const body = { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: signed };
    const res = await a.http().post('/oauth/token').type('form').send(body).expect(200);
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900, scope: 'billing:read' });
    await b.http().get('/api/me').set('Authorization', `Bearer ${res.body.access_token}`).expect(200);
    // The same assertion again, on the other instance: refused.
    const replay = await b.http().post('/oauth/token').type('form').send(body).expect(401);
    expect(replay.body).toEqual({ statusCode: 401, error: 'invalid_client', message: expect.any(String), error_description: expect.any(String) });
    // The issuer is an accepted audience too, and client_id may name the client.
    const toIssuer = assertion(keys.privateKey, keyClient.client_id, {}, { audience: 'authswitch' });
    await a
      .http()
      .post('/oauth/token')
      .send({ ...body, client_id: keyClient.client_id, client_assertion: toIssuer })
      .expect(200);
  });

  it('parallel uses of one assertion: exactly one token', async () => {
    for (let trial = 0; trial < 3; trial++) {
      const body = { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: assertion(keys.privateKey, keyClient.client_id) };
      const answers = await Promise.all(Array.from({ length: 6 }, (_v, i) => (i % 2 ? a : b).http().post('/oauth/token').send(body)));
      expect(answers.map((res) => res.status).sort()).toEqual([200, 401, 401, 401, 401, 401]);
    }
  });

  it('private_key_jwt: accepts a fractional exp (a legal NumericDate), once', async () => {
    const exp = Date.now() / 1000 + 60.123456;
    const signed = sign({ jti: randomUUID(), exp }, keys.privateKey, {
      algorithm: 'ES256',
      issuer: keyClient.client_id,
      subject: keyClient.client_id,
      audience: TOKEN_URL,
    });
    const body = { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: signed };
    const res = await a.http().post('/oauth/token').send(body);
    expect({ status: res.status, scope: res.body.scope }).toEqual({ status: 200, scope: 'billing:read' });
    const replayed = await b.http().post('/oauth/token').send(body);
    expect({ status: replayed.status, error: replayed.body.error }).toEqual({ status: 401, error: 'invalid_client' });
  });

  it('refuses assertions that are long-lived, for another audience, badly signed, or not iss = sub', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bad = [
      assertion(keys.privateKey, keyClient.client_id, {}, { expiresIn: 600 }),
      assertion(keys.privateKey, keyClient.client_id, {}, { audience: 'https://elsewhere.example/token' }),
      assertion(other.privateKey, keyClient.client_id),
      assertion(keys.privateKey, keyClient.client_id, {}, { subject: 'someone-else' }),
      assertion(keys.privateKey, keyClient.client_id, {}, { expiresIn: -60 }),
      sign({ jti: randomUUID() }, keys.privateKey, {
        algorithm: 'ES256',
        issuer: keyClient.client_id,
        subject: keyClient.client_id,
        audience: TOKEN_URL,
        noTimestamp: true,
      }),
      // The public key as an HMAC secret: the algorithm is pinned to the key's, so no.
      sign({ jti: randomUUID() }, keys.publicKey.export({ type: 'spki', format: 'pem' }), {
        algorithm: 'HS256',
        issuer: keyClient.client_id,
        subject: keyClient.client_id,
        audience: TOKEN_URL,
        expiresIn: 60,
      }),
      // A secret client cannot sign assertions (it has no key).
      assertion(keys.privateKey, secretClient.client_id),
    ];
    for (const client_assertion of bad) {
      const res = await a.http().post('/oauth/token').send({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion });
      expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: 'invalid_client' });
    }
    // No jti: refused as well.
    const noJti = sign({}, keys.privateKey, {
      algorithm: 'ES256',
      issuer: keyClient.client_id,
      subject: keyClient.client_id,
      audience: TOKEN_URL,
      expiresIn: 60,
    });
    await a.http().post('/oauth/token').send({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: noJti }).expect(401);
  });

  it('answers RFC 6749 errors in the API shape', async () => {
    const expectError = async (res: { status: number; body: Record<string, unknown>; headers: Record<string, string> }, status: number, error: string) => {
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ statusCode: status, error, message: expect.any(String), error_description: res.body.message });
      expect(res.headers['cache-control']).toBe('no-store');
    };
    const creds = { client_id: secretClient.client_id, client_secret: secretClient.client_secret };
    await expectError(await a.http().post('/oauth/token').send(creds), 400, 'invalid_request');
    await expectError(
      await a
        .http()
        .post('/oauth/token')
        .send({ ...creds, grant_type: 'password' }),
      400,
      'unsupported_grant_type',
    );
    await expectError(
      await a
        .http()
        .post('/oauth/token')
        .send({ ...creds, grant_type: 'client_credentials', scope: 'reports:read admin' }),
      400,
      'invalid_scope',
    );
    const none = await a.http().post('/oauth/token').send({ grant_type: 'client_credentials' });
    await expectError(none, 401, 'invalid_client');
    expect(none.headers['www-authenticate']).toMatch(/^Basic /);
    await expectError(
      await a
        .http()
        .post('/oauth/token')
        .send({ ...creds, client_secret: 'wrong', grant_type: 'client_credentials' }),
      401,
      'invalid_client',
    );
    await expectError(
      await a
        .http()
        .post('/oauth/token')
        .send({ ...creds, client_id: 'client_000000000000000000000000', grant_type: 'client_credentials' }),
      401,
      'invalid_client',
    );
    const wrongBasic = await a
      .http()
      .post('/oauth/token')
      .set('Authorization', basic(secretClient.client_id, 'wrong'))
      .send({ grant_type: 'client_credentials' });
    await expectError(wrongBasic, 401, 'invalid_client');
    expect(wrongBasic.headers['www-authenticate']).toMatch(/^Basic realm=/);
    // Two methods at once, a repeated parameter, an unreadable body, a non-string value.
    await expectError(
      await a
        .http()
        .post('/oauth/token')
        .set('Authorization', basic(secretClient.client_id, secretClient.client_secret!))
        .send({ ...creds, grant_type: 'client_credentials' }),
      400,
      'invalid_request',
    );
    await expectError(
      await a.http().post('/oauth/token').type('form').send('grant_type=client_credentials&grant_type=client_credentials'),
      400,
      'invalid_request',
    );
    await expectError(await a.http().post('/oauth/token').set('Content-Type', 'application/json').send('{"grant_type":'), 400, 'invalid_request');
    await expectError(
      await a
        .http()
        .post('/oauth/token')
        .send({ ...creds, grant_type: ['client_credentials'] }),
      400,
      'invalid_request',
    );
    await expectError(
      await a.http().post('/oauth/token').send({ grant_type: 'client_credentials', client_assertion_type: 'urn:other', client_assertion: 'x.y.z' }),
      400,
      'invalid_request',
    );
  });

  it('never answers 500 to odd credentials: non-JSON assertions, NUL bytes, foreign charsets, huge bodies', async () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    const withAssertion = (client_assertion: string) => ({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion });
    const invalidClient = async (res: { status: number; body: { error?: string } }) =>
      expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: 'invalid_client' });
    await invalidClient(
      await a
        .http()
        .post('/oauth/token')
        .send(withAssertion(`${b64('{"alg":"ES256"}')}.${b64('not json')}.${b64('sig')}`)),
    );
    await invalidClient(
      await a
        .http()
        .post('/oauth/token')
        .send(withAssertion(`${b64('{"alg":"ES256"}')}.${b64(JSON.stringify({ iss: 'client_\u0000' }))}.${b64('sig')}`)),
    );
    await invalidClient(
      await a
        .http()
        .post('/oauth/token')
        .send(withAssertion(assertion(keys.privateKey, keyClient.client_id, { jti: 'x\u0000y' }))),
    );
    await invalidClient(
      await a
        .http()
        .post('/oauth/token')
        .set('Authorization', `Basic ${Buffer.from('client%00x:secret').toString('base64')}`)
        .send({ grant_type: 'client_credentials' }),
    );
    await invalidClient(
      await a
        .http()
        .post('/oauth/token')
        .set('Authorization', `Basic ${Buffer.from('\u00e9t\u00e9:s\u00e9cret').toString('base64')}`)
        .send({ grant_type: 'client_credentials' }),
    );
    const charset = await a
      .http()
      .post('/oauth/token')
      .set('Content-Type', 'application/x-www-form-urlencoded; charset=utf-16')
      .send('grant_type=client_credentials');
    expect({ status: charset.status, error: charset.body.error }).toEqual({ status: 400, error: 'invalid_request' });
    const huge = await a
      .http()
      .post('/oauth/token')
      .type('form')
      .send(`grant_type=client_credentials&scope=${'a'.repeat(200_000)}`);
    expect({ status: huge.status, error: huge.body.error, description: typeof huge.body.error_description }).toEqual({
      status: 413,
      error: 'invalid_request',
      description: 'string',
    });
  });

  it('clients:revoke (another process) ends the client on every instance within seconds, and it gets no more tokens', async () => {
    const doomed = createClient(env, '--name', 'Doomed', '--scopes', 'reports:read');
    const res = await a
      .http()
      .post('/oauth/token')
      .set('Authorization', basic(doomed.client_id, doomed.client_secret!))
      .send({ grant_type: 'client_credentials' })
      .expect(200);
    const bearer = `Bearer ${res.body.access_token}`;
    await a.http().get('/api/me').set('Authorization', bearer).expect(200);
    await b.http().get('/api/me').set('Authorization', bearer).expect(200);

    const revoked = cli(env, 'clients:revoke', '--client-id', doomed.client_id);
    expect(revoked.code).toBe(0);
    const since = Date.now();
    await eventually(
      async () =>
        (await a.http().get('/api/me').set('Authorization', bearer)).status === 401 &&
        (await b.http().get('/api/me').set('Authorization', bearer)).status === 401,
      5000,
    );
    expect(Date.now() - since).toBeLessThan(5000);
    const again = await b
      .http()
      .post('/oauth/token')
      .set('Authorization', basic(doomed.client_id, doomed.client_secret!))
      .send({ grant_type: 'client_credentials' })
      .expect(401);
    expect(again.body.error).toBe('invalid_client');
    expect(cli(env, 'clients:revoke', '--client-id', doomed.client_id).code).toBe(1);
  });
});

describe('machine clients: CLI input and limits', () => {
  it('clients:create refuses bad names, scopes and keys with a clear message', () => {
    const env = { DATA_DIR: freshDataDir() };
    expect(cli(env, 'clients:create', '--scopes', 'a').stderr).toMatch(/--name is required/);
    expect(cli(env, 'clients:create', '--name', 'x', '--scopes', 'a b,"c"').stderr).toMatch(/invalid scope/);
    const keyFile = join(env.DATA_DIR, 'private.pem');
    writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const privateKey = cli(env, 'clients:create', '--name', 'x', '--scopes', 'a', '--public-key-file', keyFile);
    expect(privateKey.code).toBe(2);
    expect(privateKey.stderr).toMatch(/private key/);
    const weak = join(env.DATA_DIR, 'p384.pem');
    writeFileSync(weak, generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }));
    expect(cli(env, 'clients:create', '--name', 'x', '--scopes', 'a', '--public-key-file', weak).stderr).toMatch(/P-256/);
    expect(cli(env, 'clients:revoke').code).toBe(2);
  });

  it('limits failed client authentications per address (429, Retry-After), also for a parallel burst; successes do not count', async () => {
    const env = testEnv('sqlite', { TRUST_PROXY: '1', CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS: '3' });
    const t = await startAppWithEnv(env);
    try {
      const client = createClient(env, '--name', 'Limited', '--scopes', 'a');
      const from = (address: string) => t.http().post('/oauth/token').set('X-Forwarded-For', address);
      const ok = (address: string) =>
        from(address).send({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret });
      const wrong = (address: string) => from(address).send({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: 'wrong' });
      for (let i = 0; i < 5; i++) expect((await ok('192.0.2.1')).status).toBe(200);
      const burst = await Promise.all(Array.from({ length: 12 }, () => wrong('192.0.2.1')));
      expect(burst.filter((res) => res.status === 401)).toHaveLength(3);
      expect(burst.filter((res) => res.status === 429)).toHaveLength(9);
      const limited = await ok('192.0.2.1');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // The address is limited, not the client: from elsewhere its secret still works.
      expect((await ok('192.0.2.2')).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it("never refuses a client's right credentials because of failures sent from other addresses (no per-client lockout)", async () => {
    const env = testEnv('sqlite', { TRUST_PROXY: '1', CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS: '3' });
    const t = await startAppWithEnv(env);
    try {
      const client = createClient(env, '--name', 'Targeted', '--scopes', 'a');
      const send = (address: string, secret: string) =>
        t
          .http()
          .post('/oauth/token')
          .set('X-Forwarded-For', address)
          .send({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: secret });
      // 60 wrong secrets, 2 from each of 30 addresses: three times the old per-client limit (20).
      for (let i = 0; i < 30; i++) {
        expect((await send(`198.51.100.${i + 1}`, 'wrong')).status).toBe(401);
        expect((await send(`198.51.100.${i + 1}`, 'wrong')).status).toBe(401);
      }
      const res = await send('203.0.113.9', client.client_secret!);
      expect({ status: res.status, type: res.body.token_type }).toEqual({ status: 200, type: 'Bearer' });
    } finally {
      await t.close();
    }
  });

  it('refuses client ids the CLI cannot have issued before anything is counted (401 invalid_client, never 429)', async () => {
    const env = testEnv('sqlite', { TRUST_PROXY: '1', CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS: '3' });
    const t = await startAppWithEnv(env);
    try {
      const client = createClient(env, '--name', 'Neighbour', '--scopes', 'a');
      const from = () => t.http().post('/oauth/token').set('X-Forwarded-For', '192.0.2.77');
      const madeUp = [
        `x${'y'.repeat(8000)}`,
        'made-up-client',
        'CLIENT_0123456789abcdef01234567',
        'client_0123456789abcdef0123456',
        'client_0123456789abcdef012345678',
      ];
      for (let i = 0; i < 40; i++) {
        const client_id = `${madeUp[i % madeUp.length]}${i >= madeUp.length ? `-${i}` : ''}`;
        const res =
          i % 2 === 0
            ? await from().send({ grant_type: 'client_credentials', client_id, client_secret: 's' })
            : await from().set('Authorization', basic(client_id, 's')).send({ grant_type: 'client_credentials' });
        expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: 'invalid_client' });
      }
      // Nothing was counted: the address has its whole budget for a real client.
      const send = (secret: string) => from().send({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: secret });
      expect((await send(client.client_secret!)).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await send('wrong')).status).toBe(401);
      expect((await send(client.client_secret!)).status).toBe(429);
    } finally {
      await t.close();
    }
  });
});

describe('machine clients: limits in Redis', () => {
  it('hold no key per client id, whatever ids are sent (bounded by the addresses, not the names)', async () => {
    const env = testEnv('postgres+redis', { TRUST_PROXY: '1', CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS: '100000' });
    const t = await startAppWithEnv(env);
    const redis = createRedisClient({ url: env.REDIS_URL });
    await redis.connect();
    try {
      for (let i = 0; i < 200; i++) {
        // Half of them of the CLI's shape (unknown clients), half not.
        const client_id = i % 2 === 0 ? `client_${randomUUID().replace(/-/g, '').slice(0, 24)}` : `made-up-${randomUUID()}`;
        const res = await t
          .http()
          .post('/oauth/token')
          .set('X-Forwarded-For', '192.0.2.88')
          .send({ grant_type: 'client_credentials', client_id, client_secret: 'wrong' });
        expect(res.status).toBe(401);
      }
      const keys: string[] = [];
      for await (const batch of redis.scanIterator({ MATCH: `${env.REDIS_KEY_PREFIX}limit:*`, COUNT: 500 })) keys.push(...batch);
      expect(keys).toEqual([`${env.REDIS_KEY_PREFIX}limit:clientFailuresPerAddress:192.0.2.88`]);
    } finally {
      await redis.close();
      await t.close();
      await dropRedisKeys(env.REDIS_KEY_PREFIX);
    }
  });
});
