import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { Principal } from '../common/authenticated-request';
import { ApiErrorResponse, ApiStrategySecurity } from '../openapi/decorators';
import { RegisterDto } from '../users/dto';
import { toPublicUser } from '../users/user.entity';
import { UsersService } from '../users/users.service';
import { AuthService } from './auth.service';
import { CurrentUser, Public } from './decorators';
import { AuthSwitchRoutesBinding } from './group-routes';
import { LoginRateLimiter } from './login-rate-limiter';
import { UserResponse } from './responses';

/** Group-independent account routes; authenticated ones accept a Bearer token or the session. */
@Controller('auth')
@AuthSwitchRoutesBinding()
@ApiTags('account')
// No route group: like the guard, the document treats these as `any`.
@ApiStrategySecurity('any')
export class AccountController {
  constructor(
    private readonly users: UsersService,
    private readonly auth: AuthService,
    private readonly limiter: LoginRateLimiter,
  ) {}

  @Public()
  @Post('register')
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an account (always a plain user; sign in afterwards in a group)' })
  @ApiCreatedResponse({ type: UserResponse, description: 'The new account' })
  @ApiErrorResponse(409, 'An account with this email exists already', 'Email already registered')
  @ApiErrorResponse(429, 'Too many registrations from this address; see Retry-After', 'Too many registrations from this address; try again later')
  async register(@Body() body: RegisterDto, @Req() req: Request) {
    // Counted per address before any work, so a burst cannot create accounts past the limit.
    await this.limiter.takeRegistration(req.ip ?? '');
    // Roles are never taken from the client: every new account is a plain user.
    return toPublicUser(await this.users.create({ email: body.email, password: body.password, name: body.name }));
  }

  @Post('logout-all')
  @HttpCode(204)
  @ApiOperation({ summary: "Sign out everywhere: end every session and revoke every token of the user's" })
  @ApiNoContentResponse({ description: 'Every credential of the user is revoked' })
  async logoutAll(@CurrentUser() user: Principal, @Res({ passthrough: true }) res: Response): Promise<void> {
    await this.auth.revokeEverything(user, res);
  }
}
