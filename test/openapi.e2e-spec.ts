import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ClientsService } from '../src/clients/clients.service';
import { BuiltServer, Env, startBuiltServer } from './support/built-server';
import { freshDataDir } from './support/environments';
import { startApp } from './support/test-app';

// The OpenAPI document and Swagger UI of the BUILT server: DTO schemas come from the Swagger
// CLI plugin, which only `nest build` (npm run build) applies; ts-jest never runs it.

const ROOT = join(__dirname, '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ERROR_REF = '#/components/schemas/Error';
const STACK_LINE = /\n\s+at .+[(:]\d+/;

// Parsed JSON, navigated freely by the assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

type Server = BuiltServer;

const running: Server[] = [];

/** The built server, with nothing from the outer environment deciding storage or docs. */
async function startServer(env: Env = {}): Promise<Server> {
  const server = await startBuiltServer({
    NODE_ENV: 'development',
    DATABASE_URL: undefined,
    REDIS_URL: undefined,
    OPENAPI_ENABLED: undefined,
    AUTH_ROUTE_GROUPS: undefined,
    ADMIN_ROUTE_GROUP: undefined,
    SESSION_COOKIE_NAME: undefined,
    DATA_DIR: freshDataDir(),
    LOG_LEVEL: 'warn',
    ...env,
  });
  running.push(server);
  return server;
}

function productionEnv(): Env {
  const keyFile = join(freshDataDir(), 'jwt-key.pem');
  writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
  return { NODE_ENV: 'production', SESSION_SECRET: randomBytes(32).toString('hex'), JWT_PRIVATE_KEY_FILE: keyFile };
}

async function documentOf(server: Server): Promise<Json> {
  const res = await fetch(`${server.base}/docs-json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Json;
}

/** Follows a local `$ref` (`#/components/schemas/X`). */
function resolve(document: Json, schema: Json): Json {
  if (typeof schema.$ref !== 'string') return schema;
  return schema.$ref
    .slice(2)
    .split('/')
    .reduce((node: Json, key: string) => node[key], document);
}

function operations(document: Json): Array<{ path: string; method: string; operation: Json }> {
  return Object.entries(document.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json).map(([method, operation]) => ({ path, method, operation: operation as Json })),
  );
}

function successSchema(document: Json, operation: Json, status: string): Json {
  return resolve(document, operation.responses[status].content['application/json'].schema);
}

afterAll(async () => {
  for (const server of running) server.child.kill('SIGTERM');
  await Promise.all(running.map((server) => server.exited));
});

describe('OpenAPI document and Swagger UI (default configuration)', () => {
  let server: Server;
  let document: Json;

  beforeAll(async () => {
    server = await startServer();
    document = await documentOf(server);
  });

  it('serves Swagger UI at /docs, with its assets, without credentials', async () => {
    const page = await fetch(`${server.base}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('swagger-ui-bundle.js');
    for (const asset of ['swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'swagger-ui-init.js', 'swagger-ui.css']) {
      const res = await fetch(`${server.base}/docs/${asset}`);
      expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
      expect(res.headers.get('content-type')).toMatch(asset.endsWith('.css') ? /^text\/css/ : /javascript/);
    }
  });

  it('is an OpenAPI 3 document of every API route, without the HTML pages', () => {
    expect(document.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(document.info).toMatchObject({ title: 'AuthSwitch', version: expect.any(String) });
    const paths = Object.keys(document.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/web/auth/login',
        '/web/auth/logout',
        '/web/auth/csrf',
        '/web/me',
        '/api/auth/login',
        '/api/auth/refresh',
        '/api/auth/logout',
        '/api/me',
        '/auth/register',
        '/auth/logout-all',
        '/api/admin/users/{id}/roles',
        '/.well-known/jwks.json',
        '/health',
        '/health/ready',
      ]),
    );
    for (const page of ['/', '/login', '/register', '/logout', '/account']) expect(paths).not.toContain(page);
    const ids = operations(document).map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations(document).every(({ operation }) => typeof operation.summary === 'string')).toBe(true);

    const setRoles = document.paths['/api/admin/users/{id}/roles'].put;
    expect(setRoles.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'id', in: 'path', required: true })]));
    expect(resolve(document, setRoles.requestBody.content['application/json'].schema).properties.roles).toMatchObject({ type: 'array', maxItems: 20 });
  });

  it('describes the request bodies from the DTOs (the Swagger plugin ran) and their limits', () => {
    const login = resolve(document, document.paths['/web/auth/login'].post.requestBody.content['application/json'].schema);
    expect(login.properties).toMatchObject({ email: { type: 'string', maxLength: 320 }, password: { type: 'string', maxLength: 1024 } });
    expect(login.required).toEqual(expect.arrayContaining(['email', 'password']));
    expect(document.paths['/api/auth/login'].post.requestBody.content['application/json'].schema).toEqual(
      document.paths['/web/auth/login'].post.requestBody.content['application/json'].schema,
    );

    const register = resolve(document, document.paths['/auth/register'].post.requestBody.content['application/json'].schema);
    expect(register.properties).toMatchObject({
      email: { type: 'string', format: 'email', maxLength: 320 },
      password: { type: 'string', minLength: 8, maxLength: 256 },
      name: { type: 'string', maxLength: 100 },
    });
    expect(register.required).toEqual(expect.arrayContaining(['email', 'password']));
    expect(register.required).not.toContain('name');

    const refresh = resolve(document, document.paths['/api/auth/refresh'].post.requestBody.content['application/json'].schema);
    expect(refresh.properties.refresh_token).toMatchObject({ type: 'string', maxLength: 512 });

    // These fields carry no @ApiProperty: only the plugin documents them, with their comments.
    const schemas = document.components.schemas;
    expect(schemas.TokenPairResponse.properties.access_token).toMatchObject({ type: 'string', description: expect.stringContaining('Bearer') });
    expect(schemas.SessionLoginResponse.properties.user).toEqual({ $ref: '#/components/schemas/UserResponse' });
    expect(schemas.SessionLoginResponse.required).toEqual(expect.arrayContaining(['user', 'csrfToken']));
  });

  it('documents the success bodies, per strategy for login', () => {
    const sessionLogin = successSchema(document, document.paths['/web/auth/login'].post, '200');
    expect(Object.keys(sessionLogin.properties).sort()).toEqual(['csrfToken', 'user']);
    expect(resolve(document, sessionLogin.properties.user).properties).toHaveProperty('roles');

    const jwtLogin = successSchema(document, document.paths['/api/auth/login'].post, '200');
    expect(Object.keys(jwtLogin.properties).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
    expect(jwtLogin.properties.expires_in.type).toBe('integer');
    expect(successSchema(document, document.paths['/api/auth/refresh'].post, '200')).toEqual(jwtLogin);

    // A user (with emailVerified) or a machine client (client_id, scope).
    const me = successSchema(document, document.paths['/api/me'].get, '200').oneOf.map((schema: Json) => resolve(document, schema));
    expect(me.map((schema: Json) => Object.keys(schema.properties).sort())).toEqual([
      ['email', 'emailVerified', 'id', 'name', 'roles'],
      ['client_id', 'scope'],
    ]);
    expect(successSchema(document, document.paths['/auth/register'].post, '201').properties).toHaveProperty('id');
    expect(successSchema(document, document.paths['/.well-known/jwks.json'].get, '200').properties.keys.type).toBe('array');
    for (const path of ['/web/auth/logout', '/api/auth/logout', '/auth/logout-all']) {
      const noContent = document.paths[path].post.responses['204'];
      expect(noContent).toBeDefined();
      expect(noContent.content).toBeUndefined();
    }
  });

  it('has the cookie and bearer security schemes, applied per strategy; public routes need none', () => {
    expect(document.components.securitySchemes.cookie).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'authswitch.sid' });
    expect(document.components.securitySchemes.cookie.description).toContain('X-CSRF-Token');
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });

    expect(document.paths['/api/me'].get.security).toEqual([{ bearer: [] }]);
    expect(document.paths['/web/me'].get.security).toEqual([{ cookie: [] }]);
    expect(document.paths['/api/admin/users/{id}/roles'].put.security).toEqual([{ bearer: [] }]);
    expect(document.paths['/auth/logout-all'].post.security).toEqual(expect.arrayContaining([{ bearer: [] }, { cookie: [] }]));
    for (const [path, method] of [
      ['/web/auth/login', 'post'],
      ['/api/auth/login', 'post'],
      ['/api/auth/refresh', 'post'],
      ['/auth/register', 'post'],
      ['/.well-known/jwks.json', 'get'],
      ['/health', 'get'],
      ['/health/ready', 'get'],
    ]) {
      expect({ path, security: document.paths[path][method].security ?? [] }).toEqual({ path, security: [] });
    }
    // Unsafe session routes name the CSRF header and its 403.
    const logout = document.paths['/web/auth/logout'].post;
    expect(logout.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'X-CSRF-Token', in: 'header', required: true })]));
    expect(logout.responses).toHaveProperty('403');
    expect(document.paths['/api/auth/logout'].post.parameters ?? []).not.toEqual(expect.arrayContaining([expect.objectContaining({ name: 'X-CSRF-Token' })]));
    // The token endpoint: Basic, or the client's credentials in the body.
    expect(document.paths['/oauth/token'].post.security).toEqual(expect.arrayContaining([{ client_secret_basic: [] }, {}]));
    for (const { path, method, operation } of operations(document)) {
      for (const requirement of operation.security ?? []) {
        for (const scheme of Object.keys(requirement))
          expect({ path, method, scheme, defined: scheme in document.components.securitySchemes }).toEqual({ path, method, scheme, defined: true });
      }
    }
  });

  it('lists the 403 a client token gets on routes that do not accept clients, and none where clients are welcome', () => {
    for (const [path, method] of [
      ['/auth/sessions', 'get'],
      ['/auth/sessions/{id}', 'delete'],
      ['/api/auth/logout', 'post'],
      ['/auth/logout-all', 'post'],
      ['/auth/password/change', 'post'],
    ]) {
      const forbidden = document.paths[path][method].responses['403'];
      expect({ path, description: forbidden?.description }).toEqual({ path, description: expect.stringContaining('Client tokens are not accepted here') });
    }
    expect(document.paths['/api/me'].get.responses).not.toHaveProperty('403');
    // A session group sees no Bearer token: its 403 is about CSRF alone.
    expect(document.paths['/web/auth/logout'].post.responses['403'].description).not.toContain('client');
    const example = (path: string, method: string) => document.paths[path][method].responses['403'].content['application/json'].example.message;
    expect(example('/auth/sessions', 'get')).toBe('Client tokens are not accepted here');
    expect(example('/web/auth/logout', 'post')).toBe('Missing or invalid CSRF token');
    expect(example('/api/admin/users/{id}/roles', 'put')).toBe('Insufficient role');
  });

  it('answers errors in the shared Error schema: 401 on authenticated routes, and the special ones', () => {
    expect(document.components.schemas.Error).toMatchObject({
      type: 'object',
      required: expect.arrayContaining(['statusCode', 'error', 'message']),
      properties: {
        statusCode: { type: 'integer' },
        error: { type: 'string' },
        message: { type: 'string' },
        details: { type: 'array', items: { type: 'string' } },
      },
    });
    for (const { path, method, operation } of operations(document)) {
      if ((operation.security ?? []).length > 0) expect({ path, method, has401: '401' in operation.responses }).toEqual({ path, method, has401: true });
      if (operation.requestBody) expect({ path, method, has400: '400' in operation.responses }).toEqual({ path, method, has400: true });
      for (const [status, response] of Object.entries(operation.responses as Json)) {
        if (Number(status) < 400) continue;
        expect({ path, method, status, ref: (response as Json).content?.['application/json']?.schema?.$ref }).toEqual({ path, method, status, ref: ERROR_REF });
      }
    }
    expect(Object.keys(document.paths['/web/auth/login'].post.responses)).toEqual(expect.arrayContaining(['400', '401', '429', '503']));
    expect(Object.keys(document.paths['/auth/register'].post.responses)).toEqual(expect.arrayContaining(['400', '409', '429', '503']));
    expect(Object.keys(document.paths['/api/admin/users/{id}/roles'].put.responses)).toEqual(expect.arrayContaining(['400', '401', '403', '404', '503']));
    expect(document.paths['/health/ready'].get.responses).toHaveProperty('503');
  });

  it('answers odd requests under /docs in the JSON error shape, never with a stack trace', async () => {
    for (const path of ['/docs/nope', '/docs/LICENSE', '/docs/%E0%A4%A', '/docs/..%2f..%2fpackage.json', '/docs-json/x', '/docs-yaml']) {
      const res = await fetch(`${server.base}${path}`);
      const body = await res.text();
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(JSON.parse(body)).toMatchObject({ statusCode: 404, error: 'Not Found', message: expect.any(String) });
      expect(body).not.toMatch(STACK_LINE);
      expect(body).not.toContain(ROOT);
    }
    const post = await fetch(`${server.base}/docs-json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(post.status).toBeGreaterThanOrEqual(400);
    expect(await post.text()).not.toMatch(STACK_LINE);
    expect(server.output()).not.toMatch(STACK_LINE);
  });

  it('renders in headless Chromium under the server CSP, with no errors', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('console', (message) => ['error', 'warning'].includes(message.type()) && problems.push(message.text()));
      page.on('requestfailed', (request) => problems.push(`${request.url()}: ${request.failure()?.errorText}`));
      const res = await page.goto(`${server.base}/docs`);
      expect(res?.status()).toBe(200);
      await page.locator('.opblock').first().waitFor({ timeout: 15_000 });
      expect(await page.locator('.opblock').count()).toBe(operations(document).length);
      expect(await page.locator('.info .title').textContent()).toContain('AuthSwitch');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

describe('OpenAPI document with an `any` group', () => {
  it('answers login with both a session and a token pair, and accepts either credential', async () => {
    const server = await startServer({ AUTH_ROUTE_GROUPS: 'web=session,api=any' });
    const document = await documentOf(server);
    const login = successSchema(document, document.paths['/api/auth/login'].post, '200');
    expect(Object.keys(login.properties).sort()).toEqual(['access_token', 'csrfToken', 'expires_in', 'refresh_token', 'token_type', 'user']);
    expect(document.paths['/api/auth/login'].post.security ?? []).toEqual([]);
    expect(document.paths['/api/me'].get.security).toEqual(expect.arrayContaining([{ bearer: [] }, { cookie: [] }]));
    expect(document.paths['/api/me'].get.security).toHaveLength(2);
    // Unsafe routes: the CSRF header, needed only with the cookie.
    const logout = document.paths['/api/auth/logout'].post;
    expect(logout.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'X-CSRF-Token', in: 'header', required: false })]));
    expect(document.paths).toHaveProperty(['/api/auth/csrf']);
  });
});

describe('OpenAPI off', () => {
  async function expectNoDocs(server: Server): Promise<void> {
    for (const path of ['/docs-json', '/docs']) {
      const res = await fetch(`${server.base}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(await res.json()).toMatchObject({ statusCode: 404, error: 'Not Found' });
    }
  }

  it('with OPENAPI_ENABLED=false', async () => {
    await expectNoDocs(await startServer({ OPENAPI_ENABLED: 'false' }));
  });

  it('in production by default, unless OPENAPI_ENABLED=true', async () => {
    const env = productionEnv();
    await expectNoDocs(await startServer(env));
    const enabled = await startServer({ ...env, OPENAPI_ENABLED: 'true' });
    expect((await fetch(`${enabled.base}/docs-json`)).status).toBe(200);
  });
});

/*
 * The document against the routes themselves: every documented operation is called without a
 * credential and with a machine client's token, and whatever 401 or 403 it answers must be in
 * its documented responses. The guard and the document read one access policy; this is what
 * would catch them drifting apart again.
 */
describe.each(['web=session,api=jwt', 'web=session,api=any,ops=jwt'])('every documented operation answers as documented (AUTH_ROUTE_GROUPS=%s)', (groups) => {
  it('401 and 403 only where documented; public operations never 401, secured ones 401 without credentials', async () => {
    const app = await startApp('sqlite', { AUTH_ROUTE_GROUPS: groups, CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS: '10000' });
    try {
      const document = (await app.http().get('/docs-json').expect(200)).body as Json;
      const { clientId, secret } = await app.app.get(ClientsService).create({ name: 'Probe', scopes: ['probe:read'] });
      const token = await app.http().post('/oauth/token').send({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }).expect(200);
      const credentials: Array<[string, Record<string, string>]> = [
        ['none', {}],
        ['client token', { Authorization: `Bearer ${token.body.access_token}` }],
      ];

      const problems: string[] = [];
      const probed = operations(document);
      expect(probed.length).toBeGreaterThan(20);
      for (const { path, method, operation } of probed) {
        const url = path.replace(/\{[^}]+\}/g, () => randomUUID());
        const security = (operation.security ?? document.security ?? []) as Json[];
        const isPublic = security.length === 0;
        // `{}` among the alternatives: credentials are optional (the token endpoint's may come in the body).
        const required = !isPublic && !security.some((requirement) => Object.keys(requirement).length === 0);
        for (const [credential, headers] of credentials) {
          let call = (app.http() as unknown as Record<string, (url: string) => ReturnType<ReturnType<typeof app.http>['get']>>)[method](url).set(headers);
          if (!['get', 'head', 'options'].includes(method)) call = call.send({});
          const { status } = await call;
          const where = `${method.toUpperCase()} ${path} with ${credential}: ${status}`;
          if (status >= 500) problems.push(`${where}, a server error`);
          if ((status === 401 || status === 403) && !(String(status) in operation.responses)) problems.push(`${where}, not documented`);
          if (credential === 'none' && isPublic && status === 401) problems.push(`${where}, but documented as public`);
          if (credential === 'none' && required && status !== 401) problems.push(`${where}, but documented as needing credentials`);
        }
      }
      expect(problems).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
