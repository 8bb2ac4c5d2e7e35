import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Principal } from '../common/authenticated-request';
import { RegisterDto } from '../users/dto';
import { toPublicUser } from '../users/user.entity';
import { UsersService } from '../users/users.service';
import { AuthService } from './auth.service';
import { CurrentUser, Public } from './decorators';
import { AuthSwitchRoutesBinding } from './group-routes';
import { LoginRateLimiter } from './login-rate-limiter';

/** Group-independent account routes; authenticated ones accept a Bearer token or the session. */
@Controller('auth')
@AuthSwitchRoutesBinding()
export class AccountController {
  constructor(
    private readonly users: UsersService,
    private readonly auth: AuthService,
    private readonly limiter: LoginRateLimiter,
  ) {}

  @Public()
  @Post('register')
  @HttpCode(201)
  async register(@Body() body: RegisterDto, @Req() req: Request) {
    // Counted per address before any work, so a burst cannot create accounts past the limit.
    await this.limiter.takeRegistration(req.ip ?? '');
    // Roles are never taken from the client: every new account is a plain user.
    return toPublicUser(await this.users.create({ email: body.email, password: body.password, name: body.name }));
  }

  @Post('logout-all')
  @HttpCode(204)
  async logoutAll(@CurrentUser() user: Principal, @Res({ passthrough: true }) res: Response): Promise<void> {
    await this.auth.revokeEverything(user, res);
  }
}
