import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA } from '@nestjs/common/constants';
import type { Reflector } from '@nestjs/core';
import type { AuthStrategy } from '../config/route-groups';
import type { AuthErrorCode } from '../common/auth-errors';

/*
 * Who may call a handler, decided in one place. RouteGroupGuard enforces the result and the
 * OpenAPI document derives its security requirements and its 401/403 answers from it, so the
 * two cannot drift. This file sits low in the dependency graph: it reads metadata only.
 */

/** Metadata keys of the access decorators (src/auth/decorators.ts). */
export const IS_PUBLIC = 'authswitch:public';
export const REQUIRED_ROLES = 'authswitch:roles';
export const ROUTE_GROUP = 'authswitch:route-group';
export const REQUIRED_SCOPES = 'authswitch:scopes';
export const USERS_ONLY = 'authswitch:users-only';
export const ALLOW_CLIENTS = 'authswitch:allow-clients';
export const OPTIONAL_CREDENTIALS = 'authswitch:optional-credentials';

/** What a handler names to replace its class's grant of roles and scopes as a whole. */
const GRANT_KEYS = [REQUIRED_ROLES, REQUIRED_SCOPES];

/** Which kinds of caller a route admits (roles and scopes may narrow each kind further). */
export type Principals = 'users' | 'clients' | 'both';

/** Why an authenticated caller may be refused with 403 on a route. */
export type ForbiddenReason = 'role' | 'scope' | 'clients-not-accepted' | 'users-not-accepted' | 'csrf';

/** The coded error each reason answers with (src/common/auth-errors.ts holds status and message). */
export const FORBIDDEN_ERRORS: Readonly<Record<ForbiddenReason, AuthErrorCode>> = {
  role: 'INSUFFICIENT_ROLE',
  scope: 'INSUFFICIENT_SCOPE',
  'clients-not-accepted': 'CLIENTS_NOT_ACCEPTED',
  'users-not-accepted': 'USERS_NOT_ACCEPTED',
  csrf: 'CSRF_TOKEN_INVALID',
};

export interface AccessPolicy {
  /** `@Public()`: no credentials, no checks. */
  readonly public: boolean;
  /**
   * `@OptionalCredentials()`: public to the guard, but the handler itself authenticates the
   * caller when the request carries no other proof (and may then answer 401 or 403).
   */
  readonly optionalCredentials: boolean;
  /** `@RouteGroup(...)`, on the handler or its class; none means the `any` strategy. */
  readonly group: string | undefined;
  /** The strategy that authenticates the route; undefined when its group is not configured (404). */
  readonly strategy: AuthStrategy | undefined;
  /** Users need one of these roles (when users are admitted and the list is not empty). */
  readonly roles: readonly string[];
  /** Clients need one of these scopes (when clients are admitted and the list is not empty). */
  readonly scopes: readonly string[];
  readonly principals: Principals;
  /** Session credentials must send X-CSRF-Token (an unsafe method on a session or any route). */
  readonly csrf: boolean;
  /** What a 403 from this route can mean, in the order the checks run; empty when it cannot answer 403. */
  readonly forbidden: readonly ForbiddenReason[];
}

/** The part of a principal the policy looks at (src/common/authenticated-request.ts). */
export interface PolicySubject {
  kind?: string;
  roles?: unknown;
  scopes?: unknown;
}

type Target = object;

/** Who may call, from the decorators alone: no configuration needed. */
export function whoMayCall(reflector: Reflector, handler: Target, controller: Target): Pick<AccessPolicy, 'roles' | 'scopes' | 'principals'> {
  // Roles and scopes are one decision: a handler that names either replaces the class's pair as a
  // whole (merged key by key, a class's @Scopes would let clients into a handler that asked for
  // @Roles('admin') alone). @UsersOnly and @AllowClients only say who else may come: the
  // handler's when it has one, else the class's, and never wipe the class's roles (a handler's
  // @AllowClients under a class's @Roles('admin') must not open the route to every user).
  const target = GRANT_KEYS.some((key) => reflector.get(key, handler as never) !== undefined) ? handler : controller;
  const roles = reflector.get<string[] | undefined>(REQUIRED_ROLES, target as never) ?? [];
  const scopes = reflector.get<string[] | undefined>(REQUIRED_SCOPES, target as never) ?? [];
  const handlerSaysWho = reflector.get(USERS_ONLY, handler as never) !== undefined || reflector.get(ALLOW_CLIENTS, handler as never) !== undefined;
  const whoTarget = handlerSaysWho ? handler : controller;
  const usersOnly = reflector.get<boolean | undefined>(USERS_ONLY, whoTarget as never) === true;
  const allowClients = reflector.get<boolean | undefined>(ALLOW_CLIENTS, whoTarget as never) === true;
  let principals: Principals;
  // Both @UsersOnly and @AllowClients: the closed one wins.
  if (usersOnly) principals = 'users';
  // @Scopes admits clients (with a scope), and users only when @Roles names a role for them.
  else if (scopes.length > 0) principals = roles.length > 0 ? 'both' : 'clients';
  // The default: client tokens reach only routes that say they accept clients.
  else principals = allowClients ? 'both' : 'users';
  return { roles, scopes, principals };
}

