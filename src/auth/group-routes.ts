import { originOf } from '../audit/audit-events';
import {
  applyDecorators,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Injectable,
  Param,
  ParseUUIDPipe,
  Post,
  Put,
  Query,
  Req,
  Res,
  Type,
  UseFilters,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Response } from 'express';
import type { AuthenticatedRequest, Principal, UserPrincipal } from '../common/authenticated-request';
import { AllExceptionsFilter } from '../common/all-exceptions.filter';
import { createValidationPipe } from '../common/validation';
import { ApiErrorResponse, ApiResponseByStrategy, ApiStrategySecurity } from '../common/openapi-decorators';
import { RouteGroupGuard } from './route-group.guard';
import type { AuthStrategy } from '../config/route-groups';
import { TokensService } from '../tokens/tokens.service';
import { SetRolesDto } from '../users/dto';
import { RevocationService } from '../tokens/revocation.service';
import { AuthService } from './auth.service';
import { AllowClients, CurrentUser, Public, Roles, RouteGroup, UsersOnly } from '../access/decorators';
import { LoginDto, LogoutDto, RefreshDto } from './dto';
import { AnyLoginResponse, ClientMeResponse, CsrfTokenResponse, MeResponse, SessionLoginResponse, TokenPairResponse, UserResponse } from './responses';
import { authError } from '../common/auth-errors';
import { AdminUserDetailResponse, AdminUserListResponse, DisableUserDto, ListUsersQuery } from './admin-users.dto';
import { AdminUsersService } from './admin-users.service';

/** The route groups of one AuthSwitch module, resolved at start-up. */
export interface AuthSwitchRoutes {
  groups: ReadonlyMap<string, AuthStrategy>;
  /** The group holding `/<group>/admin/users/:id/roles`. */
  adminGroup: string;
  /** Whether RouteGroupGuard is registered as the application's global guard. */
  globalGuard: boolean;
}

/**
 * What every AuthSwitch controller carries, so that it behaves the same in any host: its own
 * guard (a no-op where RouteGroupGuard is already global), body validation and the JSON error
 * shape, whether or not the host registers a global pipe and filter.
 */
export function AuthSwitchRoutesBinding(): ClassDecorator {
  return (target) => {
    UseGuards(RouteGroupGuard)(target);
    UsePipes(createValidationPipe())(target);
    UseFilters(AllExceptionsFilter)(target);
  };
}

/*
 * The routes every group gets under its own prefix (`/web/...`, `/api/...`). A controller class
 * is built per configured group at start-up (see groupControllers), so only real groups have
 * routes: there is no `/:group` wildcard to hide an application's own controllers. Which routes
 * a group has follows from its strategy.
 */

/** Every group: who am I. (@Injectable so that its constructor's types are recorded for DI.) */
@Injectable()
@AuthSwitchRoutesBinding()
abstract class GroupRoutes {
  constructor(
    protected readonly auth: AuthService,
    protected readonly tokens: TokensService,
    protected readonly revocation: RevocationService,
  ) {}

  // Also who a machine client is: the one group route open to client tokens.
  @AllowClients()
  @Get('me')
  @ApiOperation({ summary: 'The signed-in user' })
  @ApiExtraModels(MeResponse, ClientMeResponse)
  @ApiOkResponse({
    description: 'The user the credential belongs to; for a machine client token, `{client_id, scope}`',
    schema: { oneOf: [{ $ref: getSchemaPath(MeResponse) }, { $ref: getSchemaPath(ClientMeResponse) }] },
  })
  me(@CurrentUser() user: Principal) {
    if (user.kind === 'client') return { client_id: user.clientId, scope: (user.scopes ?? []).join(' ') };
    // A credential signed after verification says so; for an older one, the verification was
    // announced to every instance (verification ends no credential). No database read either way.
    const emailVerified = user.emailVerified === true || this.revocation.hasVerifiedEmail(user.id);
    return { id: user.id, email: user.email, name: user.name, roles: user.roles, emailVerified };
  }
}

/** Groups with a built-in strategy: sign in with a password, sign out. */
abstract class SignInRoutes extends GroupRoutes {
  @Public()
  @Post('auth/login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in with email and password', description: "What it answers follows the group's strategy." })
  @ApiResponseByStrategy(200, 'Signed in', { session: SessionLoginResponse, jwt: TokenPairResponse, any: AnyLoginResponse })
  @ApiErrorResponse(401, 'Wrong email or password (the same answer for an unknown email)', 'Invalid credentials')
  @ApiErrorResponse(429, 'Too many failed logins for this account or address; see Retry-After', 'Too many failed login attempts; try again later')
  async login(@Body() body: LoginDto, @Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response) {
    const user = await this.auth.verifyLogin(body.email, body.password, originOf(req, req.routeGroup?.name ?? null));
    res.setHeader('Cache-Control', 'no-store');
    const { name, strategy } = req.routeGroup!;
    return this.auth.login(name!, strategy, user, req, res);
  }

  @UsersOnly()
  @Post('auth/logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Sign out: end the session, or revoke the refresh token given (and its family)' })
  @ApiBody({ type: LogoutDto, required: false })
  @ApiNoContentResponse({ description: 'Signed out' })
  async logout(
    @CurrentUser() user: UserPrincipal,
    @Body() body: LogoutDto,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    await this.auth.logout(user, req, res, body.refresh_token);
  }
}

