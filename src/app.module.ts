import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import type { Logger as PinoLogger } from 'pino';
import { AuthSwitchModule } from './auth-switch/auth-switch.module';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './server/app-config';
import { AppConfigModule } from './server/config.module';
import { DatabaseModule } from './server/database.module';
import { createJsonLogger } from './server/logging';
import { JsonLogsModule } from './server/logging.module';
import { HealthModule } from './health/health.module';
import { PagesModule } from './pages/pages.module';

/** The AuthSwitch server: one host of AuthSwitchModule, with its pages and health checks. */
@Module({})
export class AppModule {
  /**
   * The whole application for an already validated configuration. With LOG_FORMAT=json it logs
   * through `jsonLogger` (main.ts passes the one it already writes to), or a new one at LOG_LEVEL.
   */
  static forRoot(config: AppConfig, jsonLogger?: PinoLogger): DynamicModule {
    const logging = config.logFormat === 'json' ? [JsonLogsModule.forRoot(jsonLogger ?? createJsonLogger(config.logLevel))] : [];
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        ...logging,
        DatabaseModule,
        AuthSwitchModule.forRoot({ ...config, routeGroups: config.routeGroups, adminGroup: config.adminGroup, globalGuard: true }),
        HealthModule,
        PagesModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_PIPE, useValue: createValidationPipe() },
      ],
    };
  }
}
