import { ArgumentsHost, Catch, HttpException } from '@nestjs/common';
import type { Response } from 'express';
import { AllExceptionsFilter } from '../common/all-exceptions.filter';

/** The error codes of RFC 6749 §5.2 that the client-credentials grant can answer. */
export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'invalid_scope' | 'unsupported_grant_type';

/** An RFC 6749 §5.2 error: 401 for invalid_client, 400 for the others. */
export class OAuthError extends HttpException {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    /** Set when the client tried HTTP Basic (or nothing): the 401 then names the scheme to use. */
    readonly challengeBasic = false,
  ) {
    super(description, code === 'invalid_client' ? 401 : 400);
  }
}

/** The body of an OAuth error: RFC 6749's `error` and `error_description` in the API's usual shape. */
export function oauthErrorBody(statusCode: number, code: string, description: string) {
  return { statusCode, error: code, message: description, error_description: description };
}

/**
 * The token route's errors: OAuthError in RFC 6749's terms (kept in the API's shape, with
 * `message` too); everything else (429, 503, 500) as on every other route. Token answers,
 * errors included, are never cached (RFC 6749 §5.1).
 */
@Catch()
export class OAuthExceptionFilter extends AllExceptionsFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (!res.headersSent) res.setHeader('Pragma', 'no-cache');
    if (!(exception instanceof OAuthError) || res.headersSent) return super.catch(exception, host);
    const status = exception.getStatus();
    if (exception.challengeBasic) res.setHeader('WWW-Authenticate', 'Basic realm="authswitch", charset="UTF-8"');
    res.status(status).setHeader('Cache-Control', 'no-store');
    res.json(oauthErrorBody(status, exception.code, exception.description));
  }
}
