import { createParamDecorator, CustomDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { AuthenticatedRequest, Principal } from '../common/authenticated-request';

export const IS_PUBLIC = 'authswitch:public';
export const REQUIRED_ROLES = 'authswitch:roles';
export const ROUTE_GROUP = 'authswitch:route-group';
export const REQUIRED_SCOPES = 'authswitch:scopes';
export const USERS_ONLY = 'authswitch:users-only';

/** The route needs no credentials. */
export const Public = (): CustomDecorator => SetMetadata(IS_PUBLIC, true);

/**
 * Who may call a route, once authenticated:
 * - no decorator: users and machine clients alike;
 * - `@Roles(...)`: users holding one of the roles (clients hold no roles: 403);
 * - `@Scopes(...)`: clients whose token has one of the scopes (users hold no scopes: 403);
 * - both: either of the two;
 * - `@UsersOnly()`: any user, no client.
 */
export const Roles = (...roles: string[]): CustomDecorator => SetMetadata(REQUIRED_ROLES, roles);

/** A machine client needs at least one of these scopes in its token (403 otherwise); see Roles. */
export const Scopes = (...scopes: string[]): CustomDecorator => SetMetadata(REQUIRED_SCOPES, scopes);

/** Only people: a machine client's token gets 403 (routes about an account, a session, a password). */
export const UsersOnly = (): CustomDecorator => SetMetadata(USERS_ONLY, true);

/**
 * Puts a controller or route in a route group of AUTH_ROUTE_GROUPS; the group's strategy
 * (session, jwt, any or a registered Passport strategy) then authenticates it, and a JWT must
 * have been issued for that group. Routes without a group accept either credential ("any").
 * A group that is not configured answers 404.
 */
export const RouteGroup = (group: string): CustomDecorator => SetMetadata(ROUTE_GROUP, group);

/** The authenticated user (or one of its fields) as a handler parameter. */
export const CurrentUser = createParamDecorator((field: keyof Principal | undefined, ctx: ExecutionContext) => {
  const user = ctx.switchToHttp().getRequest<AuthenticatedRequest>().user;
  return field ? user?.[field] : user;
});
