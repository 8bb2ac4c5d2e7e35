import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { answerClientErrorsAsJson } from './common/client-error';
import { sendError } from './common/error-response';
import { oauthErrorBody } from './clients/oauth-error';
import { AppConfig } from './config/app-config';
import { APP_CONFIG } from './config/config.module';
import { setupOpenApi } from './openapi/openapi';

/**
 * Express-level set-up shared by the server and the tests. The app must be created with
 * `bodyParser: false`, so that the body limit and parse errors are ours.
 */
export function configureApp(app: NestExpressApplication): NestExpressApplication {
  const config = app.get<AppConfig>(APP_CONFIG);
  app.disable('x-powered-by');
  // API answers are personal and mostly no-store; a SHA-1 ETag per response buys nothing.
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  app.use(helmet());
  app.use(express.json({ limit: config.bodyLimit }));
  // HTML forms (the pages' POST routes) and the OAuth token endpoint (RFC 6749 is form-encoded);
  // the rest of the API keeps its JSON-only bodies. extended: false makes a repeated field an
  // array, which the token endpoint refuses (RFC 6749 §3.2: no parameter twice).
  app.use(['/login', '/register', '/logout', '/forgot-password', '/reset-password', '/verify-email', '/account/sessions/end', '/oauth/token'], express.urlencoded({ extended: false, limit: config.bodyLimit }));
  app.use(bodyErrors);
  // Swagger UI at /docs, the document at /docs-json (OPENAPI_ENABLED; off in production by default).
  if (config.openApiEnabled) setupOpenApi(app, config);
  // Oversized headers and unparsable requests never reach Express; answer them in our shape too.
  answerClientErrorsAsJson(app.getHttpServer());
  // No enableShutdownHooks(): main.ts handles SIGTERM/SIGINT itself (Nest's hook re-raises the
  // signal after closing, so the process never exits 0), and the tests close their apps.
  return app;
}

/** Turns body-parser failures into the contract's errors (400, 413, 415) instead of HTML. */
function bodyErrors(error: unknown, req: Request, res: Response, next: NextFunction): void {
  const failure = error as { type?: string; status?: number } | undefined;
  if (!failure || typeof failure.status !== 'number') return next(error);
  // OAuth clients read RFC 6749's error codes: an unreadable token request is invalid_request.
  if (req.path === '/oauth/token' && failure.status >= 400 && failure.status < 500) {
    // An unsupported charset or encoding is a malformed request too; a body too large stays 413.
    const status = failure.type === 'entity.too.large' ? 413 : 400;
    res.status(status).setHeader('Cache-Control', 'no-store');
    res.json(oauthErrorBody(status, 'invalid_request', status === 413 ? 'Request body too large' : 'Unreadable request body'));
    return;
  }
  if (failure.type === 'entity.too.large') return sendError(res, 413, 'Request body too large');
  if (failure.type === 'entity.parse.failed') return sendError(res, 400, 'Malformed JSON body');
  if (failure.status >= 400 && failure.status < 500) return sendError(res, failure.status, 'Unreadable request body');
  next(error);
}
