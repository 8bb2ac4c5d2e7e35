import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, NotFoundException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import passport from 'passport';
import { AUTH_SWITCH_ROUTES } from '../config/auth-switch.options';
import type { AuthenticatedRequest, Principal } from '../common/authenticated-request';
import type { AuthStrategy } from '../config/route-groups';
import { IS_PUBLIC, REQUIRED_ROLES, REQUIRED_SCOPES, ROUTE_GROUP, USERS_ONLY } from '../access/decorators';
import type { AuthSwitchRoutes } from './group-routes';
import { AUTH_SWITCH_PASSPORT, hasStrategy, PassportInstance } from './strategies/passport-instance';

/** What the decorators say about one handler, read once and remembered. */
interface RoutePolicy {
  group: string | undefined;
  isPublic: boolean;
  roles: string[];
  scopes: string[];
  usersOnly: boolean;
}

type Outcome = { user: Principal } | { error: unknown };
/** The part of a Passport strategy an attempt uses (passport-strategy's Strategy). */
interface PassportStrategyLike {
  success(user: Principal): void;
  fail(challenge?: unknown): void;
  error(error: unknown): void;
  pass(): void;
  redirect(): void;
  authenticate(req: unknown, options: object): void;
}

/** Set on a request once the guard has let it through, so that a second binding is a no-op. */
const CHECKED = Symbol('authswitch.checked');
type CheckedRequest = AuthenticatedRequest & { [CHECKED]?: true };

/**
 * The one global guard. For each request it finds the route's group (@RouteGroup), takes the
 * group's strategy from AUTH_ROUTE_GROUPS and runs that Passport strategy: `jwt`, `session`,
 * `any` (routes without a group behave as `any`), or a strategy the application registered.
 * Then it checks @Roles. It throws (401/403/404/503); it never answers "false".
 *
 * Strategies run through passport.authenticate() with a callback, exactly as AuthGuard(name)
 * runs them; a strategy that decides synchronously (a token verified before) is answered
 * synchronously, without a promise.
 */
@Injectable()
export class RouteGroupGuard implements CanActivate {
  // Keyed by class, then handler: an inherited handler may carry another class's decorators.
  private readonly policies = new WeakMap<object, WeakMap<object, RoutePolicy>>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTH_SWITCH_ROUTES) private readonly routes: AuthSwitchRoutes,
    @Inject(AUTH_SWITCH_PASSPORT) private readonly own: PassportInstance,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const policy = this.policyFor(context);
    const req = context.switchToHttp().getRequest<CheckedRequest>();
    const res = context.switchToHttp().getResponse<Response>();
    // AuthSwitch's own controllers bind this guard too, so that they work in hosts that do not
    // make it global; where it is global, the request has been checked already.
    if (req[CHECKED]) return true;

    // No group: either credential is accepted. A group that is not configured does not exist.
    const group = policy.group;
    const strategy = group === undefined ? 'any' : this.routes.groups.get(group);
    if (strategy === undefined) throw new NotFoundException(`Cannot ${req.method} ${req.path}`);
    req.routeGroup = { name: group ?? null, strategy };
    if (policy.isPublic) return (req[CHECKED] = true);
    // The built-in strategies of this module; an application's own from Passport's default instance.
    const instance = hasStrategy(this.own, strategy) ? this.own : passport;
    const outcome = runStrategy(instance, strategy, req);
    return outcome instanceof Promise ? outcome.then((user) => this.authorize(policy, req, res, user)) : this.authorize(policy, req, res, outcome);
  }

  private authorize(policy: RoutePolicy, req: CheckedRequest, res: Response, user: Principal): boolean {
    // Personal data must not be kept by browsers or shared caches.
    res.setHeader('Cache-Control', 'no-store');
    if (!allowed(policy, user)) {
      if (user.kind === 'client') throw new ForbiddenException(policy.scopes.length > 0 ? 'Insufficient scope' : 'This route is not open to client tokens');
      throw new ForbiddenException(policy.roles.length > 0 ? 'Insufficient role' : 'This route is only open to client tokens');
    }
    return (req[CHECKED] = true);
  }

  private policyFor(context: ExecutionContext): RoutePolicy {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byHandler = this.policies.get(controller);
    if (!byHandler) this.policies.set(controller, (byHandler = new WeakMap()));
    let policy = byHandler.get(handler);
    if (!policy) {
      const targets = [handler, controller];
      // Who may call (roles, scopes, users only) is one decision: a handler that declares any of
      // it replaces the class's whole declaration. Merged key by key, a class's @Scopes would
      // let clients into a handler that asked for @Roles('admin') alone.
      const access = [REQUIRED_ROLES, REQUIRED_SCOPES, USERS_ONLY].some((key) => this.reflector.get(key, handler) !== undefined) ? handler : controller;
      policy = {
        group: this.reflector.getAllAndOverride<string>(ROUTE_GROUP, targets),
        isPublic: this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) ?? false,
        roles: this.reflector.get<string[] | undefined>(REQUIRED_ROLES, access) ?? [],
        scopes: this.reflector.get<string[] | undefined>(REQUIRED_SCOPES, access) ?? [],
        usersOnly: this.reflector.get<boolean | undefined>(USERS_ONLY, access) ?? false,
      };
      byHandler.set(handler, policy);
    }
    return policy;
  }
}

