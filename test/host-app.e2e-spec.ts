import { Test } from '@nestjs/testing';
import { JwtService } from '@nestjs/jwt';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { Server } from 'node:http';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { configureApp } from '../src/server/app.setup';
import { applyAuthSwitchSecurity, UsersService } from '../src';
import { AppConfigModule } from '../src/server/config.module';
import { loadConfig } from '../src/server/app-config';
import { ApiKeyStrategy, hostModule, HostOptions } from './host-app/host.module';
import { freshDataDir, TEST_LOG_LEVEL } from './support/environments';
import { cookiePair, sessionCookie } from './support/contract-suite';
import { createTestApplication, uniqueEmail } from './support/test-app';
import { ClientsService } from '../src/clients/clients.service';

/** Boots the host application (not the AuthSwitch server) on a SQLite file of its own. */
async function startHost(options: Omit<HostOptions, 'dataDir'>) {
  const dataDir = freshDataDir();
  // configureApp reads the server's settings (body limit, proxy); the host keeps the defaults.
  const settings = loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'test', LOG_LEVEL: TEST_LOG_LEVEL });
  const serverSettings = AppConfigModule.forRoot(settings);
  const app = await createTestApplication(Test.createTestingModule({ imports: [hostModule({ ...options, dataDir }), serverSettings] }), settings.logLevel);
  configureApp(app);
  await app.init();
  const server = app.getHttpServer() as Server;
  const users = app.get(UsersService);
  return {
    app,
    http: () => request(server),
    async user(roles = ['user']) {
      const email = uniqueEmail('host');
      const password = 'host password 123';
      const { id } = await users.create({ email, password, roles });
      return { id, email, password };
    },
  };
}

/** A machine client of the host and a token for it. */
async function clientToken(host: Awaited<ReturnType<typeof startHost>>, scopes: string[]): Promise<string> {
  const { clientId, secret } = await host.app.get(ClientsService).create({ name: 'Reporter', scopes });
  const res = await host.http().post('/oauth/token').send({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }).expect(200);
  return `Bearer ${res.body.access_token}`;
}

/** The host's own Swagger document, as a host makes it, then AuthSwitch's helper. */
function hostDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('Host').build());
  return applyAuthSwitchSecurity(document, app);
}

/** Every scheme an operation's security names, with where it is named. */
function referencedSchemes(document: OpenAPIObject): Array<{ where: string; scheme: string }> {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).flatMap(([method, operation]) =>
      ((operation as { security?: Array<Record<string, string[]>> }).security ?? []).flatMap((requirement) =>
        Object.keys(requirement).map((scheme) => ({ where: `${method} ${path}`, scheme })),
      ),
    ),
  );
}

