import { createParamDecorator, CustomDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AuthenticatedRequest, ClientPrincipal, UserPrincipal } from '../common/authenticated-request';
import { ALLOW_CLIENTS, IS_PUBLIC, OPTIONAL_CREDENTIALS, REQUIRED_ROLES, REQUIRED_SCOPES, ROUTE_GROUP, USERS_ONLY, whoMayCall } from './access-policy';
import { authError } from '../common/auth-errors';

export { ALLOW_CLIENTS, IS_PUBLIC, REQUIRED_ROLES, REQUIRED_SCOPES, ROUTE_GROUP, USERS_ONLY };

/** The route needs no credentials. */
export const Public = (): CustomDecorator => SetMetadata(IS_PUBLIC, true);

/**
 * Public to the guard, but the handler authenticates the caller itself when the request brings
 * no other proof (a resend that takes either an email or a signed-in user). The document then
 * lists the credentials as optional rather than absent.
 */
export const OptionalCredentials = (): CustomDecorator => SetMetadata(OPTIONAL_CREDENTIALS, true);

/**
 * Who may call a route, once authenticated (see src/auth/access-policy.ts):
 * - no decorator: users only; a machine client's token gets 403;
 * - `@Roles(...)`: users holding one of the roles (clients hold no roles: 403);
 * - `@Scopes(...)`: clients whose token has one of the scopes (users hold no scopes: 403);
 * - both: either of the two;
 * - `@AllowClients()`: any client too, besides the users the route admits;
 * - `@UsersOnly()`: any user, no client (even where the class says otherwise).
 */
export const Roles = (...roles: string[]): CustomDecorator => SetMetadata(REQUIRED_ROLES, roles);

/** A machine client needs at least one of these scopes in its token (403 otherwise); see Roles. */
export const Scopes = (...scopes: string[]): CustomDecorator => SetMetadata(REQUIRED_SCOPES, scopes);

/** Only people: a machine client's token gets 403 (routes about an account, a session, a password). */
export const UsersOnly = (): CustomDecorator => SetMetadata(USERS_ONLY, true);

/**
 * Machine clients' tokens are accepted too, whatever their scopes: without it (or `@Scopes`), a
 * route answers a client token with 403. The handler then receives a `Principal` that may be a
 * client (`kind: 'client'`): check `kind` before reading user fields.
 */
export const AllowClients = (): CustomDecorator => SetMetadata(ALLOW_CLIENTS, true);

/**
 * Puts a controller or route in a route group of AUTH_ROUTE_GROUPS; the group's strategy
 * (session, jwt, any or a registered Passport strategy) then authenticates it, and a JWT must
 * have been issued for that group. Routes without a group accept either credential ("any").
 * A group that is not configured answers 404.
 */
export const RouteGroup = (group: string): CustomDecorator => SetMetadata(ROUTE_GROUP, group);

const reflector = new Reflector();

/**
 * The authenticated user (or one of its fields) as a handler parameter. On a route that does not
 * accept clients it is never a client, even behind another guard (`AuthGuard('jwt')`): a client
 * token there is a 403 before the handler runs.
 */
export const CurrentUser = createParamDecorator((field: keyof UserPrincipal | keyof ClientPrincipal | undefined, ctx: ExecutionContext) => {
  const user = ctx.switchToHttp().getRequest<AuthenticatedRequest>().user;
  // Only clients pay for the look-up; RouteGroupGuard has refused them already where it runs.
  if (user?.kind === 'client' && whoMayCall(reflector, ctx.getHandler(), ctx.getClass()).principals === 'users') {
    throw authError('CLIENTS_NOT_ACCEPTED');
  }
  return field ? (user as Record<string, unknown> | undefined)?.[field] : user;
});
