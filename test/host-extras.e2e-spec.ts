import { ConsoleLogger, Controller, DynamicModule, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import request from 'supertest';
import { decode } from 'jsonwebtoken';
import type { MigrationInterface, Repository } from 'typeorm';
import {
  applyAuthSwitchBodyParsers,
  AUTH_SWITCH_MIGRATIONS,
  AUTH_SWITCH_OPTIONS,
  AuthSwitchModule,
  AuthSwitchSettings,
  CurrentUser,
  JwtStrategy,
  PagesModule,
  RouteGroup,
  runOperatorCommand,
  UserPrincipal,
  UsersService,
} from '../src';
import { CreateProfiles1900000000001, Profile } from './host-app/profile.entity';
import { freshDataDir } from './support/environments';
import { eventually } from './support/waiting';

/**
 * What a host gets from the package when it asks, with nothing of this repository's server:
 * no configureApp(), no environment parsing, Nest's own body parsers. The host is a plain Nest
 * application over its own SQLite file.
 */

@Controller('api/notes')
@RouteGroup('api')
class NotesController {
  @Get()
  list(@CurrentUser('id') owner: string) {
    return { owner };
  }
}

/** The host's own DataSource: a SQLite file, AuthSwitch's migrations and any of the host's. */
function hostDatabase(dataDir: string, ownMigrations: Array<new () => MigrationInterface> = []): DynamicModule {
  return TypeOrmModule.forRoot({
    type: 'better-sqlite3',
    database: join(dataDir, 'host.sqlite'),
    autoLoadEntities: true,
    migrations: [...AUTH_SWITCH_MIGRATIONS, ...ownMigrations],
    migrationsRun: true,
    // A module that fails to start (the production checks) must not leave TypeORM retrying.
    retryAttempts: 0,
  });
}

function hostModule(dataDir: string, settings: AuthSwitchSettings = {}, withPages = true): DynamicModule {
  @Module({
    imports: [hostDatabase(dataDir), AuthSwitchModule.forRoot({ dataDir, ...settings }), ...(withPages ? [PagesModule] : [])],
    controllers: [NotesController],
  })
  class HostModule {}
  return { module: HostModule };
}

/** Collects what the host's logger is told, to read AuthSwitch's start-up warnings. */
class RecordingLogger extends ConsoleLogger {
  readonly warnings: string[] = [];
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
  log(): void {}
}

async function startHost(dataDir: string, settings: AuthSwitchSettings = {}) {
  const logger = new RecordingLogger();
  const app = await NestFactory.create<NestExpressApplication>(hostModule(dataDir, settings), { logger, abortOnError: false });
  await app.init();
  return { app, logger, http: () => request(app.getHttpServer() as Server) };
}

function strongSecret(): string {
  return randomBytes(48).toString('base64');
}

function keyFile(dataDir: string): string {
  const file = join(dataDir, 'host-signing-key.pem');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return file;
}

describe('a host gets what it asks for', () => {
  const dataDir = freshDataDir();
  let host: Awaited<ReturnType<typeof startHost>>;
  beforeAll(async () => {
    host = await startHost(dataDir);
  });
  afterAll(() => host.app.close());

  it('serves the pages from PagesModule: register by form, land on /account signed in', async () => {
    const form = await host.http().get('/register').expect(200);
    expect(form.text).toContain('name="email"');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)?.[1];
    const formCookie = form.headers['set-cookie'] as unknown as string[] | undefined;
    const email = `page-${randomBytes(4).toString('hex')}@host.test`;
    const posted = host
      .http()
      .post('/register')
      .type('form')
      .send({ email, password: 'page password 123', name: 'Page', ...(csrf ? { _csrf: csrf } : {}) });
    if (formCookie)
      posted.set(
        'Cookie',
        formCookie.map((c) => c.split(';')[0]),
      );
    const registered = await posted.expect(303);
    expect(registered.headers.location).toBe('/account');
    const cookies = (registered.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]);
    const account = await host.http().get('/account').set('Cookie', cookies).expect(200);
    expect(account.text).toContain(email);
  });

  it("runs the operator commands against the host's own database", async () => {
    const email = `operator-${randomBytes(4).toString('hex')}@host.test`;
    const open = () => NestFactory.createApplicationContext(hostModule(dataDir, {}, false), { logger: false });
    const printed: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((line: unknown) => void printed.push(String(line)));
    try {
      expect(await runOperatorCommand(['users:create', '--email', email, '--password', 'operator password 1', '--roles', 'admin,user'], open)).toBe(0);
      expect(await runOperatorCommand(['clients:create', '--name', 'reporting', '--scopes', 'notes:read'], open)).toBe(0);
    } finally {
      log.mockRestore();
    }
    const [userId, clientJson] = printed;
    const login = await host.http().post('/api/auth/login').send({ email, password: 'operator password 1' }).expect(200);
    const me = await host.http().get('/api/me').set('Authorization', `Bearer ${login.body.access_token}`).expect(200);
    expect(me.body).toMatchObject({ id: userId, email, roles: ['admin', 'user'] });
    const client = JSON.parse(clientJson) as { client_id: string; client_secret: string };
    await host
      .http()
      .post('/oauth/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret })
      .expect(200);
    // Bad arguments are refused before the host's application is opened.
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const mustNotOpen = () => Promise.reject(new Error('must not open'));
      expect(await runOperatorCommand(['users:create', '--email', 'not-an-email', '--password', 'x'], mustNotOpen)).toBe(2);
      // An unknown option is a usage error too (exit 2), not a rejected promise.
      expect(await runOperatorCommand(['users:create', '--emial', 'typo@host.test'], mustNotOpen)).toBe(2);
    } finally {
      error.mockRestore();
    }
  });

  it('mails links on the address the host listens on, when it sets no publicUrl', async () => {
    const listening = await startHost(freshDataDir());
    try {
      await listening.app.listen(0, '127.0.0.1');
      const { port } = (listening.app.getHttpServer() as Server).address() as AddressInfo;
      const mailDir = join(listening.app.get<{ mail: { dir: string } }>(AUTH_SWITCH_OPTIONS).mail.dir);
      await request(`http://127.0.0.1:${port}`)
        .post('/auth/register')
        .send({ email: `linked-${randomBytes(4).toString('hex')}@host.test`, password: 'linked password 1' })
        .expect(201);
      let mail = '';
      await eventually(async () => {
        const files = existsSync(mailDir) ? readdirSync(mailDir).filter((name) => name.endsWith('.eml')) : [];
        mail = files.length > 0 ? readFileSync(join(mailDir, files[0]), 'utf8') : '';
        return mail.length > 0;
      });
      expect(mail.replace(/=\r?\n/g, '')).toContain(`http://127.0.0.1:${port}/verify-email?token=3D`);
    } finally {
      await listening.app.close();
    }
  });

  it('authenticates a token held outside a request with the checks a request gets, revocation included', async () => {
    const email = `socket-${randomBytes(4).toString('hex')}@host.test`;
    await host.http().post('/auth/register').send({ email, password: 'socket password 1' }).expect(201);
    const login = await host.http().post('/api/auth/login').send({ email, password: 'socket password 1' }).expect(200);
    const token = login.body.access_token as string;
    const strategy = host.app.get(JwtStrategy);
    await expect(strategy.principalForToken(token, 'api')).resolves.toMatchObject({ email, via: 'jwt' });
    await expect(strategy.principalForToken(token, 'web')).rejects.toMatchObject({ code: 'TOKEN_OF_ANOTHER_GROUP' });
    await expect(strategy.principalForToken(`${token}x`)).rejects.toMatchObject({ code: 'INVALID_ACCESS_TOKEN' });
    await host.http().post('/api/auth/logout').set('Authorization', `Bearer ${token}`).expect(204);
    await expect(strategy.principalForToken(token)).rejects.toMatchObject({ code: 'TOKEN_REVOKED' });
  });

  it("answers deep or non-Unicode JSON with 400 on Nest's default body parser too, never a 500", async () => {
    let deep = '"x"';
    for (let i = 0; i < 3000; i++) deep = `{"a":${deep}}`;
    await host
      .http()
      .post('/api/auth/login')
      .set('Content-Type', 'application/json')
      .send(`{"email":"a@x.test","password":"long enough 1","x":${deep}}`)
      .expect(400);
    await host.http().post('/api/auth/login').set('Content-Type', 'application/json').send('{"email":"\\ud800@x.test","password":"long enough 1"}').expect(400);
  });

  it('protects the host routes of a group with that group’s strategy', async () => {
    await host.http().get('/api/notes').expect(401);
  });
});

