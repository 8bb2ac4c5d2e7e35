import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { sendError } from './error-response';
import { isConnectionError } from './store-unavailable.error';

/** An error a client caused or may retry, as the API answers it. */
export interface Refusal {
  status: number;
  message: string;
  details?: string[];
  retryAfterSeconds?: number;
}

/**
 * What the API answers for an error: HTTP exceptions keep their status (a validation failure
 * lists its problems in `details`), an unreachable store is 503. Undefined for anything else
 * (a bug: 500). The pages map errors with the same function, so both answer alike.
 */
export function describeRefusal(exception: unknown): Refusal | undefined {
  const retry = (exception as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
  const retryAfterSeconds = typeof retry === 'number' ? retry : undefined;
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    if (typeof response === 'string') return { status, message: response, retryAfterSeconds };
    const body = response as { message?: unknown; details?: unknown };
    const details = Array.isArray(body.details) ? body.details.map(String) : undefined;
    if (Array.isArray(body.message)) {
      return { status, message: 'Validation failed', details: body.message.map(String), retryAfterSeconds };
    }
    return { status, message: typeof body.message === 'string' ? body.message : exception.message, details, retryAfterSeconds };
  }
  if (isConnectionError(exception)) {
    return { status: HttpStatus.SERVICE_UNAVAILABLE, message: 'A backing store is unavailable; try again shortly' };
  }
  return undefined;
}

/**
 * Every error leaves in the contract's shape. HTTP exceptions keep their status; an unreachable
 * store becomes 503; anything else is logged and answered with a generic 500, never a stack.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const res = host.switchToHttp().getResponse<Response>();
    const { status, message, details } = this.describe(exception);
    const retryAfter = (exception as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
    if (typeof retryAfter === 'number' && !res.headersSent) res.setHeader('Retry-After', String(retryAfter));
    sendError(res, status, message, details);
  }

  private describe(exception: unknown): { status: number; message: string; details?: string[] } {
    const refusal = describeRefusal(exception);
    if (refusal) {
      if (refusal.status === HttpStatus.SERVICE_UNAVAILABLE && !(exception instanceof HttpException)) {
        this.logger.warn(`store unavailable: ${(exception as Error).message}`);
      }
      return refusal;
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, message: 'Internal server error' };
  }
}
