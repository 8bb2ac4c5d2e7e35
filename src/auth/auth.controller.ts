import { Body, Controller, Get, HttpCode, Post, Req, Res, UnauthorizedException } from '@nestjs/common';
import type { Response } from 'express';
import type { AuthenticatedRequest, Principal } from '../common/authenticated-request';
import { TokensService } from '../tokens/tokens.service';
import { AuthService } from './auth.service';
import { CurrentUser, GROUP_FROM_PATH, OnlyForStrategies, Public, RouteGroup } from './decorators';
import { LoginDto, LogoutDto, RefreshDto } from './dto';

/**
 * The routes every group of AUTH_ROUTE_GROUPS gets under its own prefix (`/web/...`,
 * `/api/...`). The guard resolves `:group` and answers 404 for groups that are not configured
 * and for routes the group's strategy does not have.
 */
@Controller(':group')
@RouteGroup(GROUP_FROM_PATH)
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly tokens: TokensService,
  ) {}

  @Public()
  @Post('auth/login')
  @HttpCode(200)
  async login(@Body() body: LoginDto, @Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response) {
    const user = await this.auth.verifyLogin(body.email, body.password, req.ip ?? '');
    res.setHeader('Cache-Control', 'no-store');
    return this.auth.login(req.routeGroup!.strategy, user, req, res);
  }

  @Get('me')
  me(@CurrentUser() user: Principal) {
    return { id: user.id, email: user.email, name: user.name, roles: user.roles };
  }

  @Post('auth/logout')
  @HttpCode(204)
  async logout(
    @CurrentUser() user: Principal,
    @Body() body: LogoutDto,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    await this.auth.logout(user, req, res, body.refresh_token);
  }

  @Public()
  @OnlyForStrategies('jwt', 'any')
  @Post('auth/refresh')
  @HttpCode(200)
  async refresh(@Body() body: RefreshDto, @Res({ passthrough: true }) res: Response) {
    res.setHeader('Cache-Control', 'no-store');
    return this.tokens.refresh(body.refresh_token);
  }

  /** The session's CSRF token, for pages that lost it (a reload, a second tab). */
  @OnlyForStrategies('session', 'any')
  @Get('auth/csrf')
  csrf(@CurrentUser() user: Principal, @Req() req: AuthenticatedRequest) {
    const csrfToken = req.authSession?.csrfToken;
    if (user.via !== 'session' || !csrfToken) throw new UnauthorizedException('Not signed in with a session');
    return { csrfToken };
  }
}