describe("a host that takes AuthSwitch's body parsers", () => {
  it('refuses deep and non-Unicode JSON with 400 in the error shape, and answers /oauth/token in RFC 6749 shape', async () => {
    const app = await NestFactory.create<NestExpressApplication>(hostModule(freshDataDir()), { logger: false, abortOnError: false, bodyParser: false });
    applyAuthSwitchBodyParsers(app);
    await app.init();
    try {
      const http = () => request(app.getHttpServer() as Server);
      const deep = '['.repeat(5000) + ']'.repeat(5000);
      const refused = await http().post('/auth/register').set('Content-Type', 'application/json').send(deep).expect(400);
      expect(refused.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      await http().post('/auth/register').set('Content-Type', 'application/json').send('{"email":"\\ud800@x.test","password":"long enough 1"}').expect(400);
      const token = await http().post('/oauth/token').set('Content-Type', 'application/json').send('{').expect(400);
      expect(token.body).toMatchObject({ error: 'invalid_request' });
    } finally {
      await app.close();
    }
  });
});

describe('production checks in a host (NODE_ENV=production)', () => {
  const previous = process.env.NODE_ENV;
  beforeEach(() => {
    process.env.NODE_ENV = 'production';
  });
  afterEach(() => {
    process.env.NODE_ENV = previous;
  });

  it('refuses a guessable session secret handed to the module, naming the module option', async () => {
    const dataDir = freshDataDir();
    await expect(
      NestFactory.create(hostModule(dataDir, { session: { secret: 'a'.repeat(40) }, jwt: { privateKeyFile: keyFile(dataDir) } }), {
        logger: false,
        abortOnError: false,
      }),
    ).rejects.toThrow(/AuthSwitchModule option session\.secret: looks guessable/);
  });

  it('refuses a missing signing key, naming the module option', async () => {
    const dataDir = freshDataDir();
    await expect(NestFactory.create(hostModule(dataDir, { session: { secret: strongSecret() } }), { logger: false, abortOnError: false })).rejects.toThrow(
      /AuthSwitchModule option jwt\.privateKeyFile: is required in production/,
    );
  });

  it('warns when session cookies are Secure but the host trusts no TLS proxy', async () => {
    const dataDir = freshDataDir();
    const host = await startHost(dataDir, { session: { secret: strongSecret() }, jwt: { privateKeyFile: keyFile(dataDir) } });
    try {
      expect(host.logger.warnings.some((warning) => warning.includes('Session cookies are Secure but no proxy is trusted'))).toBe(true);
    } finally {
      await host.app.close();
    }
  });
});

/** A route that reads the host's extra claims from the credential (no database read). */
@Controller(':group/plan')
class PlanController {
  @Get()
  plan(@CurrentUser() user: UserPrincipal) {
    return { plan: user.claims?.plan ?? null };
  }
}

/** Makes the host's claims option fail, as a host whose own store is down would. */
const profileStore = { down: false };

/** The host keeps extra user fields in its own table and copies `plan` into every credential. */
function hostWithProfiles(dataDir: string): DynamicModule {
  @Module({
    imports: [
      hostDatabase(dataDir, [CreateProfiles1900000000001]),
      TypeOrmModule.forFeature([Profile]),
      AuthSwitchModule.forRootAsync({
        imports: [TypeOrmModule.forFeature([Profile])],
        inject: [getRepositoryToken(Profile)],
        useFactory: (profiles: Repository<Profile>) => ({
          dataDir,
          // Runs at sign-in and at each refresh, never per request.
          claims: async (user) => {
            if (profileStore.down) throw new Error('profile store unreachable');
            return { plan: (await profiles.findOneBy({ userId: user.id }))?.plan ?? 'free' };
          },
        }),
      }),
    ],
    controllers: [PlanController],
  })
  class ProfilesHostModule {}
  return { module: ProfilesHostModule };
}

describe('extra user fields and claims without forking', () => {
  let app: NestExpressApplication;
  let profiles: Repository<Profile>;
  const http = () => request(app.getHttpServer() as Server);
  beforeAll(async () => {
    app = await NestFactory.create<NestExpressApplication>(hostWithProfiles(freshDataDir()), { logger: false, abortOnError: false });
    await app.init();
    profiles = app.get(getRepositoryToken(Profile));
  });
  afterAll(() => app.close());

  it("carries the host's claims in the token and the session; they change at the next refresh or sign-in", async () => {
    const email = `claims-${randomBytes(4).toString('hex')}@host.test`;
    const password = 'claims password 123';
    const { id } = await app.get(UsersService).create({ email, password });
    await profiles.insert({ userId: id, plan: 'pro' });

    const login = await http().post('/api/auth/login').send({ email, password }).expect(200);
    expect((decode(login.body.access_token) as { ext?: unknown }).ext).toEqual({ plan: 'pro' });
    const bearer = `Bearer ${login.body.access_token}`;
    await http().get('/api/plan').set('Authorization', bearer).expect(200, { plan: 'pro' });

    // The profile changes: requests with this token still read the token, not the table.
    await profiles.update({ userId: id }, { plan: 'team' });
    await http().get('/api/plan').set('Authorization', bearer).expect(200, { plan: 'pro' });
    // A refresh reads the claims afresh, like the roles.
    const refreshed = await http().post('/api/auth/refresh').send({ refresh_token: login.body.refresh_token }).expect(200);
    await http().get('/api/plan').set('Authorization', `Bearer ${refreshed.body.access_token}`).expect(200, { plan: 'team' });

    // A session carries them too.
    const web = await http().post('/web/auth/login').send({ email, password }).expect(200);
    const cookie = (web.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]);
    await http().get('/web/plan').set('Cookie', cookie).expect(200, { plan: 'team' });
  });

  it('keeps refresh single-use with a claims option: of parallel presentations one wins, and the reuse revokes the family', async () => {
    const email = `claims-race-${randomBytes(4).toString('hex')}@host.test`;
    const password = 'claims password 123';
    await app.get(UsersService).create({ email, password });
    const login = await http().post('/api/auth/login').send({ email, password }).expect(200);
    const answers = await Promise.all(Array.from({ length: 8 }, () => http().post('/api/auth/refresh').send({ refresh_token: login.body.refresh_token })));
    const winners = answers.filter((res) => res.status === 200);
    expect(winners).toHaveLength(1);
    expect(answers.every((res) => res.status === 200 || res.status === 401)).toBe(true);
    // The losers were reuses: the family is revoked, so the winner's pair is dead too.
    await http().post('/api/auth/refresh').send({ refresh_token: winners[0].body.refresh_token }).expect(401);
  });

  it('answers 503 when the claims option fails, and spends or creates nothing: the same refresh token works afterwards', async () => {
    const email = `claims-down-${randomBytes(4).toString('hex')}@host.test`;
    const password = 'claims password 123';
    await app.get(UsersService).create({ email, password });
    const login = await http().post('/api/auth/login').send({ email, password }).expect(200);
    profileStore.down = true;
    try {
      const refused = await http().post('/api/auth/refresh').send({ refresh_token: login.body.refresh_token }).expect(503);
      expect(refused.body).toMatchObject({ statusCode: 503, message: 'Sign-in details are unavailable; try again shortly' });
      const noSession = await http().post('/web/auth/login').send({ email, password }).expect(503);
      expect(noSession.headers['set-cookie']).toBeUndefined();
    } finally {
      profileStore.down = false;
    }
    // Not a reuse: the token was never spent, so its family lives and the retry gets a pair.
    const retried = await http().post('/api/auth/refresh').send({ refresh_token: login.body.refresh_token }).expect(200);
    await http().get('/api/plan').set('Authorization', `Bearer ${retried.body.access_token}`).expect(200, { plan: 'free' });
  });
});
