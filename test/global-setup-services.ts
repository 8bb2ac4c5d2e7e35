import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createClient } from 'redis';
import { DataSource } from 'typeorm';
import { loadConfig } from '../src/server/app-config';
import { buildDataSourceOptions } from '../src/server/data-source-options';
import { forgetPreparedRun, prepareRun } from './global-setup';
import { freshDataDir, TEST_DATABASE_URL, TEST_REDIS_URL } from './support/environments';

/**
 * Global setup of the `services` project: what every run needs (./global-setup.ts), then checks
 * that the servers these suites need are up (they are never mocked), and gives PostgreSQL a
 * schema of this run's own, migrated once, so that parallel suites do not race to create tables.
 */
export default async function globalSetup(): Promise<void> {
  try {
    await prepareRun();
    await checkRedis();
    await createRunSchema();
  } catch (error) {
    // Jest skips the teardown when a global setup fails: build again on the next run (--watch).
    forgetPreparedRun();
    throw error;
  }
}

async function checkRedis(): Promise<void> {
  const redis = createClient({ url: TEST_REDIS_URL, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`Redis is not reachable at ${TEST_REDIS_URL} (${(error as Error).message}); run scripts/test-services.sh first`);
  } finally {
    if (redis.isOpen) await redis.close();
  }
}

async function createRunSchema(): Promise<void> {
  // A schema of this run's own, so that two runs (or a run and the benchmark) sharing the
  // database never drop each other's tables; the teardown drops it, and only it.
  const schema = `test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const dataDir = freshDataDir();
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: url.toString(), DATA_DIR: dataDir });
  // Only the development secrets land there; removed at once, before the suites run.
  rmSync(dataDir, { recursive: true, force: true });
  const dataSource = new DataSource({ ...buildDataSourceOptions(config), migrationsRun: false });
  try {
    await dataSource.initialize();
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${TEST_DATABASE_URL} (${(error as Error).message}); run scripts/test-services.sh first`);
  }
  await dataSource.query(`CREATE SCHEMA ${schema}`);
  await dataSource.runMigrations();
  await dataSource.destroy();
  // Read by the suites (support/environments.ts), which run in workers started after every
  // project's global setup, and by the teardown.
  process.env.TEST_DATABASE_URL = url.toString();
  process.env.AUTHSWITCH_TEST_SCHEMA = schema;
}
