import { Body, Controller, Get, Injectable, Module, Post, UseGuards } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import type { Request } from 'express';
import { join } from 'node:path';
import { Strategy } from 'passport-strategy';
import { Repository } from 'typeorm';
import {
  AllowClients,
  AUTH_SWITCH_MIGRATIONS,
  AuthSwitchModule,
  ClientPrincipal,
  CurrentUser,
  Principal,
  Public,
  Roles,
  RouteGroup,
  Scopes,
  UserPrincipal,
  UsersOnly,
} from '../../src';
import { CreateProjects1900000000000, Project } from './project.entity';

/**
 * A small application that imports AuthSwitch the way a NestJS developer would: its own
 * DataSource, its own entity and migration, its own Passport strategy, its own controllers.
 */

/** An API-key strategy for partners: the header X-Api-Key, checked against a known key. */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(Strategy, 'api-key') {
  static readonly KEY = 'partner-key-0123456789';

  validate(key: string | undefined): Principal | false {
    if (key !== ApiKeyStrategy.KEY) return false;
    return { id: 'partner-acme', email: 'api@acme.test', name: 'Acme', roles: ['partner'], via: 'api-key' };
  }

  authenticate(req: Request): void {
    const principal = this.validate(req.header('x-api-key'));
    if (principal) this.success(principal);
    else this.fail('Unknown API key', 401);
  }
}

/** A feature controller at a path that used to be swallowed by the built-in `/:group/me`. */
@Controller('partners')
export class PartnersController {
  @Public()
  @Get('me')
  me() {
    return { partners: 'yes' };
  }
}

/** The partner group, authenticated by the application's own strategy. */
@Controller('partner/feed')
@RouteGroup('partner')
export class PartnerFeedController {
  @Get()
  feed(@CurrentUser() partner: UserPrincipal) {
    return { for: partner.id, via: partner.via };
  }
}

/** The host's own entity, behind the api group's JWTs. */
@Controller('api/projects')
@RouteGroup('api')
export class ProjectsController {
  constructor(
    @InjectRepository(Project) private readonly projects: Repository<Project>,
    private readonly jwt: JwtService,
  ) {}

  @Post()
  create(@CurrentUser() user: UserPrincipal, @Body() body: { name: string }) {
    return this.projects.save(this.projects.create({ name: String(body.name), ownerId: user.id }));
  }

  @Get()
  list(@CurrentUser('id') userId: string) {
    return this.projects.findBy({ ownerId: userId });
  }

  @Roles('admin')
  @Get('admin')
  admin() {
    return { admin: true };
  }

  /** JwtService comes configured with the key ring. */
  @Post('ticket')
  ticket(@CurrentUser('id') userId: string) {
    return { ticket: this.jwt.sign({ sub: userId, purpose: 'ticket' }, { expiresIn: 60 }) };
  }
}

/** Who may call what: roles govern users, scopes govern machine clients. */
@Controller('api/reports')
@RouteGroup('api')
export class ReportsController {
  /** Clients with the scope; users (who hold no scopes) get 403. */
  @Scopes('reports:read')
  @Get()
  list(@CurrentUser() caller: ClientPrincipal) {
    return { reports: [], for: caller.clientId };
  }

  /** Either an admin user or a client with `reports:admin`. */
  @Roles('admin')
  @Scopes('reports:admin')
  @Get('admin')
  admin(@CurrentUser() caller: Principal) {
    return { kind: caller.kind ?? 'user' };
  }

  /** People only. */
  @UsersOnly()
  @Get('mine')
  mine(@CurrentUser('id') id: string) {
    return { owner: id };
  }

  /** Users and any client. */
  @AllowClients()
  @Get('status')
  status(@CurrentUser() caller: Principal) {
    return { kind: caller.kind ?? 'user' };
  }
}

/** Nest's own AuthGuard, with AuthSwitch's strategies, for hosts without the global guard. */
@Controller('guarded')
export class GuardedController {
  @Get('open')
  open() {
    return { open: true };
  }

  @UseGuards(AuthGuard('jwt'))
  @Get('jwt')
  jwt(@CurrentUser() user: UserPrincipal) {
    return { id: user.id, via: user.via };
  }

  @UseGuards(AuthGuard('session'))
  @Post('session')
  session(@CurrentUser() user: UserPrincipal) {
    return { id: user.id, via: user.via };
  }
}

@Module({ imports: [TypeOrmModule.forFeature([Project])], controllers: [ProjectsController], providers: [] })
export class ProjectsModule {}

export interface HostOptions {
  dataDir: string;
  globalGuard: boolean;
  routeGroups?: string;
}

/** The host's root module: its DataSource, AuthSwitch through forRootAsync, its features. */
export function hostModule(options: HostOptions) {
  @Module({
    imports: [
      TypeOrmModule.forRoot({
        type: 'better-sqlite3',
        database: join(options.dataDir, 'host.sqlite'),
        autoLoadEntities: true,
        migrations: [...AUTH_SWITCH_MIGRATIONS, CreateProjects1900000000000],
        migrationsRun: true,
      }),
      AuthSwitchModule.forRootAsync({
        routeGroups: options.routeGroups ?? 'web=session,api=jwt,partner=api-key',
        globalGuard: options.globalGuard,
        useFactory: () => ({ dataDir: options.dataDir, jwt: { issuer: 'host-app' }, loginLimits: { maxFailuresPerAddress: 10_000 } }),
      }),
      ProjectsModule,
    ],
    controllers: [PartnersController, PartnerFeedController, GuardedController, ReportsController],
    providers: [ApiKeyStrategy],
  })
  class HostModule {}
  return HostModule;
}
