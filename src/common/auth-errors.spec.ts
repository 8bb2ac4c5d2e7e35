import { ConflictException, ForbiddenException, HttpException, UnauthorizedException } from '@nestjs/common';
import { AUTH_ERRORS, authError, AuthErrorCode, isAuthError } from './auth-errors';

describe('authError', () => {
  it('is the Nest exception of its status, with the message and the code stated once in AUTH_ERRORS', () => {
    for (const code of Object.keys(AUTH_ERRORS) as AuthErrorCode[]) {
      const error = authError(code);
      expect(error).toBeInstanceOf(HttpException);
      expect(error.getStatus()).toBe(AUTH_ERRORS[code].status);
      expect(error.message).toBe(AUTH_ERRORS[code].message);
      expect(error.code).toBe(code);
    }
    expect(authError('INVALID_CREDENTIALS')).toBeInstanceOf(UnauthorizedException);
    expect(authError('CLIENTS_NOT_ACCEPTED')).toBeInstanceOf(ForbiddenException);
    expect(authError('EMAIL_TAKEN')).toBeInstanceOf(ConflictException);
  });

  it('is told apart by its code, not by its message', () => {
    expect(isAuthError(authError('EMAIL_TAKEN'), 'EMAIL_TAKEN')).toBe(true);
    expect(isAuthError(authError('EMAIL_TAKEN'), 'INVALID_CREDENTIALS')).toBe(false);
    expect(isAuthError(new ConflictException('Email already registered'))).toBe(false);
    expect(isAuthError(new Error('EMAIL_TAKEN'))).toBe(false);
  });
});
