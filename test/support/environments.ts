import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RawEnv } from '../../src/config/app-config';

/** Where the e2e suites find their servers; `scripts/test-services.sh` starts these. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://authswitch:authswitch@127.0.0.1:5432/authswitch_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type StorageSetup = 'sqlite' | 'postgres+redis';

export function freshDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'authswitch-test-'));
}

/**
 * The environment of one test app. Each app gets its own data folder and, with Redis, its own
 * key prefix, so suites running side by side never see each other's sessions or counters.
 */
export function testEnv(setup: StorageSetup, overrides: RawEnv = {}): RawEnv {
  const base: RawEnv = {
    NODE_ENV: 'test',
    DATA_DIR: freshDataDir(),
    LOG_LEVEL: 'silent',
    LOGIN_MAX_FAILURES_PER_ADDRESS: '10000',
  };
  if (setup === 'postgres+redis') {
    base.DATABASE_URL = TEST_DATABASE_URL;
    base.REDIS_URL = TEST_REDIS_URL;
    base.REDIS_KEY_PREFIX = `test:${randomBytes(6).toString('hex')}:`;
  }
  return { ...base, ...overrides };
}
