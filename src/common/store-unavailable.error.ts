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

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '08006', '08001', '08003']);
const CONNECTION_ERROR_NAMES = new Set(['ClientClosedError', 'ClientOfflineError', 'ConnectionTimeoutError', 'SocketClosedUnexpectedlyError', 'ReconnectStrategyError']);

/** True for the errors drivers raise when their server is unreachable (not for bad queries). */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof StoreUnavailableError) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
  if (CONNECTION_ERROR_NAMES.has(error.name) || CONNECTION_ERROR_NAMES.has(error.constructor.name)) return true;
  return /Connection terminated|connection timeout|The client is closed|Driver not Connected|database is locked/i.test(error.message);
}
