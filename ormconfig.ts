// The DataSource the TypeORM CLI uses (npm run migration:run); the same options as the server.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfigFromEnvironment } from './src/config/config.module';
import { buildDataSourceOptions } from './src/database/data-source-options';

export default new DataSource({ ...buildDataSourceOptions(loadConfigFromEnvironment()), migrationsRun: false });
