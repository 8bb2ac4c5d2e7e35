import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from './app-config';
import { APP_CONFIG } from './config.module';
import { buildDataSourceOptions } from './data-source-options';

/**
 * The server's DataSource. AuthSwitch and the application's own modules register their
 * entities with TypeOrmModule.forFeature(); autoLoadEntities collects them all.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({ ...buildDataSourceOptions(config), autoLoadEntities: true, retryAttempts: 2, retryDelay: 500 }),
    }),
  ],
})
export class DatabaseModule {}