const SAFE_METHODS = new Set<RequestMethod>([RequestMethod.GET, RequestMethod.HEAD, RequestMethod.OPTIONS]);

/**
 * Everything that decides who may call `handler` of `controller` under the configured route
 * groups. Reads metadata every time: call it once per handler (AccessPolicies remembers).
 */
export function accessPolicyOf(reflector: Reflector, handler: Target, controller: Target, routeGroups: ReadonlyMap<string, AuthStrategy>): AccessPolicy {
  const targets = [handler, controller] as never[];
  const optionalCredentials = reflector.getAllAndOverride<boolean | undefined>(OPTIONAL_CREDENTIALS, targets) === true;
  const isPublic = optionalCredentials || reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, targets) === true;
  const group = reflector.getAllAndOverride<string | undefined>(ROUTE_GROUP, targets);
  // No group: either credential is accepted. A group that is not configured does not exist.
  const strategy = group === undefined ? 'any' : routeGroups.get(group);
  const who = whoMayCall(reflector, handler, controller);
  const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
  const sessions = strategy === 'session' || strategy === 'any';
  // Client tokens are Bearer tokens: only jwt and any routes can see one.
  const bearer = strategy === 'jwt' || strategy === 'any';
  const csrf = !isPublic && sessions && !(method !== undefined && SAFE_METHODS.has(method));
  const forbidden: ForbiddenReason[] = [];
  if (!isPublic && strategy !== undefined) {
    if (who.principals === 'clients') forbidden.push('users-not-accepted');
    else if (who.roles.length > 0) forbidden.push('role');
    if (bearer && who.principals === 'users') forbidden.push('clients-not-accepted');
    else if (bearer && who.scopes.length > 0) forbidden.push('scope');
    if (csrf) forbidden.push('csrf');
  }
  return { public: isPublic, optionalCredentials, group, strategy, ...who, csrf, forbidden };
}

/** Why the guard refuses an authenticated caller (403), or undefined when it lets them in. */
export function refusalOf(policy: AccessPolicy, subject: PolicySubject): ForbiddenReason | undefined {
  if (subject.kind === 'client') {
    if (policy.principals === 'users') return 'clients-not-accepted';
    const scopes = Array.isArray(subject.scopes) ? (subject.scopes as unknown[]) : [];
    if (policy.scopes.length > 0 && !policy.scopes.some((scope) => scopes.includes(scope))) return 'scope';
    return undefined;
  }
  if (policy.principals === 'clients') return 'users-not-accepted';
  const roles = Array.isArray(subject.roles) ? (subject.roles as unknown[]) : [];
  if (policy.roles.length > 0 && !policy.roles.some((role) => roles.includes(role))) return 'role';
  return undefined;
}

/**
 * The policies of one application's handlers, resolved once each. Keyed by class, then handler:
 * an inherited handler (the per-group controllers share theirs) may carry another class's
 * decorators.
 */
export class AccessPolicies {
  private readonly byClass = new WeakMap<Target, WeakMap<Target, AccessPolicy>>();

  constructor(
    private readonly reflector: Reflector,
    private readonly routeGroups: ReadonlyMap<string, AuthStrategy>,
  ) {}

  of(handler: Target, controller: Target): AccessPolicy {
    let byHandler = this.byClass.get(controller);
    if (!byHandler) this.byClass.set(controller, (byHandler = new WeakMap()));
    let policy = byHandler.get(handler);
    if (!policy) byHandler.set(handler, (policy = accessPolicyOf(this.reflector, handler, controller, this.routeGroups)));
    return policy;
  }
}
