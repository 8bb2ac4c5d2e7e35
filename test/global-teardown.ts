import { readdirSync, rmSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { forgetPreparedRun } from './global-setup';

/**
 * Runs once after all suites (the `sqlite` and the `services` projects share it, so Jest runs it
 * once): drops the run's PostgreSQL schema if the services setup made one, then every suite
 * must have removed the temp folders it made (data dirs, keys, private PostgreSQL clusters).
 * A folder still in the run's temp folder fails the run, naming it; the run's folder is removed.
 */
export default async function globalTeardown(): Promise<void> {
  forgetPreparedRun();
  await dropRunSchema();
  const runDir = process.env.AUTHSWITCH_RUN_TMPDIR;
  if (!runDir) return;
  // The run's own temp folder: whatever is still in it was left by this run's suites.
  const leaked = readdirSync(runDir);
  rmSync(runDir, { recursive: true, force: true });
  delete process.env.AUTHSWITCH_RUN_TMPDIR;
  if (process.env.AUTHSWITCH_OUTER_TMPDIR) process.env.TMPDIR = process.env.AUTHSWITCH_OUTER_TMPDIR;
  else delete process.env.TMPDIR;
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
