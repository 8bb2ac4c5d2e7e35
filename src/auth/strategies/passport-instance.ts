import passport from 'passport';

/**
 * The Passport instance of one AuthSwitch module. Passport's default instance is global to the
 * process: two applications in one process (two instances in a test, two hosts) would each
 * register `jwt` and `session` there, and the one built last would authenticate both with its
 * own keys and revocation state. RouteGroupGuard therefore runs the built-in strategies from
 * this instance; they are also registered on the default instance, so that
 * `AuthGuard('jwt')` from @nestjs/passport finds them (one application per process there).
 */
export const AUTH_SWITCH_PASSPORT = Symbol('AUTH_SWITCH_PASSPORT');

export type PassportInstance = passport.Authenticator;

export function createPassportInstance(): PassportInstance {
  return new passport.Passport();
}

/** Whether a Passport instance knows a strategy name (how authenticate() looks it up). */
export function hasStrategy(instance: PassportInstance, name: string): boolean {
  return Boolean((instance as unknown as { _strategy(name: string): unknown })._strategy(name));
}
