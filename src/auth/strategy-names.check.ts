import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import passport from 'passport';
import { AUTH_SWITCH_ROUTES } from '../auth-switch/auth-switch.options';
import { ConfigError } from '../config/config-error';
import type { AuthSwitchRoutes } from './group-routes';

/**
 * AUTH_ROUTE_GROUPS may name any Passport strategy the application registers. Strategies
 * register themselves when their providers are built, so the names are checked once every
 * module is up: a misspelt name stops start-up instead of failing every request of the group.
 */
@Injectable()
export class StrategyNamesCheck implements OnApplicationBootstrap {
  constructor(@Inject(AUTH_SWITCH_ROUTES) private readonly routes: AuthSwitchRoutes) {}

  onApplicationBootstrap(): void {
    // passport._strategy() is how passport.authenticate() itself looks a name up.
    const registered = passport as unknown as { _strategy(name: string): unknown };
    for (const [group, strategy] of this.routes.groups) {
      if (!registered._strategy(strategy)) {
        throw new ConfigError(
          'AUTH_ROUTE_GROUPS',
          `group "${group}" uses strategy "${strategy}", which is not a registered Passport strategy (use session, jwt, any or the name given to PassportStrategy)`,
        );
      }
    }
  }
}
