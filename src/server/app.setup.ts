import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { UNSAFE_BODY, verifyFormBody, verifyJsonBody } from '../common/body-checks';
import { answerClientErrorsAsJson } from '../common/client-error';
import { sendError } from '../common/error-response';
import { oauthErrorBody } from '../clients/oauth-error';
import { AppConfig } from './app-config';
import { APP_CONFIG } from './config.module';
import { setupOpenApi } from '../openapi/openapi';

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
  // Nesting and Unicode are checked on the raw text before parsing (one linear pass): a deep or
  // broken body is refused with 400 for no more work than a flat one costs.
  app.use(express.json({ limit: config.bodyLimit, verify: verifyJsonBody }));
  // The OAuth token endpoint is form-encoded (RFC 6749); the rest of the API keeps its JSON-only
  // bodies, and PagesModule parses its own forms. extended: false makes a repeated field an
  // array, which the token endpoint refuses (RFC 6749 §3.2: no parameter twice).
  app.use('/oauth/token', express.urlencoded({ extended: false, limit: config.bodyLimit, verify: verifyFormBody }));
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
    const description = status === 413 ? 'Request body too large' : failure.type === UNSAFE_BODY ? (error as Error).message : 'Unreadable request body';
    res.status(status).setHeader('Cache-Control', 'no-store');
    res.json(oauthErrorBody(status, 'invalid_request', description));
    return;
  }
  if (failure.type === 'entity.too.large') return sendError(res, 413, 'Request body too large');
  if (failure.type === 'entity.parse.failed') return sendError(res, 400, 'Malformed JSON body');
  if (failure.type === UNSAFE_BODY) return sendError(res, 400, (error as Error).message);
  if (failure.status >= 400 && failure.status < 500) return sendError(res, failure.status, 'Unreadable request body');
  next(error);
}
