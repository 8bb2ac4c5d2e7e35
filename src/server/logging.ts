import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type DestinationStream, type LevelWithSilent, type Logger } from 'pino';
import { performance } from 'node:perf_hooks';
import type { LoggerService } from '@nestjs/common';
import { assignRequestId } from '../common/request-id';
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
 * for a 5xx. A plain listener rather than pino-http: no child logger per request and no
 * AsyncLocalStorage (which on Node 20 slows every promise of the process), so the JSON logs
 * cost the request path next to nothing (npm run bench measured pino-http + nestjs-pino at 39%
 * of the public route's throughput). It also gives the request its id (requestIdMiddleware's
 * rule) in the same pass, one middleware layer fewer: mount it first, instead of that one.
 */
export function accessLog(logger: Logger): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  return (req, res, next) => {
    // The request id too, in the same pass: one middleware layer fewer on every request.
    const reqId = assignRequestId(req, res);
    const started = performance.now();
    res.on('close', () => {
      const level = res.statusCode >= 500 || !res.writableFinished ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const line = {
        reqId,
        ...safeRequest(req as ExpressRequest),
        status: res.statusCode,
        duration: Math.round((performance.now() - started) * 100) / 100,
      };
      logger[level](line, res.writableFinished ? 'request completed' : 'request aborted');
    });
    next();
  };
}

/**
 * Nest's LoggerService on the JSON logger (main.ts: app.useLogger): Nest's own lines and every
 * service's `Logger` become JSON lines with their `context`. Nest calls it as
 * `log(message, context?)` and `error(message, stack?, context?)`.
 */
export class JsonNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', message: unknown, rest: unknown[]): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    if (rest.length > 0 && typeof rest[rest.length - 1] === 'string') fields.context = rest.pop();
    if (level === 'error' && typeof rest[0] === 'string') fields.stack = rest[0];
    if (message instanceof Error) this.logger[level]({ ...fields, err: message }, message.message);
    else if (message !== null && typeof message === 'object') this.logger[level]({ ...fields, ...(message as object) });
    else this.logger[level](fields, String(message));
  }
}
