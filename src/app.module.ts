import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AuthSwitchModule } from './auth-switch/auth-switch.module';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './server/app-config';
import { AppConfigModule } from './server/config.module';
import { DatabaseModule } from './server/database.module';
import { HealthModule } from './health/health.module';
import { PagesModule } from './pages/pages.module';

/** The AuthSwitch server: one host of AuthSwitchModule, with its pages and health checks. */
@Module({})
export class AppModule {
  /** The whole application for an already validated configuration. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
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
