import { createParamDecorator, CustomDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { AuthenticatedRequest, Principal } from '../common/authenticated-request';

export const IS_PUBLIC = 'authswitch:public';
export const REQUIRED_ROLES = 'authswitch:roles';
export const ROUTE_GROUP = 'authswitch:route-group';

/** The route needs no credentials. */
export const Public = (): CustomDecorator => SetMetadata(IS_PUBLIC, true);

/** The user needs at least one of these roles (403 otherwise). */
export const Roles = (...roles: string[]): CustomDecorator => SetMetadata(REQUIRED_ROLES, roles);

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
