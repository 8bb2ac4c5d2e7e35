import type { INestApplication } from '@nestjs/common';
import express, { NextFunction, Request, Response } from 'express';
import { bodyFailure, verifyFormBody, verifyJsonBody } from '../common/body-checks';
import { sendError } from '../common/error-response';
import { oauthErrorBody } from '../clients/oauth-error';

/**
 * The body parsers AuthSwitch's routes expect, for an application created with
 * `bodyParser: false` (the server in this repository is one):
 * - JSON, its nesting and Unicode checked on the raw text before parsing (one linear pass), so
 *   a deep or broken body is refused with 400 for no more work than a flat one costs;
 * - the form-encoded OAuth token endpoint (RFC 6749), where extended: false makes a repeated
 *   field an array, which the endpoint refuses (§3.2: no parameter twice);
 * - every parse failure answered in the contract's error shape (RFC 6749's at /oauth/token),
 *   never Express's HTML page.
 * PagesModule parses its own forms.
 */
export function applyAuthSwitchBodyParsers(app: INestApplication, options: { limit?: string } = {}): void {
  const limit = options.limit ?? '100kb';
  app.use(express.json({ limit, verify: verifyJsonBody }));
  app.use('/oauth/token', express.urlencoded({ extended: false, limit, verify: verifyFormBody }));
  app.use(answerBodyFailures);
}

function answerBodyFailures(error: unknown, req: Request, res: Response, next: NextFunction): void {
  const failure = bodyFailure(error);
  if (!failure) return next(error);
  // OAuth clients read RFC 6749's error codes: an unreadable token request is invalid_request.
  if (req.path === '/oauth/token') {
    // An unsupported charset or encoding is a malformed request too; a body too large stays 413.
    const status = failure.status === 413 ? 413 : 400;
    res.status(status).setHeader('Cache-Control', 'no-store');
    res.json(oauthErrorBody(status, 'invalid_request', failure.message));
    return;
  }
  sendError(res, failure.status, failure.message);
}
