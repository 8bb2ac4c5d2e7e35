import { originOf } from '../audit/audit-events';
import {
  CallHandler,
  Controller,
  ExecutionContext,
  Get,
  Header,
  HttpCode,
  HttpStatus,
  Inject,
  NestInterceptor,
  Post,
  Query,
  Req,
  Res,
  UseInterceptors,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { ClassConstructor } from 'class-transformer';
import type { Request, Response } from 'express';
import { AuthService } from '../auth/auth.service';
import { SessionAuthenticator } from '../auth/strategies/authenticators';
import { Public } from '../access/decorators';
import { DevicesService } from '../auth/devices.service';
import { LoginDto } from '../auth/dto';
import { EmailVerificationService } from '../auth/email-verification.service';
import { PasswordService } from '../auth/password.service';
import { describeRefusal, Refusal } from '../common/all-exceptions.filter';
import type { AuthenticatedRequest } from '../common/authenticated-request';
import { createValidationPipe } from '../common/validation';
import { PublicAddress } from '../common/public-address';
import { AUTH_SWITCH_OPTIONS, AUTH_SWITCH_ROUTES, AuthSwitchOptions } from '../config/auth-switch.options';
import type { AuthSwitchRoutes } from '../auth/group-routes';
import { isSessionCsrfToken } from '../sessions/csrf';
import { SessionService } from '../sessions/session.service';
import { ForgotPasswordDto, RegisterDto, ResetPasswordDto, VerifyEmailDto } from '../users/dto';
import {
  accountPage,
  adminHref,
  adminPage,
  HourlySignIns,
  forgotPasswordPage,
  FormState,
  loginPage,
  messagePage,
  PAGES_SCRIPT,
  registerPage,
  resetPasswordPage,
  verifyEmailPage,
} from './templates';
import { authError } from '../common/auth-errors';
import { isUUID } from 'class-validator';
import { AuditService } from '../audit/audit.service';
import type { AuditActor, AuditOrigin } from '../audit/audit-events';
import { DisableUserDto, USERS_PAGE_DEFAULT, USERS_QUERY_MAX } from '../auth/admin-users.dto';
import { AdminUsersService } from '../auth/admin-users.service';
import type { UserPrincipal } from '../common/authenticated-request';

const HOUR_MS = 3_600_000;
/** The admin page's role, as the admin API routes require it. */
const ADMIN_ROLE = 'admin';

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
 * A form another site made the browser send could sign it into an attacker's account (login
 * CSRF); the JSON API cannot be reached that way, so neither can these routes. Browsers label
 * such a request with `Sec-Fetch-Site`, and older ones, which do not, still send an `Origin`
 * with a form post: either one naming another site refuses the form. Clients that send neither
 * (curl, tests) are not browsers.
 */
function fromAnotherSite(req: Request, isOwnOrigin: (origin: string) => boolean): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = req.headers.origin;
  return origin !== undefined && !isOwnOrigin(origin);
}

/**
 * The pages' referrer policy. Not helmet's `no-referrer`: under it a browser sends `Origin: null`
 * with every form post, which the origin check above must refuse. `strict-origin` sends our
 * origin as Origin (and as the only Referer, never a path: a token in a page's URL stays there).
 */
const PAGE_REFERRER_POLICY = 'strict-origin';

class PageReferrerPolicy implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler) {
    context.switchToHttp().getResponse<Response>().setHeader('Referrer-Policy', PAGE_REFERRER_POLICY);
    return next.handle();
  }
}

/** The pipe AuthSwitch's API routes validate bodies with (AuthSwitchRoutesBinding). */
const validationPipe = createValidationPipe();

/**
 * Checks a form with the API's own validation pipe and DTO, so a form and a JSON request are
 * held to the same rules. Returns the transformed DTO, or the refusal with every problem.
 */
async function validated<T extends object>(dto: ClassConstructor<T>, body: Record<string, unknown>): Promise<T | Refusal> {
  try {
    return (await validationPipe.transform({ ...body }, { type: 'body', metatype: dto })) as T;
  } catch (error) {
    const refusal = describeRefusal(error);
    if (!refusal) throw error;
    return { ...refusal, message: refusal.details?.join('; ') ?? refusal.message };
  }
}

