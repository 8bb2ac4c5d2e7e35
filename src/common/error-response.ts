import { STATUS_CODES } from 'node:http';
import type { Response } from 'express';

/** The contract's error body: `{statusCode, error, message}` plus optional `details`. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: string[];
}

export function errorBody(statusCode: number, message: string, details?: string[]): ErrorBody {
  const body: ErrorBody = { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
  if (details && details.length > 0) body.details = details;
  return body;
}

/** Writes an error from plain Express code (middleware run outside Nest's exception zone). */
export function sendError(res: Response, statusCode: number, message: string, details?: string[]): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(statusCode).setHeader('Cache-Control', 'no-store');
  res.json(errorBody(statusCode, message, details));
}
