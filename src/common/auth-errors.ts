import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  HttpException,
  NotFoundException,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';

/**
 * Every refusal AuthSwitch's own code makes, by a stable code: its HTTP status and the message
 * clients read, stated once here. Services and guards throw `authError(code)`, Nest's exception of
 * that status, so any exception filter (the host's included) answers it with that status, and
 * AllExceptionsFilter writes the contract's body. Hosts that call the services directly can test
 * the code (`isAuthError(error, 'EMAIL_TAKEN')`) rather than a message.
 */
export const AUTH_ERRORS = {
  // 400: a one-time token that is unknown, used, expired or of another purpose (no oracle).
  INVALID_ONE_TIME_TOKEN: { status: 400, message: 'Invalid or expired token' },
  // 401: the same answer for an unknown email and a wrong password (no account oracle).
  INVALID_CREDENTIALS: { status: 401, message: 'Invalid credentials' },
  NOT_SIGNED_IN: { status: 401, message: 'Not signed in' },
  NOT_SIGNED_IN_WITH_SESSION: { status: 401, message: 'Not signed in with a session' },
  INVALID_ACCESS_TOKEN: { status: 401, message: 'Invalid or expired token' },
  TOKEN_REVOKED: { status: 401, message: 'Token has been revoked' },
  TOKEN_OF_ANOTHER_GROUP: { status: 401, message: 'Token was issued for another route group' },
  INVALID_REFRESH_TOKEN: { status: 401, message: 'Invalid refresh token' },
  ACCOUNT_CHANGED_DURING_SIGN_IN: { status: 401, message: 'The account changed during sign-in; sign in again' },
  WRONG_CURRENT_PASSWORD: { status: 401, message: 'Current password is wrong' },
  // 403: authenticated, but not allowed here.
  INSUFFICIENT_ROLE: { status: 403, message: 'Insufficient role' },
  INSUFFICIENT_SCOPE: { status: 403, message: 'Insufficient scope' },
  CLIENTS_NOT_ACCEPTED: { status: 403, message: 'Client tokens are not accepted here' },
  USERS_NOT_ACCEPTED: { status: 403, message: 'This route is only open to client tokens' },
  CSRF_TOKEN_INVALID: { status: 403, message: 'Missing or invalid CSRF token' },
  EMAIL_NOT_VERIFIED: { status: 403, message: 'Email address not verified; follow the link in the mail we sent' },
  // 403: said only after the right password, like EMAIL_NOT_VERIFIED.
  ACCOUNT_DISABLED: { status: 403, message: 'Account disabled' },
  USER_NOT_FOUND: { status: 404, message: 'User not found' },
  SESSION_NOT_FOUND: { status: 404, message: 'Session not found' },
  NO_PAGES: { status: 404, message: 'No route group uses sessions, so there are no pages' },
  EMAIL_TAKEN: { status: 409, message: 'Email already registered' },
  // 409: an administrator would lock themselves out (and no one might be left to undo it).
  NOT_ON_YOURSELF: { status: 409, message: 'Administrators cannot disable or delete their own account' },
  INVALID_CURSOR: { status: 400, message: 'Invalid cursor' },
  // 503: never a bypass: without current revocation state no credential is trusted.
  REVOCATION_STATE_UNAVAILABLE: { status: 503, message: 'Revocation state is unavailable; try again shortly' },
  // 503: the host's `claims` option failed; nothing was spent or created, so a retry works.
  CLAIMS_UNAVAILABLE: { status: 503, message: 'Sign-in details are unavailable; try again shortly' },
} as const satisfies Record<string, { status: number; message: string }>;

export type AuthErrorCode = keyof typeof AUTH_ERRORS;

/** An AuthSwitch refusal: the Nest exception of its status (so `instanceof ForbiddenException` holds), with its code. */
export type AuthError = HttpException & { readonly code: AuthErrorCode };

const EXCEPTION_OF_STATUS: Record<number, new (message: string) => HttpException> = {
  400: BadRequestException,
  401: UnauthorizedException,
  403: ForbiddenException,
  404: NotFoundException,
  409: ConflictException,
  503: ServiceUnavailableException,
};

/** The exception to throw for `code`: status and message from AUTH_ERRORS, and the code itself. */
export function authError(code: AuthErrorCode): AuthError {
  const { status, message } = AUTH_ERRORS[code];
  return Object.assign(new EXCEPTION_OF_STATUS[status](message), { code });
}

/** Whether `error` is AuthSwitch's refusal with this code (or any, without one). */
export function isAuthError(error: unknown, code?: AuthErrorCode): error is AuthError {
  const own = error instanceof HttpException && typeof (error as Partial<AuthError>).code === 'string' && (error as AuthError).code in AUTH_ERRORS;
  return own && (code === undefined || (error as AuthError).code === code);
}
