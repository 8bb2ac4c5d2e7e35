import { DynamicModule, Global, Module } from '@nestjs/common';
import type { Logger as PinoLogger } from 'pino';

/** The root pino logger of the JSON logs (see ./logging.ts), for configureApp() and main.ts. */
export const JSON_LOGGER = Symbol('JSON_LOGGER');

/**
 * LOG_FORMAT=json: the root logger, for the access log that configureApp() mounts as the first
 * Express middleware (so that it also sees requests answered before Nest's own middleware
 * runs, a body that does not parse) and for Nest's logger (main.ts: JsonNestLogger).
 */
@Global()
@Module({})
export class JsonLogsModule {
  static forRoot(logger: PinoLogger): DynamicModule {
    return {
      module: JsonLogsModule,
      providers: [{ provide: JSON_LOGGER, useValue: logger }],
      exports: [JSON_LOGGER],
    };
  }
}
