import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import passport from 'passport';
import { AUTH_SWITCH_ROUTES } from '../config/auth-switch.options';
import { ConfigError } from '../config/config-error';
import type { AuthSwitchRoutes } from './group-routes';
import { AUTH_SWITCH_PASSPORT, hasStrategy, PassportInstance } from './strategies/passport-instance';
import { AnyStrategy } from './strategies/any.strategy';
import { JwtStrategy } from './strategies/jwt.strategy';
import { SessionStrategy } from './strategies/session.strategy';

/**
 * AUTH_ROUTE_GROUPS may name any Passport strategy the application registers. Strategies
 * register themselves when their providers are built, so the names are checked once every
 * module is up: a misspelt name stops start-up instead of failing every request of the group.
 */
@Injectable()
export class StrategyNamesCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger('AuthSwitch');

  constructor(
    @Inject(AUTH_SWITCH_ROUTES) private readonly routes: AuthSwitchRoutes,
    @Inject(AUTH_SWITCH_PASSPORT) private readonly own: PassportInstance,
  ) {}

  onApplicationBootstrap(): void {
    for (const [group, strategy] of this.routes.groups) {
      if (!hasStrategy(this.own, strategy) && !hasStrategy(passport, strategy)) {
        throw new ConfigError(
          'AUTH_ROUTE_GROUPS',
          `group "${group}" uses strategy "${strategy}", which is not a registered Passport strategy (use session, jwt, any or the name given to PassportStrategy)`,
        );
      }
    }
    // RouteGroupGuard runs its own jwt/session/any, but AuthGuard('jwt') reads Passport's
    // default instance, where an application's strategy of the same name may have replaced ours.
    const registered = passport as unknown as { _strategy(name: string): unknown };
    const ours = { jwt: JwtStrategy, session: SessionStrategy, any: AnyStrategy };
    for (const [name, type] of Object.entries(ours)) {
      if (!(registered._strategy(name) instanceof type)) {
        this.logger.warn(
          `another Passport strategy is registered as "${name}": AuthGuard('${name}') runs it, not AuthSwitch's (the group routes are not affected)`,
        );
      }
    }
  }
}
