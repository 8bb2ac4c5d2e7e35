import { ConsoleLogger } from '@nestjs/common';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Server } from 'node:http';
import request from 'supertest';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/server/app.setup';
import { loggerLevels } from '../../src/server/logger-levels';
import { AppConfig, loadConfig, RawEnv } from '../../src/server/app-config';
import { APP_CONFIG } from '../../src/server/config.module';
import { UsersService } from '../../src/users/users.service';
import { StorageSetup, TEST_LOG_LEVEL, testEnv } from './environments';
import { freePort, PrivateRedis } from './redis-server';

export interface TestApp {
  app: NestExpressApplication;
  server: Server;
  config: AppConfig;
  http: () => ReturnType<typeof request>;
  /** A user created directly, as the CLI would (any roles). */
  createUser(options?: { roles?: string[]; password?: string; name?: string }): Promise<{ id: string; email: string; password: string }>;
  close(): Promise<void>;
}

let counter = 0;

export function uniqueEmail(label = 'user'): string {
  counter += 1;
  return `${label}.${process.pid}.${Date.now()}.${counter}@example.test`;
}

/** Boots the real AppModule for a storage setup and environment overrides. */
export async function startApp(setup: StorageSetup, overrides: RawEnv = {}): Promise<TestApp> {
  return startAppWithEnv(testEnv(setup, overrides));
}

/**
 * Compiles a testing module into an app that logs as the server does at `level` (the mapping of
 * src/common/logger-levels.ts): nothing when silent. Nest's own TestingLogger would drop all but
 * errors whatever the levels, so a ConsoleLogger takes its place.
 */
export async function createTestApplication(builder: TestingModuleBuilder, level: AppConfig['logLevel']): Promise<NestExpressApplication> {
  const levels = loggerLevels(level);
  if (levels) builder.setLogger(new ConsoleLogger({ logLevels: levels }));
  const moduleRef = await builder.compile();
  return moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: levels });
}

/** `adjust` may change the loaded configuration, e.g. an internal option no variable sets. */
export async function startAppWithEnv(env: RawEnv, adjust: (config: AppConfig) => AppConfig = (config) => config): Promise<TestApp> {
  // An env made without testEnv() still logs at the test level (silent unless LOG_LEVEL is set).
  const config = adjust(loadConfig({ LOG_LEVEL: TEST_LOG_LEVEL, ...env }));
  const app = await createTestApplication(Test.createTestingModule({ imports: [AppModule.forRoot(config)] }), config.logLevel);
  configureApp(app);
  await app.init();
  const server = app.getHttpServer() as Server;
  const users = app.get(UsersService);
  return {
    app,
    server,
    config: app.get<AppConfig>(APP_CONFIG),
    http: () => request(server),
    async createUser(options = {}) {
      const email = uniqueEmail(options.roles?.join('-') ?? 'user');
      const password = options.password ?? 'correct horse battery';
      const user = await users.create({ email, password, name: options.name ?? 'Test User', roles: options.roles });
      return { id: user.id, email, password };
    },
    close: () => app.close(),
  };
}

/**
 * Registers hooks that boot an app (PostgreSQL + Redis) on a redis-server of its own, which the
 * test may stop and start again without disturbing other suites. Read the fields inside tests.
 */
export function appOnPrivateRedis(overrides: RawEnv = {}): { redis: PrivateRedis; app: TestApp } {
  const context = {} as { redis: PrivateRedis; app: TestApp };
  beforeAll(async () => {
    context.redis = new PrivateRedis(await freePort());
    await context.redis.start();
    context.app = await startAppWithEnv(testEnv('postgres+redis', { REDIS_URL: context.redis.url, ...overrides }));
  });
  afterAll(async () => {
    await context.app?.close();
    await context.redis?.stop();
  });
  return context;
}
