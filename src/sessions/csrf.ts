import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import './session-data';

/**
 * Synchronizer-token CSRF defence: a random token lives in the session and must come back in
 * the `X-CSRF-Token` header of every unsafe request. Pages read it from the login answer or
 * `GET /G/auth/csrf`; another site can neither read it nor make a browser send it.
 */
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

export function needsCsrfCheck(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

/** Constant-time comparison of the header with the session's token. */
export function hasValidCsrfToken(req: Request, expected: string | undefined): boolean {
  return isSessionCsrfToken(req.headers[CSRF_HEADER], expected);
}

/**
 * Constant-time comparison of a received token (the header, or a page form's `_csrf` field)
 * with the session's. Anything but a string is no token.
 */
export function isSessionCsrfToken(received: unknown, expected: string | undefined): boolean {
  if (typeof expected !== 'string' || typeof received !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(received);
  return a.length === b.length && timingSafeEqual(a, b);
}
