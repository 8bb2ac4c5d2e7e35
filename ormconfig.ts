// The DataSource the TypeORM CLI uses (npm run migration:run, migration:generate); the same
// database as the server. Entities are found by file name, so the generator sees new ones.
import 'reflect-metadata';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadConfigFromEnvironment } from './src/server/config.module';
import { buildDataSourceOptions } from './src/server/data-source-options';

export default new DataSource({
  ...buildDataSourceOptions(loadConfigFromEnvironment()),
  entities: [join(__dirname, 'src', '**', '*.entity.ts')],
  migrationsRun: false,
});
