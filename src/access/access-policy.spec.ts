import { Controller, Delete, Get, Post } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { parseRouteGroups } from '../config/route-groups';
import { accessPolicyOf } from './access-policy';
import { AllowClients, Public, Roles, RouteGroup, Scopes, UsersOnly } from './decorators';

@Controller('web/things')
@RouteGroup('web')
class WebRoutes {
  @Get() list() {}
  @Post() create() {}
  @Public() @Post('open') open() {}
}

@Controller('api/things')
@RouteGroup('api')
class ApiRoutes {
  @Get() list() {}
  @AllowClients() @Get('status') status() {}
  @Scopes('things:read') @Get('feed') feed() {}
  @Roles('admin') @Scopes('things:admin') @Delete(':id') remove() {}
  @Roles('admin') @Get('admin') admin() {}
}

@Controller('auth/things')
@UsersOnly()
class Ungrouped {
  @Post() change() {}
  @Get() read() {}
}

@Controller('api/admin-things')
@RouteGroup('api')
@Roles('admin')
class AdminRoutes {
  @Get() list() {}
  @AllowClients() @Get('stats') stats() {}
  @UsersOnly() @Get('mine') mine() {}
  @Roles('auditor') @Get('audit') audit() {}
}

const groups = parseRouteGroups('web=session,api=jwt');
const policy = (controller: { prototype: object }, method: string) =>
  accessPolicyOf(new Reflector(), (controller.prototype as Record<string, object>)[method], controller, groups);

describe('accessPolicyOf', () => {
  it('admits users only by default; clients need @Scopes or @AllowClients', () => {
    expect(policy(ApiRoutes, 'list')).toMatchObject({ principals: 'users', forbidden: ['clients-not-accepted'] });
    expect(policy(ApiRoutes, 'status')).toMatchObject({ principals: 'both', forbidden: [] });
    expect(policy(ApiRoutes, 'feed')).toMatchObject({ principals: 'clients', scopes: ['things:read'], forbidden: ['users-not-accepted', 'scope'] });
    expect(policy(ApiRoutes, 'remove')).toMatchObject({ principals: 'both', forbidden: ['role', 'scope'] });
    expect(policy(ApiRoutes, 'admin')).toMatchObject({ principals: 'users', forbidden: ['role', 'clients-not-accepted'] });
  });

  it("keeps a class's @Roles when a handler only says who else may come (@AllowClients, @UsersOnly)", () => {
    expect(policy(AdminRoutes, 'list')).toMatchObject({ roles: ['admin'], principals: 'users' });
    expect(policy(AdminRoutes, 'stats')).toMatchObject({ roles: ['admin'], principals: 'both' });
    expect(policy(AdminRoutes, 'mine')).toMatchObject({ roles: ['admin'], principals: 'users' });
    // A handler's own roles replace the class's.
    expect(policy(AdminRoutes, 'audit')).toMatchObject({ roles: ['auditor'], principals: 'users' });
  });

  it('says what can answer 403, per strategy: session routes see no client token, but need CSRF on unsafe methods', () => {
    expect(policy(WebRoutes, 'list')).toMatchObject({ strategy: 'session', csrf: false, forbidden: [] });
    expect(policy(WebRoutes, 'create')).toMatchObject({ csrf: true, forbidden: ['csrf'] });
    expect(policy(WebRoutes, 'open')).toMatchObject({ public: true, csrf: false, forbidden: [] });
    // No group: the any strategy, so both a client token and a session can arrive.
    expect(policy(Ungrouped, 'change')).toMatchObject({
      group: undefined,
      strategy: 'any',
      principals: 'users',
      csrf: true,
      forbidden: ['clients-not-accepted', 'csrf'],
    });
    expect(policy(Ungrouped, 'read')).toMatchObject({ csrf: false, forbidden: ['clients-not-accepted'] });
  });

  it('has no strategy for a group that is not configured (the guard answers 404)', () => {
    expect(accessPolicyOf(new Reflector(), ApiRoutes.prototype.list, ApiRoutes, parseRouteGroups('web=session')).strategy).toBeUndefined();
  });
});
