import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DataSource } from 'typeorm';

/** The authswitch-* folders in the system temp dir right now. */
export function leftoverFolders(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('authswitch-'));
}

/**
 * Runs once after all suites: every suite must remove the temp folders it made (data dirs,
 * keys, private PostgreSQL clusters). A folder that appeared during the run and is still
 * there fails the run, naming it.
 */
export default async function globalTeardown(): Promise<void> {
  await dropRunSchema();
  const before = new Set((process.env.AUTHSWITCH_TEMP_BEFORE_TESTS ?? '').split('\n').filter(Boolean));
  const leaked = leftoverFolders().filter((name) => !before.has(name));
  if (leaked.length > 0) throw new Error(`tests left temp folders behind: ${leaked.join(', ')}`);
}

/** Drops the schema the global setup made for this run (never another one). */
async function dropRunSchema(): Promise<void> {
  const schema = process.env.AUTHSWITCH_TEST_SCHEMA;
  const url = process.env.TEST_DATABASE_URL;
  if (!schema || !url || !/^test_\d+_[0-9a-f]{8}$/.test(schema)) return;
  const dataSource = new DataSource({ type: 'postgres', url });
  await dataSource.initialize();
  try {
    await dataSource.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await dataSource.destroy();
  }
}
