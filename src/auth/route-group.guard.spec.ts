import { ExecutionContext, ForbiddenException, NotFoundException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import passport from 'passport';
import { Strategy } from 'passport-strategy';
import type { Principal } from '../common/authenticated-request';
import { authError } from '../common/auth-errors';
import { parseRouteGroups } from '../config/route-groups';
import { AllowClients, Public, Roles, RouteGroup, Scopes, UsersOnly } from '../access/decorators';
import type { AuthSwitchRoutes } from './group-routes';
import { createPassportInstance } from './strategies/passport-instance';
import { RouteGroupGuard } from './route-group.guard';
import { MetricsService } from '../metrics/metrics.service';

const alice: Principal = { id: 'u1', email: 'a@example.test', name: 'A', roles: ['user'], via: 'jwt' };

/** A Passport strategy that records its calls and answers as told, synchronously or not. */
class FakeStrategy extends Strategy {
  // Passport runs each attempt on Object.create(strategy): count on an object both share.
  private readonly counter = { calls: 0 };
  constructor(private readonly answer: (self: Strategy) => void) {
    super();
  }
  get calls(): number {
    return this.counter.calls;
  }
  authenticate(): void {
    this.counter.calls += 1;
    this.answer(this);
  }
}

class Routes {
  @Public() open() {}
  plain() {}
  @Roles('admin') adminOnly() {}
}
@RouteGroup('api')
class ApiRoutes {
  list() {}
}
@RouteGroup('partner')
class PartnerRoutes {
  list() {}
}
@RouteGroup('api')
@Scopes('reports:read')
class ScopedRoutes {
  list() {}
  @Roles('admin') purge() {}
  @UsersOnly() mine() {}
}
const reporter: Principal = { kind: 'client', clientId: 'client_1', scopes: ['reports:read'], via: 'jwt' };
@RouteGroup('api')
class MixedRoutes {
  plain() {}
  @AllowClients() open() {}
  @AllowClients() @Roles('admin') adminsOrClients() {}
}
class Ungrouped {
  any() {}
}
RouteGroup('web')(Routes);

function setup(groups = 'web=session,api=jwt,partner=api-key', bearer: Principal = alice) {
  const strategies = {
    jwt: new FakeStrategy((self) => self.success({ ...bearer, via: 'jwt' })),
    session: new FakeStrategy((self) => setImmediate(() => self.success({ ...alice, via: 'session' }))),
    any: new FakeStrategy((self) => self.success({ ...alice, via: 'jwt' })),
    'api-key': new FakeStrategy((self) => self.fail('no key', 401)),
  };
  // The built-in names on the module's own instance, the application's strategy on Passport's default one.
  const own = createPassportInstance();
  for (const name of ['jwt', 'session', 'any'] as const) own.use(name, strategies[name]);
  passport.use('api-key', strategies['api-key']);
  const routes: AuthSwitchRoutes = { groups: parseRouteGroups(groups), adminGroup: 'api', globalGuard: true };
  const metrics = new MetricsService({ metrics: { token: null } });
  const guard = new RouteGroupGuard(new Reflector(), routes, own, metrics);
  const run = (controller: object & { prototype: object }, method: string, request: Record<string, unknown> = {}) => {
    const req = { method: 'GET', path: '/x', params: {}, headers: {}, ...request } as Record<string, unknown>;
    const res = { setHeader: jest.fn() };
    const context = {
      getType: () => 'http',
      getHandler: () => (controller.prototype as Record<string, unknown>)[method],
      getClass: () => controller,
      switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
    } as unknown as ExecutionContext;
    return { result: () => guard.canActivate(context), req, res };
  };
  /** How many decisions were counted with these labels. */
  const decisions = async (labels: Record<string, string>): Promise<number> => {
    const { values } = await metrics.registry.getSingleMetric('authswitch_auth_decisions_total')!.get();
    return values
      .filter((value) => Object.entries(labels).every(([name, wanted]) => value.labels[name] === wanted))
      .reduce((sum, value) => sum + value.value, 0);
  };
  return { strategies, run, own, decisions };
}

describe('RouteGroupGuard', () => {
  it("lets a handler's @Roles or @UsersOnly replace its class's @Scopes, so clients stay out of admin handlers", () => {
    const client = setup(undefined, reporter);
    expect(client.run(ScopedRoutes, 'list').result()).toBe(true);
    expect(() => client.run(ScopedRoutes, 'purge').result()).toThrow(ForbiddenException);
    expect(() => client.run(ScopedRoutes, 'mine').result()).toThrow(ForbiddenException);
    const user = setup();
    expect(() => user.run(ScopedRoutes, 'list').result()).toThrow(ForbiddenException);
    expect(() => user.run(ScopedRoutes, 'purge').result()).toThrow(ForbiddenException);
    expect(user.run(ScopedRoutes, 'mine').result()).toBe(true);
    expect(
      setup(undefined, { ...alice, roles: ['admin'] })
        .run(ScopedRoutes, 'purge')
        .result(),
    ).toBe(true);
  });

  it('answers a client token with 403 on a route that does not say it accepts clients', () => {
    const client = setup(undefined, reporter);
    const refused = () => client.run(MixedRoutes, 'plain').result();
    expect(refused).toThrow(ForbiddenException);
    expect(refused).toThrow('Client tokens are not accepted here');
    expect(setup().run(MixedRoutes, 'plain').result()).toBe(true);
  });

  it('lets a client token into @AllowClients routes, beside the users the route admits', () => {
    const client = setup(undefined, { ...reporter, scopes: [] });
    expect(client.run(MixedRoutes, 'open').result()).toBe(true);
    expect(client.run(MixedRoutes, 'adminsOrClients').result()).toBe(true);
    expect(setup().run(MixedRoutes, 'open').result()).toBe(true);
    expect(() => setup().run(MixedRoutes, 'adminsOrClients').result()).toThrow('Insufficient role');
  });

  it("resolves a handler's policy once, not on every request", () => {
    const { run } = setup();
    const get = jest.spyOn(Reflector.prototype, 'get');
    const getAllAndOverride = jest.spyOn(Reflector.prototype, 'getAllAndOverride');
    try {
      const first = run(MixedRoutes, 'adminsOrClients');
      expect(() => first.result()).toThrow(ForbiddenException);
      const reads = get.mock.calls.length + getAllAndOverride.mock.calls.length;
      expect(reads).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) expect(() => run(MixedRoutes, 'adminsOrClients').result()).toThrow(ForbiddenException);
      expect(get.mock.calls.length + getAllAndOverride.mock.calls.length).toBe(reads);
    } finally {
      get.mockRestore();
      getAllAndOverride.mockRestore();
    }
  });

  it('lets public routes through synchronously without authenticating', () => {
    const { strategies, run } = setup();
    expect(run(Routes, 'open').result()).toBe(true);
    expect(strategies.jwt.calls + strategies.session.calls + strategies.any.calls).toBe(0);
  });

  it("runs the group's strategy: the session strategy for a session group, whatever else is sent", async () => {
    const { strategies, run } = setup();
    const call = run(Routes, 'plain', { headers: { authorization: 'Bearer a.b.c' } });
    await expect(call.result()).resolves.toBe(true);
    expect(strategies.session.calls).toBe(1);
    expect(strategies.jwt.calls).toBe(0);
    expect(call.req.user).toMatchObject({ via: 'session' });
    expect(call.res.setHeader).toHaveBeenCalledWith('Cache-Control', 'no-store');
  });

  it('answers synchronously when the strategy decides synchronously (a token verified before)', () => {
    const { strategies, run } = setup();
    const call = run(ApiRoutes, 'list');
    expect(call.result()).toBe(true);
    expect(strategies.jwt.calls).toBe(1);
    expect(call.req.routeGroup).toEqual({ name: 'api', strategy: 'jwt' });
  });

  it('routes without a group use the any strategy', () => {
    const { strategies, run } = setup();
    expect(run(Ungrouped, 'any').result()).toBe(true);
    expect(strategies.any.calls).toBe(1);
  });

  it("runs an application's own Passport strategy, and its failure is a 401", () => {
    const { strategies, run } = setup();
    expect(() => run(PartnerRoutes, 'list').result()).toThrow(UnauthorizedException);
    expect(strategies['api-key'].calls).toBe(1);
  });

  it('passes errors raised by a strategy through unchanged (403 CSRF, 503 store down)', () => {
    const { run, own } = setup();
    own.use('jwt', new FakeStrategy((self) => self.error(new ForbiddenException('no'))));
    expect(() => run(ApiRoutes, 'list').result()).toThrow(ForbiddenException);
  });

  it("runs the module's own jwt strategy, never one registered under the same name on Passport's default instance", () => {
    const { strategies, run } = setup();
    passport.use('jwt', new FakeStrategy((self) => self.success({ ...alice, roles: ['admin'] })));
    expect(run(ApiRoutes, 'list').result()).toBe(true);
    expect(strategies.jwt.calls).toBe(1);
  });

  it('lets the first report decide: a strategy that fails and then succeeds has failed', () => {
    const { run, own } = setup();
    own.use(
      'jwt',
      new FakeStrategy((self) => {
        self.fail('nope', 401);
        self.success({ ...alice, roles: ['admin'] });
      }),
    );
    expect(() => run(ApiRoutes, 'list').result()).toThrow(UnauthorizedException);
  });

  it('treats a strategy that passes (no decision) as not authenticated: 401, not 500', () => {
    const { run, own } = setup();
    own.use('jwt', new FakeStrategy((self) => self.pass()));
    expect(() => run(ApiRoutes, 'list').result()).toThrow(UnauthorizedException);
  });

  it('treats a strategy that redirects as not authenticated, and writes nothing itself', () => {
    const { run, own } = setup();
    own.use('jwt', new FakeStrategy((self) => self.redirect('https://idp.example/login')));
    const call = run(ApiRoutes, 'list');
    expect(() => call.result()).toThrow(UnauthorizedException);
    expect(call.res.setHeader).not.toHaveBeenCalled();
  });

  it('answers 404 for a group that is not configured', () => {
    const { run } = setup('web=session');
    expect(() => run(ApiRoutes, 'list').result()).toThrow(NotFoundException);
  });

  it('counts each decision once, by group, strategy and result (public routes are no decision)', async () => {
    const { run, own, decisions } = setup();
    run(Routes, 'open').result();
    await run(Routes, 'plain').result();
    run(ApiRoutes, 'list').result();
    expect(() => run(PartnerRoutes, 'list').result()).toThrow(UnauthorizedException);
    await expect(run(Routes, 'adminOnly').result()).rejects.toBeInstanceOf(ForbiddenException);
    own.use('jwt', new FakeStrategy((self) => setImmediate(() => self.error(authError('REVOCATION_STATE_UNAVAILABLE')))));
    await expect(run(ApiRoutes, 'list').result()).rejects.toMatchObject({ status: 503 });
    expect(await decisions({ group: 'web', strategy: 'session', result: 'allowed' })).toBe(1);
    expect(await decisions({ group: 'web', strategy: 'session', result: 'forbidden' })).toBe(1);
    expect(await decisions({ group: 'api', strategy: 'jwt', result: 'allowed' })).toBe(1);
    expect(await decisions({ group: 'api', strategy: 'jwt', result: 'unavailable' })).toBe(1);
    expect(await decisions({ group: 'partner', strategy: 'api-key', result: 'unauthenticated' })).toBe(1);
    expect(await decisions({})).toBe(5);
  });

  it('checks @Roles after authenticating: 403 without the role', async () => {
    const { run } = setup();
    await expect(run(Routes, 'adminOnly').result()).rejects.toBeInstanceOf(ForbiddenException);
  });
});
