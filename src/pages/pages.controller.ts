import { Controller, Get, Header, HttpCode, HttpException, HttpStatus, Inject, NotFoundException, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { ClassConstructor, plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { Request, Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { AuthService } from '../auth/auth.service';
import { SessionAuthenticator } from '../auth/strategies/authenticators';
import { Public } from '../access/decorators';
import { DevicesService } from '../auth/devices.service';
import { LoginDto } from '../auth/dto';
import { LoginRateLimiter } from '../auth/login-rate-limiter';
import { EmailVerificationService } from '../auth/email-verification.service';
import { PasswordService } from '../auth/password.service';
import type { AuthenticatedRequest } from '../common/authenticated-request';
import { isConnectionError } from '../common/store-unavailable.error';
import { AUTH_SWITCH_ROUTES } from '../config/auth-switch.options';
import type { AuthSwitchRoutes } from '../auth/group-routes';
import { SessionService } from '../sessions/session.service';
import { ForgotPasswordDto, RegisterDto, ResetPasswordDto } from '../users/dto';
import { UsersService } from '../users/users.service';
import { accountPage, forgotPasswordPage, FormState, loginPage, messagePage, PAGES_SCRIPT, registerPage, resetPasswordPage } from './templates';

/** The answer a form gets when the API would have refused the same request. */
interface Refusal {
  status: number;
  message: string;
  retryAfterSeconds?: number;
}

/** The body of a form post as a plain record; anything else (no body, a JSON array) is empty. */
function fields(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

/** A field to show again in the form: only strings, and never more than the API would take. */
function echo(value: unknown, max: number): string | undefined {
  return typeof value === 'string' ? value.slice(0, max) : undefined;
}

/**
 * Browsers label the requests another site makes them send. A form posted from elsewhere could
 * sign the browser into an attacker's account (login CSRF); the JSON API cannot be reached that
 * way, so neither can these routes. Clients that send no label (curl, tests) are not browsers.
 */
function fromAnotherSite(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  return site === 'cross-site' || site === 'same-site';
}

/** Constant-time comparison of the form's CSRF token with the session's. */
function sameToken(received: unknown, expected: string | undefined): boolean {
  if (typeof received !== 'string' || typeof expected !== 'string') return false;
  const a = Buffer.from(received);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Checks a form against the API's DTO with the global ValidationPipe's options, so a form and
 * a JSON request are held to the same rules. Returns the transformed DTO or the messages.
 */
async function validated<T extends object>(dto: ClassConstructor<T>, body: Record<string, unknown>): Promise<T | string> {
  const value = plainToInstance(dto, { ...body });
  const errors = await validate(value, {
    whitelist: true,
    forbidUnknownValues: true,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
  });
  if (errors.length === 0) return value;
  return errors.flatMap((error) => Object.values(error.constraints ?? {})).join('; ');
}

/**
 * Minimal browser pages on the session of the `web` group (or the first session group when
 * `web` uses another strategy). Without any session group there are no pages.
 *
 * Every form is a plain POST form answered here (303 on success, the form again with the
 * message on failure), so the pages work without scripts; the script, when it runs, sends the
 * same forms to the JSON API instead.
 */
@Controller()
@Public()
// HTML forms for browsers, not an API: kept out of the OpenAPI document.
@ApiExcludeController()
export class PagesController {
  private readonly group: string | undefined;

  constructor(
    @Inject(AUTH_SWITCH_ROUTES) routes: AuthSwitchRoutes,
    private readonly sessionAuth: SessionAuthenticator,
    private readonly sessions: SessionService,
    private readonly auth: AuthService,
    private readonly users: UsersService,
    private readonly limiter: LoginRateLimiter,
    private readonly passwords: PasswordService,
    private readonly verification: EmailVerificationService,
    private readonly devices: DevicesService,
  ) {
    const sessionGroups = [...routes.groups].filter(([, strategy]) => strategy === 'session').map(([name]) => name);
    this.group = sessionGroups.includes('web') ? 'web' : sessionGroups[0];
  }

  @Get('login')
  @Header('Content-Type', 'text/html; charset=utf-8')
  login(): string {
    return loginPage(this.pagesGroup());
  }

  /** The login form without scripts: same checks, limits and answers as `POST /G/auth/login`. */
  @Post('login')
  async submitLogin(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    const body = fields(req);
    const state: FormState = { email: echo(body.email, 320) };
    const again = (refusal: Refusal) => this.render(res, refusal, loginPage(group, { ...state, error: refusal.message }));
    if (fromAnotherSite(req)) return again(this.crossSiteRefusal());

    const input = await validated(LoginDto, body);
    if (typeof input === 'string') return again({ status: HttpStatus.BAD_REQUEST, message: input });
    try {
      const user = await this.auth.verifyLogin(input.email, input.password, req.ip ?? '');
      await this.auth.login(group, 'session', user, req, res);
    } catch (error) {
      return again(this.refusal(error));
    }
    this.seeOther(res, '/account');
  }

  @Get('register')
  @Header('Content-Type', 'text/html; charset=utf-8')
  register(): string {
    return registerPage(this.pagesGroup());
  }

  /** The register form without scripts: `POST /auth/register`, then signed in on the pages' session. */
  @Post('register')
  async submitRegister(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    const body = fields(req);
    const state: FormState = { email: echo(body.email, 320), name: echo(body.name, 100) };
    const again = (refusal: Refusal) => this.render(res, refusal, registerPage(group, { ...state, error: refusal.message }));
    if (fromAnotherSite(req)) return again(this.crossSiteRefusal());

    const input = await validated(RegisterDto, body);
    if (typeof input === 'string') return again({ status: HttpStatus.BAD_REQUEST, message: input });
    try {
      // The same per-address registration limit as the API, counted before any work.
      await this.limiter.takeRegistration(req.ip ?? '');
      // Roles are never taken from the client: every new account is a plain user.
      const user = await this.users.create({ email: input.email, password: input.password, name: input.name });
      this.verification.sendAfterRegistration(user);
      if (this.verification.required && !user.emailVerified) {
        // No session before the address is confirmed (REQUIRE_EMAIL_VERIFICATION), as at login.
        res.status(HttpStatus.CREATED).type('html').send(messagePage(group, 'Check your mail', 'Your account is created. Follow the link we sent to confirm your address, then sign in.', { href: '/login', text: 'Sign in' }));
        return;
      }
      await this.auth.login(group, 'session', user, req, res);
    } catch (error) {
      return again(this.refusal(error));
    }
    this.seeOther(res, '/account');
  }

  @Get('forgot-password')
  @Header('Content-Type', 'text/html; charset=utf-8')
  forgotPassword(): string {
    return forgotPasswordPage(this.pagesGroup());
  }

  /** The same request as `POST /auth/password/forgot`, and the same answer whether or not the account exists. */
  @Post('forgot-password')
  async submitForgotPassword(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    const body = fields(req);
    const again = (refusal: Refusal) => this.render(res, refusal, forgotPasswordPage(group, { email: echo(body.email, 320), error: refusal.message }));
    if (fromAnotherSite(req)) return again(this.crossSiteRefusal());
    const input = await validated(ForgotPasswordDto, body);
    if (typeof input === 'string') return again({ status: HttpStatus.BAD_REQUEST, message: input });
    try {
      await this.passwords.requestReset(input.email, req.ip ?? '');
    } catch (error) {
      return again(this.refusal(error));
    }
    res.setHeader('Cache-Control', 'no-store');
    res.status(HttpStatus.OK).type('html').send(messagePage(group, 'Check your mail', 'If an account uses this address, a link to choose a new password is on its way.', { href: '/login', text: 'Back to sign in' }));
  }

  @Get('reset-password')
  resetPassword(@Query('token') token: unknown, @Res() res: Response): void {
    // The page holds the token: never cached, and never sent on to another site as a Referer.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.type('html').send(resetPasswordPage(this.pagesGroup(), typeof token === 'string' ? token.slice(0, 128) : ''));
  }

  @Post('reset-password')
  async submitResetPassword(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    const body = fields(req);
    const token = typeof body.token === 'string' ? body.token.slice(0, 128) : '';
    res.setHeader('Referrer-Policy', 'no-referrer');
    const again = (refusal: Refusal) => this.render(res, refusal, resetPasswordPage(group, token, { error: refusal.message }));
    if (fromAnotherSite(req)) return again(this.crossSiteRefusal());
    const input = await validated(ResetPasswordDto, body);
    if (typeof input === 'string') return again({ status: HttpStatus.BAD_REQUEST, message: input });
    try {
      await this.passwords.reset(input.token, input.password, req.ip ?? '');
    } catch (error) {
      return again(this.refusal(error));
    }
    this.seeOther(res, '/login');
  }

  /** The link mailed at registration: verifies on opening (the mail proves the mailbox), then says so. */
  @Get('verify-email')
  async verifyEmail(@Query('token') token: unknown, @Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    const link = { href: '/account', text: 'Go to your account' };
    try {
      await this.verification.verify(typeof token === 'string' ? token.slice(0, 128) : '', req.ip ?? '');
    } catch (error) {
      const refusal = this.refusal(error);
      return this.render(res, refusal, messagePage(group, 'Address not verified', refusal.message, link));
    }
    res.status(HttpStatus.OK).type('html').send(messagePage(group, 'Address verified', 'Thank you: your email address is confirmed.', link));
  }

  @Get('account')
  async account(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    res.setHeader('Cache-Control', 'no-store');
    const user = await this.sessionAuth.current(req, res);
    if (!user) return res.redirect(302, '/login');
    const devices = await this.devices.list(user, req);
    res.type('html').send(accountPage(group, user, devices, req.authSession?.csrfToken ?? ''));
  }

  /**
   * The account page's "End" button of one sign-in (a form per row, `id` and `_csrf` fields),
   * as `DELETE /auth/sessions/:id` does it. Back to /account, or to /login when the session
   * that ended is this browser's own.
   */
  @Post('account/sessions/end')
  async submitEndSession(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    const refuse = (refusal: Refusal) =>
      this.render(res, refusal, messagePage(group, 'Not ended', refusal.message, { href: '/account', text: 'Back to your account' }));
    if (fromAnotherSite(req)) return refuse(this.crossSiteRefusal());
    let signedOut: boolean;
    try {
      const user = await this.sessionAuth.current(req, res);
      if (!user) return this.seeOther(res, '/login');
      const body = fields(req);
      if (!sameToken(body._csrf, req.authSession?.csrfToken)) {
        return refuse({ status: HttpStatus.FORBIDDEN, message: 'Missing or invalid CSRF token; reload your account page and try again' });
      }
      const ended = await this.devices.end(user, body.id, req, res);
      signedOut = ended.kind === 'session' && ended.current;
    } catch (error) {
      return refuse(this.refusal(error));
    }
    this.seeOther(res, signedOut ? '/login' : '/account');
  }

  /**
   * The account page's logout form without scripts. The session's CSRF token comes in the
   * `_csrf` field (a form cannot send the header the API wants). No session: already out.
   */
  @Post('logout')
  async submitLogout(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    const refuse = (refusal: Refusal, link = { href: '/account', text: 'Back to your account' }) =>
      this.render(res, refusal, messagePage(group, 'Not signed out', refusal.message, link));
    if (fromAnotherSite(req)) return refuse(this.crossSiteRefusal());
    try {
      const user = await this.sessionAuth.current(req, res);
      if (!user) return this.seeOther(res, '/login');
      if (!sameToken(fields(req)._csrf, req.authSession?.csrfToken)) {
        return refuse({ status: HttpStatus.FORBIDDEN, message: 'Missing or invalid CSRF token; reload your account page and try again' });
      }
      await this.sessions.destroy(req, res);
    } catch (error) {
      return refuse(this.refusal(error));
    }
    this.seeOther(res, '/login');
  }

  @Get('assets/pages.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=300')
  script(): string {
    return PAGES_SCRIPT;
  }

  /** Browsers ask for it on every page; an empty answer keeps their consoles clean. */
  @Get('favicon.ico')
  @HttpCode(204)
  @Header('Cache-Control', 'public, max-age=86400')
  favicon(): void {}

  private pagesGroup(): string {
    if (!this.group) throw new NotFoundException('No route group uses sessions, so there are no pages');
    return this.group;
  }

  /** What the API would have answered, as a status and message for the page. */
  private refusal(error: unknown): Refusal {
    if (error instanceof HttpException) {
      const response = error.getResponse();
      const message = typeof response === 'string' ? response : (response as { message?: unknown }).message;
      const retry = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
      return {
        status: error.getStatus(),
        message: typeof message === 'string' ? message : error.message,
        retryAfterSeconds: typeof retry === 'number' ? retry : undefined,
      };
    }
    if (isConnectionError(error)) {
      return { status: HttpStatus.SERVICE_UNAVAILABLE, message: 'A backing store is unavailable; try again shortly' };
    }
    // A bug, not a refusal: the exception filter logs it and answers 500.
    throw error;
  }

  private crossSiteRefusal(): Refusal {
    return { status: HttpStatus.FORBIDDEN, message: 'This form was sent from another site; open the page here and try again' };
  }

  private render(res: Response, refusal: Refusal, html: string): void {
    if (refusal.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(refusal.retryAfterSeconds));
    // The page may show the email typed; it is personal and must not be cached.
    res.status(refusal.status).setHeader('Cache-Control', 'no-store');
    res.type('html').send(html);
  }

  /** 303: the browser follows with a GET, so reloading the next page does not post the form again. */
  private seeOther(res: Response, location: string): void {
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, location);
  }
}
