import { ExecutionContext, ForbiddenException, NotFoundException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Principal } from '../common/authenticated-request';
import { AppConfig } from '../config/app-config';
import { parseRouteGroups } from '../config/route-groups';
import { JwtAuthenticator, SessionAuthenticator } from './authenticators';
import { GROUP_FROM_PATH, OnlyForStrategies, Public, Roles, RouteGroup } from './decorators';
import { RouteGroupGuard } from './route-group.guard';

const alice: Principal = { id: 'u1', email: 'a@example.test', name: 'A', roles: ['user'], via: 'jwt' };

class Routes {
  @Public() open() {}
  plain() {}
  @Roles('admin') adminOnly() {}
  @OnlyForStrategies('jwt', 'any') refresh() {}
}
@RouteGroup(GROUP_FROM_PATH)
class PerGroupRoutes {
  me() {}
  @OnlyForStrategies('session', 'any') csrf() {}
}
@RouteGroup('api')
class ApiRoutes {
  list() {}
}
RouteGroup('web')(Routes);

function setup(groups = 'web=session,api=jwt,mobile=any') {
  const jwt = { authenticate: jest.fn((): Principal => ({ ...alice, via: 'jwt' })) };
  const session = { authenticate: jest.fn(async (): Promise<Principal> => ({ ...alice, via: 'session' })) };
  const config = { routeGroups: parseRouteGroups(groups) } as AppConfig;
  const guard = new RouteGroupGuard(new Reflector(), config, jwt as unknown as JwtAuthenticator, session as unknown as SessionAuthenticator);
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
  return { jwt, session, run };
}

describe('RouteGroupGuard', () => {
  it('lets public routes through synchronously without authenticating', () => {
    const { jwt, session, run } = setup();
    expect(run(Routes, 'open').result()).toBe(true);
    expect(jwt.authenticate).not.toHaveBeenCalled();
    expect(session.authenticate).not.toHaveBeenCalled();
  });

  it('authenticates a session group by cookie, even when a Bearer token is sent', async () => {
    const { jwt, session, run } = setup();
    const call = run(Routes, 'plain', { headers: { authorization: 'Bearer a.b.c' } });
    await expect(call.result()).resolves.toBe(true);
    expect(session.authenticate).toHaveBeenCalled();
    expect(jwt.authenticate).not.toHaveBeenCalled();
    expect(call.req.user).toMatchObject({ via: 'session' });
    expect(call.res.setHeader).toHaveBeenCalledWith('Cache-Control', 'no-store');
  });

  it('authenticates a jwt group by its Bearer token, synchronously for a known token', () => {
    const { jwt, run } = setup();
    expect(run(ApiRoutes, 'list', { headers: { authorization: 'Bearer a.b.c' } }).result()).toBe(true);
    expect(jwt.authenticate).toHaveBeenCalledWith('a.b.c');
  });

  it('in an any group uses the Bearer token when sent, else the cookie', async () => {
    const { jwt, session, run } = setup();
    expect(run(PerGroupRoutes, 'me', { params: { group: 'mobile' }, headers: { authorization: 'Bearer a.b.c' } }).result()).toBe(true);
    expect(jwt.authenticate).toHaveBeenCalledTimes(1);
    await run(PerGroupRoutes, 'me', { params: { group: 'mobile' } }).result();
    expect(session.authenticate).toHaveBeenCalledTimes(1);
  });

  it('refuses a malformed Authorization header with 401', () => {
    const { run } = setup();
    expect(() => run(ApiRoutes, 'list', { headers: { authorization: 'Token abc' } }).result()).toThrow(UnauthorizedException);
  });

  it('answers 404 for a group that is not configured, and for a route the strategy lacks', () => {
    const { run } = setup('web=session');
    expect(() => run(PerGroupRoutes, 'me', { params: { group: 'api' } }).result()).toThrow(NotFoundException);
    expect(() => run(ApiRoutes, 'list').result()).toThrow(NotFoundException);
    expect(() => run(Routes, 'refresh').result()).toThrow(NotFoundException);
    expect(() => setup('api=jwt').run(PerGroupRoutes, 'csrf', { params: { group: 'api' } }).result()).toThrow(NotFoundException);
  });

  it('checks @Roles after authenticating: 403 without the role', async () => {
    const { run } = setup();
    await expect(run(Routes, 'adminOnly').result()).rejects.toBeInstanceOf(ForbiddenException);
  });
});
