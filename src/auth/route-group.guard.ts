import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import type { AuthenticatedRequest, Principal } from '../common/authenticated-request';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import type { AuthStrategy } from '../config/route-groups';
import { bearerToken, JwtAuthenticator, SessionAuthenticator } from './authenticators';
import { GROUP_FROM_PATH, IS_PUBLIC, ONLY_FOR_STRATEGIES, REQUIRED_ROLES, ROUTE_GROUP } from './decorators';

/** What the decorators say about one handler, read once and remembered. */
interface RoutePolicy {
  group: string | typeof GROUP_FROM_PATH | undefined;
  isPublic: boolean;
  roles: string[];
  onlyFor: AuthStrategy[] | undefined;
}

/**
 * The one global guard. For each request it finds the route's group, takes the group's
 * strategy from AUTH_ROUTE_GROUPS and authenticates with it:
 * - jwt: the Bearer token;
 * - session: the session cookie (plus the CSRF token on unsafe methods);
 * - any (also routes without a group): the Bearer token when one is sent, else the cookie.
 * Then it checks @Roles. It throws (401/403/404/503); it never answers "false".
 */
@Injectable()
export class RouteGroupGuard implements CanActivate {
  // Keyed by class, then handler: an inherited handler may carry another class's decorators.
  private readonly policies = new WeakMap<object, WeakMap<object, RoutePolicy>>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jwt: JwtAuthenticator,
    private readonly session: SessionAuthenticator,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const policy = this.policyFor(context);
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const res = context.switchToHttp().getResponse<Response>();

    const group = policy.group === GROUP_FROM_PATH ? String(req.params.group) : policy.group;
    // No group: either credential is accepted. An unknown group does not exist (404).
    const strategy = group === undefined ? 'any' : this.config.routeGroups.get(group);
    if (strategy === undefined || (policy.onlyFor && !policy.onlyFor.includes(strategy))) {
      throw new NotFoundException(`Cannot ${req.method} ${req.path}`);
    }
    req.routeGroup = { name: group ?? null, strategy };
    // Public routes, and Bearer tokens verified before, are decided synchronously.
    if (policy.isPublic) return true;
    const user = this.authenticate(strategy, req, res);
    return user instanceof Promise ? user.then((resolved) => this.authorize(policy, req, res, resolved)) : this.authorize(policy, req, res, user);
  }

  private authorize(policy: RoutePolicy, req: AuthenticatedRequest, res: Response, user: Principal): boolean {
    req.user = user;
    // Personal data must not be kept by browsers or shared caches.
    res.setHeader('Cache-Control', 'no-store');

    if (policy.roles.length > 0 && !policy.roles.some((role) => user.roles.includes(role))) {
      throw new ForbiddenException('Insufficient role');
    }
    return true;
  }

  private authenticate(strategy: AuthStrategy, req: AuthenticatedRequest, res: Response): Principal | Promise<Principal> {
    if (strategy === 'session') return this.session.authenticate(req, res);
    const token = bearerToken(req);
    if (strategy === 'jwt' || token !== undefined) return this.jwt.authenticate(token);
    return this.session.authenticate(req, res);
  }

  private policyFor(context: ExecutionContext): RoutePolicy {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byHandler = this.policies.get(controller);
    if (!byHandler) this.policies.set(controller, (byHandler = new WeakMap()));
    let policy = byHandler.get(handler);
    if (!policy) {
      const targets = [handler, controller];
      policy = {
        group: this.reflector.getAllAndOverride(ROUTE_GROUP, targets),
        isPublic: this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) ?? false,
        roles: this.reflector.getAllAndOverride<string[]>(REQUIRED_ROLES, targets) ?? [],
        onlyFor: this.reflector.getAllAndOverride<AuthStrategy[]>(ONLY_FOR_STRATEGIES, targets),
      };
      byHandler.set(handler, policy);
    }
    return policy;
  }
}
