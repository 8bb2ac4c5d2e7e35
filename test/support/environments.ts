import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import type { RawEnv } from '../../src/server/app-config';

/** Where the e2e suites find their servers; `scripts/test-services.sh` starts these. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://authswitch:authswitch@127.0.0.1:5432/authswitch_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type StorageSetup = 'sqlite' | 'postgres+redis';

/**
 * The level test apps log at: LOG_LEVEL when set (`LOG_LEVEL=error npx jest test/x.e2e-spec.ts`
 * shows the stack trace of a 500), else silent. Same values and meaning as for the server.
 */
export const TEST_LOG_LEVEL = process.env.LOG_LEVEL || 'silent';

// Kept on the global object rather than in this module, so a suite that resets its module
// registry still hands every folder to the one cleanup hook (test/support/cleanup.ts).
const DIRS = Symbol.for('authswitch.test.dataDirs');
type WithDirs = typeof globalThis & { [DIRS]?: string[] };

function madeDirs(): string[] {
  const holder = globalThis as WithDirs;
  if (!holder[DIRS]) {
    holder[DIRS] = [];
    // Outside a test file (Jest's global setup) there is no afterAll: remove them at exit.
    if (typeof afterAll !== 'function') process.once('exit', removeFreshDataDirs);
  }
  return holder[DIRS];
}

/** A new, empty data folder in the temp dir, removed after the suite by removeFreshDataDirs(). */
export function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'authswitch-test-'));
  madeDirs().push(dir);
  return dir;
}

/** Removes every folder freshDataDir() has made in this context. */
export function removeFreshDataDirs(): void {
  const dirs = madeDirs();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * The environment of one test app. Each app gets its own data folder and, with Redis, its own
 * key prefix, so suites running side by side never see each other's sessions or counters.
 */
export function testEnv(setup: StorageSetup, overrides: RawEnv = {}): RawEnv {
  const base: RawEnv = {
    NODE_ENV: 'test',
    DATA_DIR: freshDataDir(),
    LOG_LEVEL: TEST_LOG_LEVEL,
    LOGIN_MAX_FAILURES_PER_ADDRESS: '10000',
    // Suites register many users from one address; the registration limit has its own test.
    REGISTER_MAX_PER_ADDRESS: '100000',
    // Suites fail logins of many accounts from one address; credential stuffing has its own test.
    STUFFING_ACCOUNTS: '10000',
  };
  if (setup === 'postgres+redis') {
    base.DATABASE_URL = TEST_DATABASE_URL;
    base.REDIS_URL = TEST_REDIS_URL;
    base.REDIS_KEY_PREFIX = `test:${randomBytes(6).toString('hex')}:`;
  }
  return { ...base, ...overrides };
}

/** Deletes the Redis keys that postgres+redis apps wrote under their own (test-only) prefix. */
export async function dropRedisKeys(prefix: string | undefined): Promise<void> {
  if (!prefix?.startsWith('test:')) return;
  const redis = createClient({ url: TEST_REDIS_URL });
  await redis.connect();
  try {
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await redis.del(keys);
    }
  } finally {
    await redis.close();
  }
}