describe('a host application importing AuthSwitchModule', () => {
  describe('with the global guard', () => {
    let host: Awaited<ReturnType<typeof startHost>>;
    beforeAll(async () => {
      host = await startHost({ globalGuard: true });
    });
    afterAll(() => host.app.close());

    async function apiLogin(group = 'api') {
      const user = await host.user();
      const res = await host.http().post(`/${group}/auth/login`).send({ email: user.email, password: user.password }).expect(200);
      return { user, token: res.body.access_token as string, refresh: res.body.refresh_token as string };
    }

    it("keeps the host's DataSource: its own entity and migration live next to AuthSwitch's tables", async () => {
      const dataSource = host.app.get(DataSource);
      const tables = dataSource.entityMetadatas.map((entity) => entity.tableName).sort();
      expect(tables).toEqual([
        'audit_events',
        'client_assertions',
        'clients',
        'known_devices',
        'one_time_tokens',
        'projects',
        'refresh_families',
        'refresh_tokens',
        'revocations',
        'sessions',
        'users',
      ]);
      const { token, user } = await apiLogin();
      const created = await host.http().post('/api/projects').set('Authorization', `Bearer ${token}`).send({ name: 'Apollo' }).expect(201);
      expect(created.body).toMatchObject({ name: 'Apollo', ownerId: user.id });
      const listed = await host.http().get('/api/projects').set('Authorization', `Bearer ${token}`).expect(200);
      expect(listed.body).toEqual([created.body]);
    });

    it('protects host routes with the group strategy and @Roles', async () => {
      await host.http().get('/api/projects').expect(401);
      const { token } = await apiLogin();
      await host.http().get('/api/projects/admin').set('Authorization', `Bearer ${token}`).expect(403);
    });

    it('lets @Roles govern users and @Scopes machine clients: a route accepts users, clients, or both', async () => {
      const tokenFor = (scopes: string[]) => clientToken(host, scopes);
      const reader = await tokenFor(['reports:read']);
      const reportsAdmin = await tokenFor(['reports:admin']);
      const user = `Bearer ${(await apiLogin()).token}`;
      const admin = await host.user(['admin']);
      const adminLogin = await host.http().post('/api/auth/login').send({ email: admin.email, password: admin.password }).expect(200);
      const adminUser = `Bearer ${adminLogin.body.access_token}`;
      const get = (path: string, auth: string) => host.http().get(path).set('Authorization', auth);

      expect((await get('/api/reports', reader).expect(200)).body.for).toMatch(/^client_/);
      expect((await get('/api/reports', reportsAdmin).expect(403)).body.message).toBe('Insufficient scope');
      await get('/api/reports', user).expect(403);
      expect((await get('/api/reports/admin', reportsAdmin).expect(200)).body).toEqual({ kind: 'client' });
      expect((await get('/api/reports/admin', adminUser).expect(200)).body).toEqual({ kind: 'user' });
      await get('/api/reports/admin', reader).expect(403);
      await get('/api/reports/admin', user).expect(403);
      await get('/api/reports/mine', user).expect(200);
      await get('/api/reports/mine', reader).expect(403);
      expect((await get('/api/reports/status', reader).expect(200)).body).toEqual({ kind: 'client' });
      expect((await get('/api/reports/status', user).expect(200)).body).toEqual({ kind: 'user' });
      // A role-only host route is closed to clients.
      await get('/api/projects/admin', reportsAdmin).expect(403);
    });

    it('answers a client token with 403 on a host route that does not say it accepts clients', async () => {
      const reader = await clientToken(host, ['reports:read']);
      const refused = await host.http().get('/api/projects').set('Authorization', reader).expect(403);
      expect(refused.body).toEqual({ statusCode: 403, error: 'Forbidden', message: 'Client tokens are not accepted here' });
      await host.http().post('/api/projects/ticket').set('Authorization', reader).expect(403);
      // AuthSwitch's own account routes too; /api/me tells a client who it is.
      await host.http().get('/auth/sessions').set('Authorization', reader).expect(403);
      expect((await host.http().get('/api/me').set('Authorization', reader).expect(200)).body).toMatchObject({ client_id: expect.stringMatching(/^client_/) });
    });

    it("gives the host's Swagger document AuthSwitch's true security, from the guard's policy, with every scheme defined", () => {
      const document = hostDocument(host.app);
      const paths = document.paths;
      // AuthSwitch's public routes are open, its authenticated ones take their group's credential.
      for (const [path, method] of [
        ['/api/auth/login', 'post'],
        ['/web/auth/login', 'post'],
        ['/auth/register', 'post'],
        ['/.well-known/jwks.json', 'get'],
        ['/partners/me', 'get'],
      ] as const) {
        expect({ path, security: paths[path][method]?.security ?? [] }).toEqual({ path, security: [] });
      }
      expect(paths['/api/me'].get?.security).toEqual([{ bearer: [] }]);
      expect(paths['/web/me'].get?.security).toEqual([{ cookie: [] }]);
      // The host's grouped routes: the group's credential, and who may call them.
      const projects = paths['/api/projects'].get!;
      expect(projects.security).toEqual([{ bearer: [] }]);
      expect(Object.keys(projects.responses)).toEqual(expect.arrayContaining(['401', '403']));
      expect((projects.responses['403'] as { description: string }).description).toContain('Client tokens are not accepted here');
      expect(paths['/api/reports'].get?.security).toEqual([{ bearer: [] }]);
      expect((paths['/api/reports'].get!.responses['403'] as { description: string }).description).toMatch(/scope/);
      // A route open to any client: nobody gets 403.
      expect(paths['/api/reports/status'].get?.security).toEqual([{ bearer: [] }]);
      expect(paths['/api/reports/status'].get!.responses).toHaveProperty('401');
      expect(paths['/api/reports/status'].get!.responses).not.toHaveProperty('403');
      // A group on the host's own strategy: no scheme AuthSwitch could name, but a 401 and a word.
      expect(paths['/partner/feed'].get?.security ?? []).toEqual([]);
      expect(paths['/partner/feed'].get?.description).toContain('"api-key"');
      expect(paths['/partner/feed'].get!.responses).toHaveProperty('401');
      // The token endpoint: Basic or the body.
      expect(paths['/oauth/token'].post?.security).toEqual(expect.arrayContaining([{ client_secret_basic: [] }, {}]));
      const schemes = document.components?.securitySchemes ?? {};
      expect(schemes.cookie).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'authswitch.sid' });
      expect(referencedSchemes(document).filter(({ scheme }) => !(scheme in schemes))).toEqual([]);
      expect(document.components?.schemas).toHaveProperty('Error');
    });

    it('no built-in route shadows a feature route: /partners/me is the host controller', async () => {
      const res = await host.http().get('/partners/me').expect(200);
      expect(res.body).toEqual({ partners: 'yes' });
    });

    it("authenticates a group with the host's own Passport strategy (partner=api-key)", async () => {
      await host.http().get('/partner/feed').expect(401);
      await host.http().get('/partner/feed').set('X-Api-Key', 'wrong').expect(401);
      const res = await host.http().get('/partner/feed').set('X-Api-Key', ApiKeyStrategy.KEY).expect(200);
      expect(res.body).toEqual({ for: 'partner-acme', via: 'api-key' });
      // A group on a strategy of its own has no password login.
      await host.http().post('/partner/auth/login').send({ email: 'a@b.test', password: 'whatever1' }).expect(404);
    });

    it('binds a token to its group: an api token is no key to another group', async () => {
      const { token } = await apiLogin();
      await host.http().get('/api/me').set('Authorization', `Bearer ${token}`).expect(200);
      await host.http().get('/partner/feed').set('Authorization', `Bearer ${token}`).expect(401);
      // Group-less routes (/auth/...) accept the tokens of every group.
      await host.http().post('/auth/logout-all').set('Authorization', `Bearer ${token}`).expect(204);
    });

    it('injects JwtService configured with the key ring (the signing key, iss and aud)', async () => {
      const { token } = await apiLogin();
      const res = await host.http().post('/api/projects/ticket').set('Authorization', `Bearer ${token}`).expect(201);
      const claims = host.app.get(JwtService).verify(res.body.ticket);
      expect(claims).toMatchObject({ purpose: 'ticket', iss: 'host-app', aud: 'authswitch-api' });
      // Signed by the same key for the same audience, but not an access token (typ JWT, not at+jwt).
      await host.http().get('/api/me').set('Authorization', `Bearer ${res.body.ticket}`).expect(401);
      const lookalike = host.app.get(JwtService).sign({ sub: 'x', jti: 'y', email: 'e@x.test', name: 'n', roles: ['admin'], ver: 99, grp: 'api' });
      await host.http().get('/api/me').set('Authorization', `Bearer ${lookalike}`).expect(401);
      await host.http().post('/auth/logout-all').set('Authorization', `Bearer ${lookalike}`).expect(401);
    });

    it('validates AuthSwitch bodies and answers in its error shape without a global pipe or filter in the host', async () => {
      const res = await host.http().post('/api/auth/login').send({ email: 42 }).expect(400);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'Validation failed',
        details: ['email must be a string', 'password is required'],
      });
    });
  });

  describe('without the global guard (globalGuard: false)', () => {
    let host: Awaited<ReturnType<typeof startHost>>;
    beforeAll(async () => {
      host = await startHost({ globalGuard: false });
    });
    afterAll(() => host.app.close());

    it("leaves the host's routes alone", async () => {
      await host.http().get('/guarded/open').expect(200, { open: true });
    });

    it("keeps a client token from a user's route behind AuthGuard('jwt'): @CurrentUser() is never a client there", async () => {
      const reader = await clientToken(host, ['reports:read']);
      const res = await host.http().get('/guarded/jwt').set('Authorization', reader).expect(403);
      expect(res.body.message).toBe('Client tokens are not accepted here');
    });

    it("documents only the routes RouteGroupGuard guards: AuthSwitch's own, not the host's unguarded ones", () => {
      const document = hostDocument(host.app);
      expect(document.paths['/api/me'].get?.security).toEqual([{ bearer: [] }]);
      expect(document.paths['/api/auth/login'].post?.security ?? []).toEqual([]);
      expect(document.paths['/guarded/open'].get?.responses).not.toHaveProperty('401');
      expect(document.paths['/api/projects'].get?.security ?? []).toEqual([]);
    });

    it("AuthGuard('jwt') runs passport-jwt with the same checks: signature, then revocation", async () => {
      await host.http().get('/guarded/jwt').expect(401);
      await host.http().get('/guarded/jwt').set('Authorization', 'Bearer not.a.token').expect(401);
      const user = await host.user();
      const login = await host.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const bearer = `Bearer ${login.body.access_token}`;
      await host.http().get('/guarded/jwt').set('Authorization', bearer).expect(200, { id: user.id, via: 'jwt' });
      // The built-in group routes keep their guard even when it is not global.
      await host.http().post('/api/auth/logout').set('Authorization', bearer).send({}).expect(204);
      await host.http().get('/guarded/jwt').set('Authorization', bearer).expect(401);
    });

    it("AuthGuard('session') reads the session and requires the CSRF token on unsafe methods", async () => {
      const user = await host.user();
      const login = await host.http().post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const cookie = cookiePair(sessionCookie(login));
      await host.http().post('/guarded/session').expect(401);
      await host.http().post('/guarded/session').set('Cookie', cookie).expect(403);
      await host.http().post('/guarded/session').set('Cookie', cookie).set('X-CSRF-Token', login.body.csrfToken).expect(201, { id: user.id, via: 'session' });
    });
  });

  it('keeps two applications in one process apart: each runs its own strategies, keys and revocations', async () => {
    const first = await startHost({ globalGuard: true });
    const second = await startHost({ globalGuard: true });
    try {
      const user = await first.user();
      const login = await first.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const bearer = `Bearer ${login.body.access_token}`;
      // Built second, the other app registered its strategies last; the first still uses its own.
      await first.http().get('/api/me').set('Authorization', bearer).expect(200);
      await second.http().get('/api/me').set('Authorization', bearer).expect(401);
      const session = await first.http().post('/web/auth/login').send({ email: user.email, password: user.password }).expect(200);
      await first
        .http()
        .get('/web/me')
        .set('Cookie', cookiePair(sessionCookie(session)))
        .expect(200);
      await first.http().post('/api/auth/logout').set('Authorization', bearer).send({}).expect(204);
      await first.http().get('/api/me').set('Authorization', bearer).expect(401);
    } finally {
      await first.app.close();
      await second.app.close();
    }
  });

  it('refuses to start when a group names a Passport strategy nobody registered', async () => {
    await expect(startHost({ globalGuard: true, routeGroups: 'web=session,partner=api-keys' })).rejects.toThrow(
      /^AUTH_ROUTE_GROUPS: group "partner" uses strategy "api-keys", which is not a registered Passport strategy/,
    );
  });
});
