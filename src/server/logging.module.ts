import { DynamicModule, Global, Module, RequestMethod } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { Logger as PinoLogger } from 'pino';

/** The root pino logger of the JSON logs (see ./logging.ts), for configureApp() and main.ts. */
export const JSON_LOGGER = Symbol('JSON_LOGGER');

/**
 * LOG_FORMAT=json: nestjs-pino's Logger (for app.useLogger) on the given root logger. The access
 * log itself (pino-http) is mounted by configureApp() as the first Express middleware, so that
 * it also sees requests answered before Nest's own middleware runs (a body that does not parse);
 * `useExisting` makes nestjs-pino reuse its per-request logger instead of adding a second one.
 */
@Global()
@Module({})
export class JsonLogsModule {
  static forRoot(logger: PinoLogger): DynamicModule {
    return {
      module: JsonLogsModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: { logger },
          useExisting: true,
          forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
        }),
      ],
      providers: [{ provide: JSON_LOGGER, useValue: logger }],
      exports: [JSON_LOGGER],
    };
  }
}