/** `GET auth/csrf`: the session's CSRF token, for pages that lost it (a reload, a second tab). */
const CsrfTokenRoute = () =>
  applyDecorators(
    Get('auth/csrf'),
    ApiOperation({ summary: "The session's CSRF token again (after a reload, in a second tab)" }),
    ApiOkResponse({ type: CsrfTokenResponse, description: "The session's CSRF token" }),
    ApiErrorResponse(401, 'Not signed in with a session', 'Not signed in with a session'),
  );

function csrfTokenOf(user: UserPrincipal, req: AuthenticatedRequest) {
  const csrfToken = req.authSession?.csrfToken;
  if (user.via !== 'session' || !csrfToken) throw authError('NOT_SIGNED_IN_WITH_SESSION');
  return { csrfToken };
}

class SessionGroupRoutes extends SignInRoutes {
  @CsrfTokenRoute()
  csrf(@CurrentUser() user: UserPrincipal, @Req() req: AuthenticatedRequest) {
    return csrfTokenOf(user, req);
  }
}

class JwtGroupRoutes extends SignInRoutes {
  @Public()
  @Post('auth/refresh')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Trade a refresh token for a new token pair (the old refresh token is spent)',
    description:
      'A spent refresh token presented again is a reuse: its family and every token issued from it are revoked. ' +
      'With REFRESH_REUSE_GRACE_SECONDS set, a repeat within that many seconds of the spend (a second tab, a retried request) ' +
      'instead answers the same pair as the first presentation, while that pair is unused and the family alive.',
  })
  @ApiOkResponse({ type: TokenPairResponse, description: 'A new token pair (within the reuse grace, the pair already handed out for this token)' })
  @ApiErrorResponse(401, 'Unknown, expired, revoked or already spent refresh token, or one issued for another group', 'Invalid refresh token')
  async refresh(@Body() body: RefreshDto, @Req() req: AuthenticatedRequest, @Res({ passthrough: true }) res: Response) {
    res.setHeader('Cache-Control', 'no-store');
    return this.tokens.refresh(body.refresh_token, req.routeGroup!.name!, originOf(req, req.routeGroup!.name!));
  }
}

class AnyGroupRoutes extends JwtGroupRoutes {
  @CsrfTokenRoute()
  csrf(@CurrentUser() user: UserPrincipal, @Req() req: AuthenticatedRequest) {
    return csrfTokenOf(user, req);
  }
}

/** A group on an application's own Passport strategy: it signs in its own way. */
class StrategyGroupRoutes extends GroupRoutes {}

const ROUTES_BY_STRATEGY: Record<string, Type<GroupRoutes>> = {
  session: SessionGroupRoutes,
  jwt: JwtGroupRoutes,
  any: AnyGroupRoutes,
};

/** A controller class per configured group, mounted at the group's name. */
export function groupControllers(routes: AuthSwitchRoutes): Type[] {
  return [...routes.groups].map(([group, strategy]) => {
    const base = ROUTES_BY_STRATEGY[strategy] ?? StrategyGroupRoutes;
    const controller = named(class extends base {}, `${pascalCase(group)}GroupController`);
    Controller(group)(controller);
    RouteGroup(group)(controller);
    ApiTags(group)(controller);
    ApiStrategySecurity(strategy)(controller);
    return controller;
  });
}

/** The `:id` of the admin routes. */
const UserIdParam = () => ApiParam({ name: 'id', format: 'uuid', description: 'The user (a UUID v4)' });

/**
 * User administration, in the admin group (ADMIN_ROUTE_GROUP, `api` by default): roles, the
 * list, disable/enable, login limits, deletion. The rules live in AdminUsersService, which the
 * operator CLI and the /admin page use too.
 */
