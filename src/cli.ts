import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { ConfigError } from './config/config-error';
import { runOperatorCommand } from './operator/commands';
import { loadConfigFromEnvironment } from './server/config.module';

/**
 * The server's operator CLI (`npm run cli -- ...`): AuthSwitch's commands on the server's own
 * application, so they use the same configuration, database and Redis as the server.
 */
runOperatorCommand(process.argv.slice(2), () =>
  NestFactory.createApplicationContext(AppModule.forRoot(loadConfigFromEnvironment()), { logger: ['error'] }),
).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(error instanceof ConfigError ? `Configuration error: ${message}` : `error: ${message}`);
    process.exit(1);
  },
);
