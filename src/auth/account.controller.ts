import { originOf } from '../audit/audit-events';
import { Body, Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiCreatedResponse, ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { AuthenticatedRequest, Principal, UserPrincipal } from '../common/authenticated-request';
import { ApiErrorResponse, ApiStrategySecurity } from '../common/openapi-decorators';
import { ChangePasswordDto, ForgotPasswordDto, RegisterDto, ResendVerificationDto, ResetPasswordDto, VerifyEmailDto } from '../users/dto';
import { toPublicUser } from '../users/user.entity';
import { AuthService } from './auth.service';
import { CurrentUser, OptionalCredentials, Public, UsersOnly } from '../access/decorators';
import { AuthSwitchRoutesBinding } from './group-routes';
import { EmailVerificationService } from './email-verification.service';
import { AUTH_SWITCH_PASSPORT, PassportInstance } from './strategies/passport-instance';
import { runStrategy } from './route-group.guard';
import { PasswordService } from './password.service';
import { UserResponse } from './responses';
import { authError } from '../common/auth-errors';

/** Group-independent account routes; authenticated ones accept a Bearer token or the session. */
@Controller('auth')
@AuthSwitchRoutesBinding()
@ApiTags('account')
// No route group: like the guard, the document treats these as `any`.
@ApiStrategySecurity('any')
export class AccountController {
  constructor(
    private readonly auth: AuthService,
    private readonly passwords: PasswordService,
    private readonly verification: EmailVerificationService,
    @Inject(AUTH_SWITCH_PASSPORT) private readonly passport: PassportInstance,
  ) {}

  @Public()
  @Post('password/forgot')
  @HttpCode(202)
  @ApiOperation({ summary: 'Mail a password-reset link, if the account exists (the answer is the same either way)' })
  @ApiAcceptedResponse({ description: 'Accepted; a mail follows when the account exists' })
  @ApiErrorResponse(429, 'Too many reset requests for this account or address; see Retry-After', 'Too many password reset attempts; try again later')
  async forgotPassword(@Body() body: ForgotPasswordDto, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    res.setHeader('Cache-Control', 'no-store');
    await this.passwords.requestReset(body.email, req.ip ?? '');
    return {};
  }

  @Public()
  @Post('password/reset')
  @HttpCode(204)
  @ApiOperation({
    summary: "Set a new password with a reset link's token; every earlier session and token of the user stops working, and the address counts as verified",
  })
  @ApiNoContentResponse({ description: 'Password changed' })
  @ApiErrorResponse(400, 'Unknown, used, expired or other-purpose token, or an invalid password', 'Invalid or expired token')
  @ApiErrorResponse(429, 'Too many attempts from this address; see Retry-After', 'Too many password reset attempts; try again later')
  async resetPassword(@Body() body: ResetPasswordDto, @Req() req: Request): Promise<void> {
    await this.passwords.reset(body.token, body.password, req.ip ?? '');
  }

  @UsersOnly()
  @Post('password/change')
  @HttpCode(204)
  @ApiOperation({ summary: 'Change your password; every session and token of yours issued before now stops working, this one included' })
  @ApiNoContentResponse({ description: 'Password changed' })
  @ApiErrorResponse(401, 'Not signed in, or the current password is wrong', 'Current password is wrong')
  @ApiErrorResponse(
    429,
    'Too many wrong passwords for this account (they count as failed logins) or address; see Retry-After',
    'Too many failed login attempts; try again later',
  )
  async changePassword(
    @CurrentUser() user: UserPrincipal,
    @Body() body: ChangePasswordDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    await this.passwords.change(user, body.currentPassword, body.newPassword, res, req.ip ?? '');
  }

  @Public()
  @Post('register')
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an account (always a plain user; sign in afterwards in a group)' })
  @ApiCreatedResponse({ type: UserResponse, description: 'The new account' })
  @ApiErrorResponse(409, 'An account with this email exists already', 'Email already registered')
  @ApiErrorResponse(429, 'Too many registrations from this address; see Retry-After', 'Too many registrations from this address; try again later')
  async register(@Body() body: RegisterDto, @Req() req: Request) {
    return toPublicUser(await this.auth.register(body, originOf(req)));
  }

  @Public()
  @Post('email/verify')
  @HttpCode(204)
  @ApiOperation({ summary: 'Confirm the address with the token of the link mailed at registration; `GET /{group}/me` then shows `emailVerified: true`' })
  @ApiNoContentResponse({ description: 'Address verified' })
  @ApiErrorResponse(400, 'Unknown, used, expired or other-purpose token', 'Invalid or expired token')
  @ApiErrorResponse(429, 'Too many token attempts from this address; see Retry-After', 'Too many attempts from this address; try again later')
  async verifyEmail(@Body() body: VerifyEmailDto, @Req() req: Request): Promise<void> {
    await this.verification.verify(body.token, req.ip ?? '');
  }

  // Public to the guard: signed out, `email` names the address; without it, the handler
  // authenticates the request itself exactly as the guard would (either credential, CSRF).
  @OptionalCredentials()
  @Post('email/resend')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Mail a new verification link: signed out to `email`, signed in (no `email`) to your own address',
    description:
      'The answer is the same 202 `{}` for unknown, verified and unverified addresses; only an unverified account gets a mail. ' +
      'Without `email` the request must be signed in: a Bearer token, or the session cookie with `X-CSRF-Token`.',
  })
  @ApiAcceptedResponse({ description: 'Accepted; a mail follows when an unverified account uses the address' })
  @ApiErrorResponse(401, 'No `email` and not signed in', 'Missing credentials')
  @ApiErrorResponse(403, 'No `email`, and session credentials came without the right X-CSRF-Token, or a client token', 'Missing or invalid CSRF token')
  @ApiErrorResponse(429, 'Too many verification mails for this account or address; see Retry-After', 'Too many verification mails requested; try again later')
  async resendVerification(@Body() body: ResendVerificationDto, @Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response) {
    res.setHeader('Cache-Control', 'no-store');
    const email = body.email ?? (await this.signedInUser(req)).email;
    await this.verification.resend(email, req.ip ?? '');
    return {};
  }

  @UsersOnly()
  @Post('logout-all')
  @HttpCode(204)
  @ApiOperation({ summary: "Sign out everywhere: end every session and revoke every token of the user's" })
  @ApiNoContentResponse({ description: 'Every credential of the user is revoked' })
  async logoutAll(@CurrentUser() user: UserPrincipal, @Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response): Promise<void> {
    await this.auth.revokeEverything(user, res, originOf(req, user.group ?? null));
  }

  /** What the guard does for a `@UsersOnly()` route without a group: either credential, CSRF for sessions. */
  private async signedInUser(req: AuthenticatedRequest): Promise<UserPrincipal> {
    const user: Principal = await runStrategy(this.passport, 'any', req);
    if (user.kind === 'client') throw authError('CLIENTS_NOT_ACCEPTED');
    return user;
  }
}
