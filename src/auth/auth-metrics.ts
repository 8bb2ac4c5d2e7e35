import { describeRefusal } from '../common/all-exceptions.filter';
import { isAuthError } from '../common/auth-errors';
import type { DecisionResult, SignInResult } from '../metrics/metrics.service';

/** The status an error is answered with (503 for a store down, 500 for a bug). */
const statusOf = (error: unknown): number => describeRefusal(error)?.status ?? 500;

/** What a refusal by the guard counts as: 401 unauthenticated, 403 forbidden (CSRF included), 503 unavailable. */
export function decisionResultOf(error: unknown): DecisionResult {
  const status = statusOf(error);
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 503) return 'unavailable';
  return 'error';
}

/** What a failed sign-in counts as (never who: no email, no id). */
export function loginResultOf(error: unknown): SignInResult {
  if (isAuthError(error, 'INVALID_CREDENTIALS')) return 'failed';
  if (isAuthError(error, 'ACCOUNT_DISABLED')) return 'disabled';
  if (isAuthError(error, 'EMAIL_NOT_VERIFIED')) return 'unverified';
  const status = statusOf(error);
  if (status === 429) return 'limited';
  if (status === 503) return 'unavailable';
  return 'error';
}
