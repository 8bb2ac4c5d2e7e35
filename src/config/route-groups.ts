/**
 * How a route group authenticates its requests: one of the built-in strategies, or the name of
 * a Passport strategy the application registers (checked at start-up).
 */
export type AuthStrategy = BuiltInStrategy | (string & {});

export type BuiltInStrategy = 'session' | 'jwt' | 'any';

export const AUTH_STRATEGIES: readonly BuiltInStrategy[] = ['session', 'jwt', 'any'];

/** Path segments the application itself uses at the top level; a group may not shadow them. */
const RESERVED_GROUP_NAMES = new Set([
  'auth',
  'health',
  'login',
  'logout',
  'register',
  'account',
  'assets',
  'docs',
  'docs-json',
  'oauth',
  '.well-known',
  'forgot-password',
  'reset-password',
  'verify-email',
]);

const GROUP_NAME = /^[a-z][a-z0-9-]{0,31}$/;
import { ConfigError } from './config-error';

/** What passport.use() names look like in practice: `jwt`, `api-key`, `local_ldap`. */
const STRATEGY_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export function isBuiltInStrategy(strategy: string): strategy is BuiltInStrategy {
  return (AUTH_STRATEGIES as readonly string[]).includes(strategy);
}

/**
 * Parses `AUTH_ROUTE_GROUPS` (`web=session,api=jwt`) into a map from group to strategy.
 * Throws an Error whose message says exactly what is wrong; config loading turns it into
 * the one-line start-up error. Strategy names other than the built-in ones are checked against
 * the registered Passport strategies once the application has started its modules.
 */
export function parseRouteGroups(raw: string | Record<string, string>): ReadonlyMap<string, AuthStrategy> {
  const entries =
    typeof raw === 'string' ? raw.split(',').map((entry) => entry.trim()) : Object.entries(raw).map(([group, strategy]) => `${group}=${strategy}`);
  const groups = new Map<string, AuthStrategy>();
  if (entries.length === 0 || entries.every((entry) => entry === '')) {
    throw new Error('must name at least one group, e.g. "web=session,api=jwt"');
  }
  for (const entry of entries) {
    const match = /^([^=\s]+)=([^=\s]+)$/.exec(entry);
    if (!match) {
      throw new Error(`malformed entry "${entry}": expected group=strategy`);
    }
    const [, group, strategy] = match;
    if (!GROUP_NAME.test(group)) {
      throw new Error(`group name "${group}" must be lower-case letters, digits or dashes`);
    }
    if (RESERVED_GROUP_NAMES.has(group)) {
      throw new Error(`group name "${group}" is reserved by the application`);
    }
    if (!STRATEGY_NAME.test(strategy)) {
      throw new Error(`strategy "${strategy}" for group "${group}" is not a strategy name: use session, jwt, any or a registered Passport strategy`);
    }
    if (groups.has(group)) {
      throw new Error(`group "${group}" is listed twice`);
    }
    groups.set(group, strategy);
  }
  return groups;
}

/**
 * The group the admin routes (`/<group>/admin/users/...`) live in. An explicit choice must be a
 * configured group; by default `api` when there is one, else the first group that accepts Bearer
 * tokens, else the first group, so that role changes never become impossible when groups change.
 */
export function resolveAdminGroup(groups: ReadonlyMap<string, AuthStrategy>, explicit?: string): string {
  if (explicit !== undefined) {
    if (!groups.has(explicit)) throw new Error(`"${explicit}" is not a group of AUTH_ROUTE_GROUPS (${[...groups.keys()].join(', ')})`);
    return explicit;
  }
  if (groups.has('api')) return 'api';
  const bearer = [...groups].find(([, strategy]) => usesJwt(strategy));
  return bearer ? bearer[0] : [...groups.keys()][0];
}

export function usesSessions(strategy: AuthStrategy): boolean {
  return strategy === 'session' || strategy === 'any';
}

export function usesJwt(strategy: AuthStrategy): boolean {
  return strategy === 'jwt' || strategy === 'any';
}

/**
 * The route groups and the admin group, from the environment or from module options, with the
 * one-line ConfigError that names the setting at fault.
 */
export function resolveRouteSettings(
  rawGroups: string | Record<string, string> | ReadonlyMap<string, string>,
  adminGroup: string | undefined,
): { groups: ReadonlyMap<string, AuthStrategy>; adminGroup: string } {
  let groups: ReadonlyMap<string, AuthStrategy>;
  try {
    // A Map is checked like the string form: names, reserved paths and strategy names.
    groups = parseRouteGroups(rawGroups instanceof Map ? Object.fromEntries(rawGroups) : (rawGroups as string | Record<string, string>));
  } catch (error) {
    throw new ConfigError('AUTH_ROUTE_GROUPS', (error as Error).message);
  }
  try {
    return { groups, adminGroup: resolveAdminGroup(groups, adminGroup) };
  } catch (error) {
    throw new ConfigError('ADMIN_ROUTE_GROUP', (error as Error).message);
  }
}
