import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The header a request id comes in on and goes back out on. */
export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * What an incoming id may look like to be kept: 1 to 128 characters of letters, digits and
 * `._:-` (UUIDs, ULIDs, a proxy's trace ids). Anything else (spaces, quotes, a second value
 * joined with a comma, a megabyte of text) gets a fresh id instead, so that no client can put
 * what it likes into the logs under this field.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: the incoming `X-Request-Id` when it is sane, else a new UUID. */
export function requestIdFrom(header: string | string[] | undefined, make: () => string = randomUUID): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : make();
}

/** The id requestIdMiddleware() gave this request, if it ran. */
export function requestIdOf(req: IncomingMessage): string | undefined {
  const id = (req as IncomingMessage & { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Express (or plain Node) middleware: takes the request's id (requestIdFrom), keeps it as
 * `req.id` (where pino-http and most loggers look for it) and echoes it in the `X-Request-Id`
 * response header, set before anything else runs so that every answer carries it, errors
 * included. Mount it first.
 */
export function requestIdMiddleware(): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  return (req, res, next) => {
    assignRequestId(req, res);
    next();
  };
}

/** What requestIdMiddleware() does, for a middleware that does more on the same pass (the access log). */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const id = requestIdFrom(req.headers['x-request-id']);
  (req as IncomingMessage & { id?: unknown }).id = id;
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}
