import { CanActivate, ExecutionContext, Inject, Injectable, NotFoundException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import passport from 'passport';
import { AUTH_SWITCH_ROUTES } from '../config/auth-switch.options';
import type { AuthenticatedRequest, Principal } from '../common/authenticated-request';
import type { AuthStrategy } from '../config/route-groups';
import { AccessPolicies, AccessPolicy, FORBIDDEN_ERRORS, refusalOf } from '../access/access-policy';
import { authError } from '../common/auth-errors';
import type { AuthSwitchRoutes } from './group-routes';
import { AUTH_SWITCH_PASSPORT, hasStrategy, PassportInstance } from './strategies/passport-instance';
import { MetricsService } from '../metrics/metrics.service';
import { decisionResultOf } from './auth-metrics';

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
 * Then it checks who may call (@Roles, @Scopes, @UsersOnly, @AllowClients: the handler's
 * AccessPolicy, which the OpenAPI document reads too). It throws (401/403/404/503); it never
 * answers "false".
 *
 * Strategies run through passport.authenticate() with a callback, exactly as AuthGuard(name)
 * runs them; a strategy that decides synchronously (a token verified before) is answered
 * synchronously, without a promise.
 */
@Injectable()
export class RouteGroupGuard implements CanActivate {
  // Each handler's policy, resolved on its first request and remembered.
  private readonly policies: AccessPolicies;

  constructor(
    reflector: Reflector,
    @Inject(AUTH_SWITCH_ROUTES) routes: AuthSwitchRoutes,
    @Inject(AUTH_SWITCH_PASSPORT) private readonly own: PassportInstance,
    private readonly metrics: MetricsService,
  ) {
    this.policies = new AccessPolicies(reflector, routes.groups);
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const policy = this.policies.of(context.getHandler(), context.getClass());
    const req = context.switchToHttp().getRequest<CheckedRequest>();
    const res = context.switchToHttp().getResponse<Response>();
    // AuthSwitch's own controllers bind this guard too, so that they work in hosts that do not
    // make it global; where it is global, the request has been checked already.
    if (req[CHECKED]) return true;

    // No group: either credential is accepted. A group that is not configured does not exist.
    const strategy = policy.strategy;
    if (strategy === undefined) throw new NotFoundException(`Cannot ${req.method} ${req.path}`);
    req.routeGroup = { name: policy.group ?? null, strategy };
    if (policy.public) return (req[CHECKED] = true);
    // The built-in strategies of this module; an application's own from Passport's default instance.
    const instance = hasStrategy(this.own, strategy) ? this.own : passport;
    let outcome: Principal | Promise<Principal>;
    try {
      outcome = runStrategy(instance, strategy, req);
    } catch (error) {
      throw this.refused(policy, strategy, error);
    }
    return outcome instanceof Promise
      ? outcome.then(
          (user) => this.authorize(policy, strategy, req, res, user),
          (error: unknown) => {
            throw this.refused(policy, strategy, error);
          },
        )
      : this.authorize(policy, strategy, req, res, outcome);
  }

  private authorize(policy: AccessPolicy, strategy: AuthStrategy, req: CheckedRequest, res: Response, user: Principal): boolean {
    // Personal data must not be kept by browsers or shared caches.
    res.setHeader('Cache-Control', 'no-store');
    const refusal = refusalOf(policy, user);
    if (refusal !== undefined) throw this.refused(policy, strategy, authError(FORBIDDEN_ERRORS[refusal]));
    this.metrics.authDecision(policy.group ?? '', strategy, 'allowed');
    return (req[CHECKED] = true);
  }

  /** Counts a refusal (401, 403, 503) by what it answers, and hands the error back to be thrown. */
  private refused(policy: AccessPolicy, strategy: AuthStrategy, error: unknown): unknown {
    this.metrics.authDecision(policy.group ?? '', strategy, decisionResultOf(error));
    return error;
  }
}

/**
 * Runs one Passport strategy on the request and sets `req.user`. Errors the strategy raises
 * (403 CSRF, 503 store down, 401 revoked) propagate as they are; a plain failure is a 401.
 */
export function runStrategy(instance: PassportInstance, strategy: AuthStrategy, req: AuthenticatedRequest): Principal | Promise<Principal> {
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
