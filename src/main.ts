import 'reflect-metadata';
import { LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { AppConfig } from './config/app-config';
import { ConfigError } from './config/config-error';
import { loadConfigFromEnvironment } from './config/config.module';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export function loggerLevels(level: AppConfig['logLevel']): LogLevel[] | false {
  return level === 'silent' ? false : LEVELS.slice(0, LEVELS.indexOf(level) + 1);
}

async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfigFromEnvironment();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Configuration error: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger: loggerLevels(config.logLevel),
  });
  configureApp(app);
  await app.listen(config.port, config.host);
  const groups = [...config.routeGroups].map(([group, strategy]) => `${group}=${strategy}`).join(',');
  console.log(
    `AuthSwitch listening on http://${config.host}:${config.port} (groups ${groups}; ` +
      `database ${config.database.type}; sessions in ${config.redis ? 'redis' : 'the database'})`,
  );
}

bootstrap().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`Start-up failed: ${message}`);
  process.exit(1);
});
