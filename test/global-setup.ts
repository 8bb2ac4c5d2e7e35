import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'redis';
import { DataSource } from 'typeorm';
import { loadConfig } from '../src/config/app-config';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { leftoverFolders } from './global-teardown';
import { freshDataDir, TEST_DATABASE_URL, TEST_REDIS_URL } from './support/environments';

/**
 * Runs once before all suites: builds dist/, checks that the servers the e2e tests need are up (they are
 * never mocked), and gives PostgreSQL a schema of this run's own, migrated once, so that
 * parallel suites do not race to create tables.
 */
export default async function globalSetup(): Promise<void> {
  // What was already in the temp dir, so that the teardown blames only this run.
  process.env.AUTHSWITCH_TEMP_BEFORE_TESTS = leftoverFolders().join('\n');
  // Suites that spawn the real server (CLI, start-up, shutdown, clock skew) run dist/: build it
  // once here, rather than in each suite, where two parallel builds would race.
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: join(__dirname, '..'), stdio: 'inherit', timeout: 180_000 });
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
  // Read by the suites (support/environments.ts), which run in workers started after this.
  process.env.TEST_DATABASE_URL = url.toString();
  process.env.AUTHSWITCH_TEST_SCHEMA = schema;
}