@Injectable()
@AuthSwitchRoutesBinding()
abstract class AdminUsersRoutes {
  constructor(
    private readonly auth: AuthService,
    private readonly admin: AdminUsersService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List users, optionally searched by part of their email or name (admin only)', description: 'In email order, a page at a time.' })
  @ApiOkResponse({ type: AdminUserListResponse, description: 'A page of users and the cursor of the next one' })
  @ApiErrorResponse(400, 'Invalid query, limit or cursor', 'Invalid cursor')
  list(@Query() query: ListUsersQuery) {
    return this.admin.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One user (admin only)' })
  @UserIdParam()
  @ApiOkResponse({ type: AdminUserDetailResponse, description: 'The user' })
  @ApiErrorResponse(404, 'No user with this id', 'User not found')
  get(@Param('id', new ParseUUIDPipe({ version: '4' })) id: string) {
    return this.admin.get(id);
  }

  @Post(':id/disable')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Disable an account (admin only): it cannot sign in, and its sessions and tokens stop on every instance at once',
    description: 'With `until`, the disablement lapses by itself then. Sign-in answers 403 `Account disabled`.',
  })
  @UserIdParam()
  @ApiOkResponse({ type: AdminUserDetailResponse, description: 'The user, disabled' })
  @ApiErrorResponse(404, 'No user with this id', 'User not found')
  @ApiErrorResponse(409, 'Administrators cannot disable their own account', 'Administrators cannot disable or delete their own account')
  disable(
    @Param('id', new ParseUUIDPipe({ version: '4' })) id: string,
    @Body() body: DisableUserDto,
    @CurrentUser() admin: UserPrincipal,
    @Req() req: AuthenticatedRequest,
  ) {
    return this.admin.disable(id, body, { kind: 'admin', id: admin.id }, originOf(req, req.routeGroup?.name ?? null));
  }

  @Post(':id/enable')
  @HttpCode(200)
  @ApiOperation({ summary: 'Lift the disablement of an account (admin only)' })
  @UserIdParam()
  @ApiOkResponse({ type: AdminUserDetailResponse, description: 'The user, enabled' })
  @ApiErrorResponse(404, 'No user with this id', 'User not found')
  enable(@Param('id', new ParseUUIDPipe({ version: '4' })) id: string, @CurrentUser() admin: UserPrincipal, @Req() req: AuthenticatedRequest) {
    return this.admin.enable(id, { kind: 'admin', id: admin.id }, originOf(req, req.routeGroup?.name ?? null));
  }

  @Post(':id/unlock')
  @HttpCode(200)
  @ApiOperation({ summary: "Clear the account's failed-login limit, so that it may sign in again at once (admin only)" })
  @UserIdParam()
  @ApiOkResponse({ type: AdminUserDetailResponse, description: 'The user' })
  @ApiErrorResponse(404, 'No user with this id', 'User not found')
  unlock(@Param('id', new ParseUUIDPipe({ version: '4' })) id: string, @CurrentUser() admin: UserPrincipal, @Req() req: AuthenticatedRequest) {
    return this.admin.unlock(id, { kind: 'admin', id: admin.id }, originOf(req, req.routeGroup?.name ?? null));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete an account and its credentials (admin only); the address may register again',
    description: "Its sessions and tokens stop on every instance at once. The account's audit events stay; they never hold the email.",
  })
  @UserIdParam()
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrorResponse(404, 'No user with this id', 'User not found')
  @ApiErrorResponse(409, 'Administrators cannot delete their own account', 'Administrators cannot disable or delete their own account')
  async remove(
    @Param('id', new ParseUUIDPipe({ version: '4' })) id: string,
    @CurrentUser() admin: UserPrincipal,
    @Req() req: AuthenticatedRequest,
  ): Promise<void> {
    await this.admin.delete(id, { kind: 'admin', id: admin.id }, originOf(req, req.routeGroup?.name ?? null));
  }

  @Put(':id/roles')
  @ApiOperation({ summary: "Replace a user's roles (admin only); ends the user's sessions and tokens" })
  @UserIdParam()
  @ApiOkResponse({ type: UserResponse, description: 'The user with the new roles' })
  @ApiErrorResponse(400, 'Invalid body, or an id that is not a UUID v4')
  @ApiErrorResponse(404, 'No user with this id', 'User not found')
  setRoles(
    @Param('id', new ParseUUIDPipe({ version: '4' })) id: string,
    @Body() body: SetRolesDto,
    @CurrentUser() admin: UserPrincipal,
    @Req() req: AuthenticatedRequest,
  ) {
    return this.auth.changeRoles(id, body.roles, { kind: 'admin', id: admin.id }, originOf(req, req.routeGroup?.name ?? null));
  }
}

export function adminController(routes: AuthSwitchRoutes): Type {
  const controller = named(class extends AdminUsersRoutes {}, 'AdminUsersController');
  Controller(`${routes.adminGroup}/admin/users`)(controller);
  RouteGroup(routes.adminGroup)(controller);
  Roles('admin')(controller);
  ApiTags(routes.adminGroup)(controller);
  ApiStrategySecurity(routes.groups.get(routes.adminGroup) ?? 'any')(controller);
  return controller;
}

// Distinct class names: Nest's route log and OpenAPI operation ids are built from them.
function named<T extends Type>(type: T, name: string): T {
  Object.defineProperty(type, 'name', { value: name });
  return type;
}

/** `partner-api` → `Partner_Api`: dashes become underscores, so `a-1` and `a1` stay distinct. */
function pascalCase(group: string): string {
  return group.replace(/(^|-)([a-z0-9])/g, (_match, dash: string, letter: string) => (dash ? '_' : '') + letter.toUpperCase());
}
