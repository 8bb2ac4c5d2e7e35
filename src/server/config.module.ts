import { DynamicModule, Global, Module } from '@nestjs/common';
import { config as readDotenv } from 'dotenv';
import { AppConfig, loadConfig } from './app-config';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Reads `.env` (the real environment wins) and validates the result once. */
export function loadConfigFromEnvironment(): AppConfig {
  const fromFile: Record<string, string> = {};
  readDotenv({ processEnv: fromFile, quiet: true } as Parameters<typeof readDotenv>[0]);
  return loadConfig({ ...fromFile, ...process.env });
}

/** Provides the already validated configuration to every module. */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