/**
 * Roles govern users, scopes govern clients. A route that names neither is open to both; one
 * that names only roles is closed to clients, only scopes closed to users, both: either may pass.
 */
function allowed(policy: RoutePolicy, user: Principal): boolean {
  const restricted = policy.roles.length > 0 || policy.scopes.length > 0;
  if (user.kind === 'client') {
    if (policy.usersOnly) return false;
    const scopes = Array.isArray(user.scopes) ? user.scopes : [];
    return restricted ? policy.scopes.some((scope) => scopes.includes(scope)) : true;
  }
  const roles = Array.isArray(user.roles) ? user.roles : [];
  return restricted ? policy.roles.some((role) => roles.includes(role)) : true;
}

/**
 * Runs one Passport strategy on the request and sets `req.user`. Errors the strategy raises
 * (403 CSRF, 503 store down, 401 revoked) propagate as they are; a plain failure is a 401.
 */
export function runStrategy(
  instance: PassportInstance,
  strategy: AuthStrategy,
  req: AuthenticatedRequest,
): Principal | Promise<Principal> {
  let outcome: Outcome | undefined;
  let settle: ((outcome: Outcome) => void) | undefined;
  const callback = (error: unknown, user: Principal | false | undefined, info: unknown) => {
    // The first report decides: a strategy that fails and then succeeds has failed.
    if (outcome) return;
    outcome = error ? { error } : user ? { user } : { error: new UnauthorizedException(failureMessage(info)) };
    settle?.(outcome);
  };
  // The attempt runs as passport.authenticate() runs it: on an object made from the strategy,
  // with the strategy's success/fail/error hooks pointed at this callback. Not through
  // passport.authenticate() itself, which builds a middleware and a dozen closures and patches
  // req.login & co. on every call: measured, that cost a JWT route about a fifth of its
  // throughput. A strategy that passes (no decision) or redirects has not authenticated the
  // request: 401, and no response is written behind the guard's back.
  const found = (instance as unknown as { _strategy(name: string): PassportStrategyLike | undefined })._strategy(strategy);
  if (!found) throw new Error(`Unknown authentication strategy "${strategy}"`);
  const attempt = Object.create(found) as PassportStrategyLike;
  attempt.success = (user: Principal) => callback(null, user, undefined);
  attempt.fail = (challenge?: unknown) => callback(null, false, typeof challenge === 'number' ? undefined : challenge);
  attempt.error = (error: unknown) => callback(error, false, undefined);
  attempt.pass = () => callback(null, false, undefined);
  attempt.redirect = () => callback(null, false, undefined);
  try {
    attempt.authenticate(req, { session: false });
  } catch (error) {
    callback(error, false, undefined);
  }
  const finish = (result: Outcome): Principal => {
    if ('error' in result) throw result.error;
    req.user = result.user;
    return result.user;
  };
  if (outcome) return finish(outcome);
  return new Promise<Outcome>((resolve) => (settle = resolve)).then(finish);
}

/** A short reason for a 401; never the verifier's own words about keys or signatures. */
function failureMessage(info: unknown): string {
  const message = info instanceof Error ? info.message : typeof info === 'string' ? info : undefined;
  if (message === 'No auth token') return 'Missing credentials';
  if (info instanceof Error) return 'Invalid or expired token';
  return 'Unauthorized';
}
