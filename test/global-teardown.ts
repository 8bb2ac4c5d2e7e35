import { DataSource } from 'typeorm';
import { forgetPreparedRun, leftoverFolders } from './global-setup';

/**
 * Runs once after all suites (the `sqlite` and the `services` projects share it, so Jest runs it
 * once): drops the run's PostgreSQL schema if the services setup made one, then every suite
 * must have removed the temp folders it made (data dirs, keys, private PostgreSQL clusters).
 * A folder that appeared during the run and is still there fails the run, naming it.
 */
export default async function globalTeardown(): Promise<void> {
  forgetPreparedRun();
  await dropRunSchema();
  const before = new Set((process.env.AUTHSWITCH_TEMP_BEFORE_TESTS ?? '').split('\n').filter(Boolean));
  const leaked = leftoverFolders().filter((name) => !before.has(name));
  if (leaked.length > 0) throw new Error(`tests left temp folders behind: ${leaked.join(', ')}`);
}

/** Drops the schema the services setup made for this run (never another one). */
async function dropRunSchema(): Promise<void> {
  const schema = process.env.AUTHSWITCH_TEST_SCHEMA;
  const url = process.env.TEST_DATABASE_URL;
  if (!schema || !url || !/^test_\d+_[0-9a-f]{8}$/.test(schema)) return;
  // Dropped (or tried) once: a later run in the same process (--watch) must not try again.
  delete process.env.AUTHSWITCH_TEST_SCHEMA;
  const dataSource = new DataSource({ type: 'postgres', url });
  await dataSource.initialize();
  try {
    await dataSource.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await dataSource.destroy();
  }
}
