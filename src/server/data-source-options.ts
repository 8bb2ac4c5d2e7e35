import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { AppConfig } from './app-config';

/**
 * Every migration file of src/database/migrations (dist/database/migrations once built): the
 * ones AuthSwitch ships and the ones generated for this application's own entities.
 */
export const MIGRATION_FILES = join(__dirname, '..', 'database', 'migrations', '[0-9]*-*.{ts,js}');

/**
 * One description of the database for the server, the CLI and the TypeORM CLI (ormconfig.ts).
 * Entities are not listed: the server loads those registered with TypeOrmModule.forFeature
 * (`autoLoadEntities`), so a new entity needs no list; ormconfig.ts finds them by file name.
 * Migrations run at boot; `synchronize` is never used.
 */
export function buildDataSourceOptions(config: Pick<AppConfig, 'database'>): DataSourceOptions {
  const common = {
    migrations: [MIGRATION_FILES] as string[],
    migrationsRun: true,
    synchronize: false,
    logging: config.database.logging,
  } as const;
  if (config.database.type === 'postgres') {
    return {
      ...common,
      type: 'postgres',
      url: config.database.url,
      // Fail fast rather than queue requests while the database is unreachable.
      connectTimeoutMS: 3000,
      extra: { max: 10, connectionTimeoutMillis: 3000 },
    };
  }
  mkdirSync(dirname(config.database.path), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: config.database.path,
    // WAL lets readers proceed while a write is in progress.
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
    },
  };
}
