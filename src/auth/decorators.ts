import { createParamDecorator, CustomDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { AuthenticatedRequest, Principal } from '../common/authenticated-request';
import type { AuthStrategy } from '../config/route-groups';

export const IS_PUBLIC = 'authswitch:public';
export const REQUIRED_ROLES = 'authswitch:roles';
export const ROUTE_GROUP = 'authswitch:route-group';
export const ONLY_FOR_STRATEGIES = 'authswitch:strategies';

/** Marks a route group taken from the `:group` path parameter (the built-in auth routes). */
export const GROUP_FROM_PATH = Symbol('group-from-path');

/** The route needs no credentials. */
export const Public = (): CustomDecorator => SetMetadata(IS_PUBLIC, true);

/** The user needs at least one of these roles (403 otherwise). */
export const Roles = (...roles: string[]): CustomDecorator => SetMetadata(REQUIRED_ROLES, roles);

/**
 * Puts a controller or route in a route group of AUTH_ROUTE_GROUPS; the group's strategy
 * (session, jwt or any) then authenticates it. Routes without a group accept either ("any").
 */
export const RouteGroup = (group: string | typeof GROUP_FROM_PATH): CustomDecorator =>
  SetMetadata(ROUTE_GROUP, group);

/** The route exists only in groups using one of these strategies; elsewhere it is a 404. */
export const OnlyForStrategies = (...strategies: AuthStrategy[]): CustomDecorator =>
  SetMetadata(ONLY_FOR_STRATEGIES, strategies);

/** The authenticated user (or one of its fields) as a handler parameter. */
export const CurrentUser = createParamDecorator((field: keyof Principal | undefined, ctx: ExecutionContext) => {
  const user = ctx.switchToHttp().getRequest<AuthenticatedRequest>().user;
  return field ? user?.[field] : user;
});
