import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { SessionRecord } from '../sessions/session-record.entity';
import { RefreshToken } from '../tokens/refresh-token.entity';
import { RefreshFamily } from '../tokens/refresh-family.entity';
import { Revocation } from '../tokens/revocation.entity';
import { User } from '../users/user.entity';
import { InitialSchema1732300000000 } from './migrations/1732300000000-InitialSchema';
import { RefreshTokenAccessJti1732400000000 } from './migrations/1732400000000-RefreshTokenAccessJti';
import { CredentialVersions1732500000000 } from './migrations/1732500000000-CredentialVersions';

export const ENTITIES = [User, RefreshFamily, RefreshToken, Revocation, SessionRecord];
export const MIGRATIONS = [InitialSchema1732300000000, RefreshTokenAccessJti1732400000000, CredentialVersions1732500000000];

/**
 * One description of the database for the server, the CLI and the TypeORM CLI (ormconfig.ts).
 * Migrations run at boot; `synchronize` is never used.
 */
export function buildDataSourceOptions(config: AppConfig): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
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
