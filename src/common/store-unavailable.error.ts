/**
 * A store a request depends on (Redis, the database) did not answer. Always mapped to 503:
 * the request is refused, never let through unauthenticated.
 */
export class StoreUnavailableError extends Error {
  constructor(
    readonly store: 'redis' | 'database' | 'session store',
    cause?: unknown,
  ) {
    super(`The ${store} is unavailable`, { cause });
    this.name = 'StoreUnavailableError';
  }
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '08006',
  '08001',
  '08003',
  'SQLITE_BUSY',
]);
const CONNECTION_ERROR_NAMES = new Set([
  'ClientClosedError',
  'ClientOfflineError',
  'ConnectionTimeoutError',
  'SocketClosedUnexpectedlyError',
  'ReconnectStrategyError',
]);

/** True for the errors drivers raise when their server is unreachable (not for bad queries). */
export function isConnectionError(error: unknown): boolean {
  // Judged by shape, not `instanceof Error`: driver errors may come from another realm.
  if (typeof error !== 'object' || error === null) return false;
  if (error instanceof StoreUnavailableError) return true;
  const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
  if (typeof name === 'string' && CONNECTION_ERROR_NAMES.has(name)) return true;
  if (CONNECTION_ERROR_NAMES.has(error.constructor?.name)) return true;
  // An AggregateError (several addresses tried) is a connection error when its parts are.
  const parts = (error as { errors?: unknown }).errors;
  if (Array.isArray(parts) && parts.length > 0 && parts.every(isConnectionError)) return true;
  // "timeout exceeded when trying to connect": pg-pool waited in vain for a free connection.
  return (
    typeof message === 'string' &&
    /Connection terminated|connection timeout|The client is closed|Driver not Connected|timeout exceeded when trying to connect/i.test(message)
  );
}
