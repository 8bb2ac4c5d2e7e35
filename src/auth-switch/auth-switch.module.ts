import { ConfigurableModuleBuilder, DynamicModule, Module, Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { ClientsModule } from '../clients/clients.module';
import { adminEventsController } from '../auth/admin-events.routes';
import { adminController, AuthSwitchRoutes, groupControllers } from '../auth/group-routes';
import { RouteGroupGuard } from '../auth/route-group.guard';
import { AuthStrategy, resolveRouteSettings } from '../config/route-groups';
import { MailModule } from '../mail/mail.module';
import { MetricsModule } from '../metrics/metrics.module';
import { RedisModule } from '../redis/redis.module';
import { SessionsModule } from '../sessions/sessions.module';
import { TokensModule } from '../tokens/tokens.module';
import { UsersModule } from '../users/users.module';
import { ConfigError } from '../config/config-error';
import { optionForVariable } from '../config/settings';
import { StartupChecks } from './startup-checks';
import { MetricsRoutesModule } from './metrics.controller';
import { PublicAddress } from '../common/public-address';
import {
  AUTH_SWITCH_DEFAULTS,
  AUTH_SWITCH_OPTIONS,
  AUTH_SWITCH_ROUTES,
  AuthSwitchOptions,
  AuthSwitchSettings,
  resolveAuthSwitchOptions,
} from '../config/auth-switch.options';

/**
 * What shapes the module itself, so it is given directly even to forRootAsync(): the groups
 * decide which controllers exist, and a module's controllers cannot wait for a factory.
 */
export interface AuthSwitchModuleExtras {
  /** `web=session,api=jwt` (the default), or `{ web: 'session', api: 'jwt' }`. */
  routeGroups?: string | Record<string, string> | ReadonlyMap<string, AuthStrategy>;
  /** The group of the admin routes; default `api` when configured. */
  adminGroup?: string;
  /** Register RouteGroupGuard as the global guard (default true). Without it, use the guards per controller. */
  globalGuard?: boolean;
}

// OPTIONS_TYPE and ASYNC_OPTIONS_TYPE exist only to be read with `typeof` (Nest's builder idiom).
// eslint-disable-next-line @typescript-eslint/no-unused-vars
const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } = new ConfigurableModuleBuilder<
  AuthSwitchSettings | AuthSwitchOptions
>({
  moduleName: 'AuthSwitch',
})
  .setClassMethodName('forRoot')
  .setExtras<AuthSwitchModuleExtras>({ routeGroups: AUTH_SWITCH_DEFAULTS.routeGroups, globalGuard: true }, (definition, extras) =>
    withRoutes(definition, resolveRoutes(extras)),
  )
  .build();

export type AuthSwitchModuleOptions = typeof OPTIONS_TYPE;
export type AuthSwitchModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE;

/**
 * AuthSwitch as a Nest module: users, tokens, sessions, the Passport strategies `jwt`,
 * `session` and `any`, the per-group routes and RouteGroupGuard.
 *
 *     AuthSwitchModule.forRoot({ routeGroups: 'web=session,api=jwt', redis: { url }, jwt: { privateKeyFile } })
 *
 * The host owns the database: its TypeOrmModule.forRoot() must use `autoLoadEntities: true`
 * (AuthSwitch registers its entities with forFeature) and run AUTH_SWITCH_MIGRATIONS. The
 * module is global, so AuthService, JwtService, TokensService and the guards can be injected
 * anywhere in the host.
 */
@Module({})
export class AuthSwitchModule extends ConfigurableModuleClass {}

function namingModuleOptions<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    const option = error instanceof ConfigError ? optionForVariable(error.variable) : undefined;
    if (option) throw new ConfigError(`AuthSwitchModule option ${option}`, (error as ConfigError).problem);
    throw error;
  }
}

/**
 * Options as a host gives them, always resolved and checked, whatever they look like: options that
 * merely resemble resolved ones must not skip the production checks. Production is the host's
 * NODE_ENV unless it says otherwise, so a host deployed with NODE_ENV=production gets the same
 * refusal of development secrets as the server. (Resolving resolved options again changes nothing.)
 */
export function resolveModuleOptions(settings: AuthSwitchSettings | AuthSwitchOptions): AuthSwitchOptions {
  const production = settings.production ?? process.env.NODE_ENV === 'production';
  return namingModuleOptions(() => resolveAuthSwitchOptions({ ...(settings as AuthSwitchSettings), production }));
}

function resolveRoutes(extras: AuthSwitchModuleExtras): AuthSwitchRoutes {
  const { groups, adminGroup } = namingModuleOptions(() => resolveRouteSettings(extras.routeGroups ?? AUTH_SWITCH_DEFAULTS.routeGroups, extras.adminGroup));
  return { groups, adminGroup, globalGuard: extras.globalGuard ?? true };
}

function withRoutes(definition: DynamicModule, routes: AuthSwitchRoutes): DynamicModule {
  const providers: Provider[] = [
    ...(definition.providers ?? []),
    {
      provide: AUTH_SWITCH_OPTIONS,
      inject: [MODULE_OPTIONS_TOKEN],
      useFactory: resolveModuleOptions,
    },
    { provide: AUTH_SWITCH_ROUTES, useValue: routes },
    StartupChecks,
    PublicAddress,
  ];
  if (routes.globalGuard) providers.push({ provide: APP_GUARD, useExisting: RouteGroupGuard });
  const features = [
    MetricsModule,
    MetricsRoutesModule,
    RedisModule,
    MailModule,
    AuditModule,
    UsersModule,
    TokensModule,
    SessionsModule,
    AuthModule,
    ClientsModule,
  ];
  return {
    ...definition,
    // Global: the feature modules below (and the host) read the options from here.
    global: true,
    imports: [...(definition.imports ?? []), ...features],
    controllers: [...groupControllers(routes), adminController(routes), adminEventsController(routes)],
    providers,
    exports: [AUTH_SWITCH_OPTIONS, AUTH_SWITCH_ROUTES, PublicAddress, ...features],
  };
}
