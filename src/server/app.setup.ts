import type { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { applyAuthSwitchBodyParsers } from '../auth-switch/body-parsers';
import { answerClientErrorsAsJson } from '../common/client-error';
import { requestIdMiddleware } from '../common/request-id';
import { AppConfig } from './app-config';
import { APP_CONFIG } from './config.module';
import { setupOpenApi } from '../openapi/openapi';
import { accessLog } from './logging';
import { JSON_LOGGER } from './logging.module';

/**
 * Express-level set-up shared by the server and the tests. The app must be created with
 * `bodyParser: false`, so that the body limit and parse errors are ours.
 */
export function configureApp(app: NestExpressApplication): NestExpressApplication {
  const config = app.get<AppConfig>(APP_CONFIG);
  // First of all, so that every answer carries X-Request-Id and is logged, even one that a
  // later middleware gives (a body that does not parse, helmet, a 404).
  app.use(requestIdMiddleware());
  if (config.logFormat === 'json') app.use(accessLog(app.get(JSON_LOGGER)));
  app.disable('x-powered-by');
  // API answers are personal and mostly no-store; a SHA-1 ETag per response buys nothing.
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  app.use(helmet());
  applyAuthSwitchBodyParsers(app, { limit: config.bodyLimit });
  // Swagger UI at /docs, the document at /docs-json (OPENAPI_ENABLED; off in production by default).
  if (config.openApiEnabled) setupOpenApi(app, config);
  // Oversized headers and unparsable requests never reach Express; answer them in our shape too.
  answerClientErrorsAsJson(app.getHttpServer());
  // No enableShutdownHooks(): main.ts handles SIGTERM/SIGINT itself (Nest's hook re-raises the
  // signal after closing, so the process never exits 0), and the tests close their apps.
  return app;
}
