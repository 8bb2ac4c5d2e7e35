import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type DestinationStream, type LevelWithSilent, type Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { requestIdFrom, requestIdOf } from '../common/request-id';
import type { AppConfig } from './app-config';

/**
 * The server's JSON logs (LOG_FORMAT=json): one object per line on standard output, from pino.
 * Nest's own lines and every `Logger` of the services go through it (main.ts: app.useLogger),
 * and pino-http writes one access line per request. Only the server host uses this; the
 * library never imports pino, so a host application keeps its own logger.
 */

/** LOG_LEVEL (Nest's names) → pino's level: `log` is pino's `info`, `verbose` its `trace`. */
export const PINO_LEVELS: Record<AppConfig['logLevel'], LevelWithSilent> = {
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
  silent: 'silent',
};

/** Field names that may hold a secret, wherever they turn up in a logged object. */
const SECRET_FIELDS = [
  'password',
  'currentPassword',
  'newPassword',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'client_assertion',
  'csrfToken',
  '_csrf',
  'secret',
  'authorization',
  'cookie',
];
/** Headers that carry credentials, in a request's or a response's header object. */
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-csrf-token'];

/**
 * pino's `redact`, as defence in depth: the serializers below never emit headers or bodies, and
 * no log call passes them, but should one ever do (`logger.warn({ body }, ...)`, a request's
 * headers), these are censored rather than written. Explicit paths only: a wildcard (`*.token`)
 * makes pino's redaction cost some 20 µs per line written and per child logger, on every
 * request; these cost about 1 µs. (A logged `req` or `res` goes through the serializers below,
 * which keep no header at all.)
 */
export const REDACTED_PATHS: string[] = [
  ...SECRET_FIELDS.flatMap((field) => [field, `body.${field}`, `query.${field}`]),
  ...SECRET_HEADERS.flatMap((header) => ['headers', 'req.headers', 'res.headers'].map((at) => `${at}["${header}"]`)),
];

/** The path of a request target without its query string, which may hold a token (/verify-email?token=…). */
export function pathOf(url: string | undefined): string {
  if (!url) return '';
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

type ExpressRequest = IncomingMessage & { originalUrl?: string };

/** The request as logged: method and path, never the URL's query, headers or body. */
function safeRequest(req: ExpressRequest): { method?: string; path: string } {
  return { method: req.method, path: pathOf(req.originalUrl ?? req.url) };
}

/** The response as logged: its status, never its headers (Set-Cookie). */
function safeResponse(res: ServerResponse): { status: number } {
  return { status: res.statusCode };
}

/** The root logger of the server's JSON logs, at LOG_LEVEL. `destination` defaults to stdout. */
export function createJsonLogger(level: AppConfig['logLevel'], destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: PINO_LEVELS[level],
    // `"level":"info"` rather than pino's numbers, and an ISO time: read by people as well.
    formatters: { level: (label) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { req: safeRequest, res: safeResponse, err: pino.stdSerializers.err },
    redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * The access log: one line per request once its answer is sent (or the connection closed),
 * `{"reqId", "method", "path", "status", "duration"}` (duration in ms), at `info`, or `error`
 * for a 5xx. Each request also gets `req.log`, a child logger carrying its `reqId`, which
 * nestjs-pino hands to Nest's `Logger` for the rest of the request (LoggerModule with
 * `useExisting`), so every line of that request carries its id. Mount it right after
 * requestIdMiddleware(), before anything that may answer.
 */
export function accessLog(logger: Logger): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  const line = (req: ExpressRequest, res: ServerResponse, duration: number) => ({
    ...safeRequest(req),
    status: res.statusCode,
    duration,
  });
  return pinoHttp({
    logger,
    // Takes the id requestIdMiddleware() set; on its own, it makes one by the same rule.
    genReqId: (req) => requestIdOf(req) ?? requestIdFrom(req.headers['x-request-id']),
    // Child loggers carry only `reqId`, never the whole request.
    quietReqLogger: true,
    quietResLogger: true,
    wrapSerializers: false,
    serializers: { req: safeRequest, res: safeResponse, err: pino.stdSerializers.err },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessObject: (req, res, val: { responseTime: number }) => line(req, res, val.responseTime),
    // No `err`: for a 500 the exception filter has already logged the cause, with this reqId.
    customErrorObject: (req, res, _error, val: { responseTime: number }) => line(req, res, val.responseTime),
    customSuccessMessage: () => 'request completed',
    customErrorMessage: () => 'request failed',
  });
}
