/** How a route group authenticates its requests. */
export type AuthStrategy = 'session' | 'jwt' | 'any';

export const AUTH_STRATEGIES: readonly AuthStrategy[] = ['session', 'jwt', 'any'];

/** Path segments the application itself uses at the top level; a group may not shadow them. */
const RESERVED_GROUP_NAMES = new Set(['auth', 'health', 'login', 'register', 'account', 'assets', '.well-known']);

const GROUP_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * Parses `AUTH_ROUTE_GROUPS` (`web=session,api=jwt`) into a map from group to strategy.
 * Throws an Error whose message says exactly what is wrong; config loading turns it into
 * the one-line start-up error.
 */
export function parseRouteGroups(raw: string): ReadonlyMap<string, AuthStrategy> {
  const groups = new Map<string, AuthStrategy>();
  const entries = raw.split(',').map((entry) => entry.trim());
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
    if (!(AUTH_STRATEGIES as readonly string[]).includes(strategy)) {
      throw new Error(`unknown strategy "${strategy}" for group "${group}": use session, jwt or any`);
    }
    if (groups.has(group)) {
      throw new Error(`group "${group}" is listed twice`);
    }
    groups.set(group, strategy as AuthStrategy);
  }
  return groups;
}

export function usesSessions(strategy: AuthStrategy): boolean {
  return strategy === 'session' || strategy === 'any';
}

export function usesJwt(strategy: AuthStrategy): boolean {
  return strategy === 'jwt' || strategy === 'any';
}
