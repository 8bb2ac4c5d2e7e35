import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { NextFunction, Request, Response, urlencoded } from 'express';
import { bodyFailure, verifyFormBody } from '../common/body-checks';
import { sendError } from '../common/error-response';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersModule } from '../users/users.module';
import { PagesController } from './pages.controller';

/** Page forms post at most this much; the API's JSON limit is the server's own setting. */
const FORM_BODY_LIMIT = '100kb';

// extended: false (querystring): a repeated field is an array and nothing nests. verifyFormBody
// refuses text that is not Unicode or names nested too deep, in one pass over the raw bytes.
const parseForm = urlencoded({ extended: false, limit: FORM_BODY_LIMIT, verify: verifyFormBody });

/** Parses a form body; one it cannot read gets the contract's JSON error, whatever the host's error handlers. */
function formBodies(req: Request, res: Response, next: NextFunction): void {
  parseForm(req, res, (error?: unknown) => {
    if (!error) return next();
    const failure = bodyFailure(error);
    if (failure) return sendError(res, failure.status, failure.message);
    next(error);
  });
}

/**
 * The browser pages (/login, /register, /account, /admin, password reset, email verification) on the
 * session of the `web` group. Import it next to AuthSwitchModule.forRoot() to serve them from a
 * host; it parses its own form bodies, so the host's body-parser settings do not matter.
 */
@Module({ imports: [AuditModule, AuthModule, SessionsModule, UsersModule], controllers: [PagesController] })
export class PagesModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(formBodies).forRoutes(PagesController);
  }
}
