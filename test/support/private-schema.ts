import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { TEST_DATABASE_URL } from './environments';

/**
 * A PostgreSQL schema of one suite's own, for suites that act on every row of a table (a
 * housekeeping round run with a clock days ahead deletes whatever other suites are using
 * right now). The app migrates it when it starts; `drop()` removes it.
 */
export async function privateSchema(): Promise<{ url: string; drop: () => Promise<void> }> {
  const schema = `${process.env.AUTHSWITCH_TEST_SCHEMA ?? 'test'}_own_${randomBytes(4).toString('hex')}`;
  const admin = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL });
  await admin.initialize();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    drop: async () => {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.destroy();
    },
  };
}