function isRefusal(value: object): value is Refusal {
  return typeof (value as Partial<Refusal>).status === 'number' && typeof (value as Partial<Refusal>).message === 'string';
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
@UseInterceptors(new PageReferrerPolicy())
export class PagesController {
  private readonly group: string | undefined;
  /** PUBLIC_URL's origin: the only `Origin` a page form may come from. */

  constructor(
    @Inject(AUTH_SWITCH_ROUTES) routes: AuthSwitchRoutes,
    @Inject(AUTH_SWITCH_OPTIONS) options: AuthSwitchOptions,
    private readonly sessionAuth: SessionAuthenticator,
    private readonly sessions: SessionService,
    private readonly auth: AuthService,
    private readonly passwords: PasswordService,
    private readonly verification: EmailVerificationService,
    private readonly devices: DevicesService,
    private readonly publicAddress: PublicAddress,
    private readonly admin: AdminUsersService,
    private readonly audit: AuditService,
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
    if (this.fromAnotherSite(req)) return again(this.crossSiteRefusal());

    const input = await validated(LoginDto, body);
    if (isRefusal(input)) return again(input);
    try {
      const user = await this.auth.verifyLogin(input.email, input.password, originOf(req, group));
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
    if (this.fromAnotherSite(req)) return again(this.crossSiteRefusal());

    const input = await validated(RegisterDto, body);
    if (isRefusal(input)) return again(input);
    try {
      // What POST /auth/register does: the same limit, checks and verification mail.
      const user = await this.auth.register(input, originOf(req, group));
      if (this.verification.required && !user.emailVerified) {
        // No session before the address is confirmed (REQUIRE_EMAIL_VERIFICATION), as at login.
        res
          .status(HttpStatus.CREATED)
          .type('html')
          .send(
            messagePage(group, 'Check your mail', 'Your account is created. Follow the link we sent to confirm your address, then sign in.', {
              href: '/login',
              text: 'Sign in',
            }),
          );
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
    if (this.fromAnotherSite(req)) return again(this.crossSiteRefusal());
    const input = await validated(ForgotPasswordDto, body);
    if (isRefusal(input)) return again(input);
    try {
      await this.passwords.requestReset(input.email, req.ip ?? '');
    } catch (error) {
      return again(this.refusal(error));
    }
    res.setHeader('Cache-Control', 'no-store');
    res
      .status(HttpStatus.OK)
      .type('html')
      .send(
        messagePage(group, 'Check your mail', 'If an account uses this address, a link to choose a new password is on its way.', {
          href: '/login',
          text: 'Back to sign in',
        }),
      );
  }

  @Get('reset-password')
  resetPassword(@Query('token') token: unknown, @Res() res: Response): void {
    // The page holds the token: never cached, and never sent on as a Referer (strict-origin).
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', PAGE_REFERRER_POLICY);
    res.type('html').send(resetPasswordPage(this.pagesGroup(), typeof token === 'string' ? token.slice(0, 128) : ''));
  }

  @Post('reset-password')
  async submitResetPassword(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    const body = fields(req);
    const token = typeof body.token === 'string' ? body.token.slice(0, 128) : '';
    res.setHeader('Referrer-Policy', PAGE_REFERRER_POLICY);
    const again = (refusal: Refusal) => this.render(res, refusal, resetPasswordPage(group, token, { error: refusal.message }));
    if (this.fromAnotherSite(req)) return again(this.crossSiteRefusal());
    const input = await validated(ResetPasswordDto, body);
    if (isRefusal(input)) return again(input);
    try {
      await this.passwords.reset(input.token, input.password, req.ip ?? '');
    } catch (error) {
      return again(this.refusal(error));
    }
    this.seeOther(res, '/login');
  }

  /**
   * The link mailed at registration. Opening it changes nothing (mail scanners open links): the
   * page holds a form with the token, and only its button (POST /verify-email) verifies.
   */
  @Get('verify-email')
  verifyEmail(@Query('token') token: unknown, @Res() res: Response): void {
    const group = this.pagesGroup();
    // The page holds the token: never cached, and never sent on as a Referer (strict-origin).
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', PAGE_REFERRER_POLICY);
    if (typeof token !== 'string' || token.length === 0) {
      const refusal = { status: HttpStatus.BAD_REQUEST, message: 'This link has no token; open the link of the mail we sent' };
      return this.render(res, refusal, messagePage(group, 'Address not verified', refusal.message, { href: '/login', text: 'Sign in' }));
    }
    res
      .status(HttpStatus.OK)
      .type('html')
      .send(verifyEmailPage(group, token.slice(0, 128)));
  }

  /** The verify page's button: what `POST /auth/email/verify` does, then says so. */
  @Post('verify-email')
  async submitVerifyEmail(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    res.setHeader('Referrer-Policy', PAGE_REFERRER_POLICY);
    const link = { href: '/account', text: 'Go to your account' };
    const refuse = (refusal: Refusal) => this.render(res, refusal, messagePage(group, 'Address not verified', refusal.message, link));
    if (this.fromAnotherSite(req)) return refuse(this.crossSiteRefusal());
    const input = await validated(VerifyEmailDto, fields(req));
    if (isRefusal(input)) return refuse(input);
    try {
      await this.verification.verify(input.token, req.ip ?? '');
    } catch (error) {
      return refuse(this.refusal(error));
    }
    res.setHeader('Cache-Control', 'no-store');
    res
      .status(HttpStatus.OK)
      .type('html')
      .send(messagePage(group, 'Address verified', 'Thank you: your email address is confirmed.', link));
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
    if (this.fromAnotherSite(req)) return refuse(this.crossSiteRefusal());
    let signedOut: boolean;
    try {
      const user = await this.sessionAuth.current(req, res);
      if (!user) return this.seeOther(res, '/login');
      const body = fields(req);
      if (!isSessionCsrfToken(body._csrf, req.authSession?.csrfToken)) {
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
    if (this.fromAnotherSite(req)) return refuse(this.crossSiteRefusal());
    try {
      const user = await this.sessionAuth.current(req, res);
      if (!user) return this.seeOther(res, '/login');
      if (!isSessionCsrfToken(fields(req)._csrf, req.authSession?.csrfToken)) {
        return refuse({ status: HttpStatus.FORBIDDEN, message: 'Missing or invalid CSRF token; reload your account page and try again' });
      }
      await this.sessions.destroy(req, res);
    } catch (error) {
      return refuse(this.refusal(error));
    }
    this.seeOther(res, '/login');
  }

  /**
   * The administration page (role admin, on the pages' session): users with search and
   * disable/enable buttons, the recent events, and sign-ins per hour. Signed out: to /login.
   */
  @Get('admin')
  async adminHome(@Query('query') query: unknown, @Query('cursor') cursor: unknown, @Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    const group = this.pagesGroup();
    res.setHeader('Cache-Control', 'no-store');
    const user = await this.sessionAuth.current(req, res);
    if (!user) return res.redirect(302, '/login');
    if (!user.roles.includes(ADMIN_ROLE)) return this.render(res, this.notAdmin(), this.notAdminPage(group));
    const search = typeof query === 'string' ? query.slice(0, USERS_QUERY_MAX) : '';
    let error: string | undefined;
    let page: Awaited<ReturnType<AdminUsersService['list']>> = { users: [], next_cursor: null };
    try {
      page = await this.admin.list({ query: search, limit: USERS_PAGE_DEFAULT, cursor: typeof cursor === 'string' && cursor !== '' ? cursor : undefined });
    } catch (failure) {
      const refusal = this.refusal(failure);
      if (refusal.status !== HttpStatus.BAD_REQUEST) throw failure;
      error = refusal.message;
    }
    const [events, chart] = await Promise.all([this.audit.list({ limit: 20 }), this.signInsPerHour()]);
    res
      .status(error ? HttpStatus.BAD_REQUEST : HttpStatus.OK)
      .type('html')
      .send(
        adminPage(group, {
          admin: user,
          csrfToken: req.authSession?.csrfToken ?? '',
          query: search,
          users: page.users,
          nextCursor: page.next_cursor,
          events: events.events,
          chart,
          error,
        }),
      );
  }

  /** The Disable button of a row of /admin (fields `id`, `reason`, `_csrf`): what `POST .../users/:id/disable` does. */
  @Post('admin/users/disable')
  async submitDisableUser(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    await this.adminForm(req, res, async (id, body, actor, origin) => {
      const input = await validated(DisableUserDto, { reason: body.reason });
      if (isRefusal(input)) return input;
      await this.admin.disable(id, input, actor, origin);
    });
  }

  /** The Enable button of a row of /admin. */
  @Post('admin/users/enable')
  async submitEnableUser(@Req() req: AuthenticatedRequest, @Res() res: Response): Promise<void> {
    await this.adminForm(req, res, async (id, _body, actor, origin) => {
      await this.admin.enable(id, actor, origin);
    });
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

  /**
   * A button of the admin page: the same protections as every page form (another site's form is
   * refused, the session's CSRF token is required), then the role; back to /admin with the search.
   */
  private async adminForm(
    req: AuthenticatedRequest,
    res: Response,
    act: (id: string, body: Record<string, unknown>, actor: AuditActor, origin: AuditOrigin) => Promise<Refusal | void>,
  ): Promise<void> {
    const group = this.pagesGroup();
    const body = fields(req);
    const back = adminHref(typeof body.query === 'string' ? body.query.slice(0, USERS_QUERY_MAX) : '');
    const refuse = (refusal: Refusal) =>
      this.render(res, refusal, messagePage(group, 'Not done', refusal.message, { href: back, text: 'Back to administration' }));
    if (this.fromAnotherSite(req)) return refuse(this.crossSiteRefusal());
    try {
      const user: UserPrincipal | null = await this.sessionAuth.current(req, res);
      if (!user) return this.seeOther(res, '/login');
      if (!isSessionCsrfToken(body._csrf, req.authSession?.csrfToken)) {
        return refuse({ status: HttpStatus.FORBIDDEN, message: 'Missing or invalid CSRF token; reload the administration page and try again' });
      }
      if (!user.roles.includes(ADMIN_ROLE)) return refuse(this.notAdmin());
      if (typeof body.id !== 'string' || !isUUID(body.id, 4)) return refuse({ status: HttpStatus.BAD_REQUEST, message: 'No user was chosen' });
      const refusal = await act(body.id, body, { kind: 'admin', id: user.id }, originOf(req, group));
      if (refusal) return refuse(refusal);
    } catch (error) {
      return refuse(this.refusal(error));
    }
    this.seeOther(res, back);
  }

  private notAdmin(): Refusal {
    return { status: HttpStatus.FORBIDDEN, message: 'Insufficient role' };
  }

  private notAdminPage(group: string): string {
    return messagePage(group, 'Not allowed', 'This page is for administrators.', { href: '/account', text: 'Your account' });
  }

  /** login.succeeded and login.failed per hour, for the 24 hours up to and including this one. */
  private async signInsPerHour(): Promise<HourlySignIns[]> {
    const first = (Math.floor(Date.now() / HOUR_MS) - 23) * HOUR_MS;
    const rows = await this.audit.countByHour(['login.succeeded', 'login.failed'], first);
    const count = (type: string, hourStart: number) => rows.find((row) => row.type === type && row.hourStart === hourStart)?.count ?? 0;
    return Array.from({ length: 24 }, (_, index) => {
      const hourStart = first + index * HOUR_MS;
      return { hourStart, succeeded: count('login.succeeded', hourStart), failed: count('login.failed', hourStart) };
    });
  }

  private pagesGroup(): string {
    if (!this.group) throw authError('NO_PAGES');
    return this.group;
  }

  /** What the API would have answered (the exception filter's own mapping), for the page. */
  private refusal(error: unknown): Refusal {
    const refusal = describeRefusal(error);
    // A bug, not a refusal: the exception filter logs it and answers 500.
    if (!refusal) throw error;
    return refusal;
  }

  private fromAnotherSite(req: Request): boolean {
    return fromAnotherSite(req, (origin) => this.publicAddress.isOwnOrigin(origin));
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
