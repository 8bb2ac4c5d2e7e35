import type { Request } from 'express';
import type { AuthStrategy } from '../config/route-groups';

/** How a request was authenticated, whoever made it. */
interface Credential {
  /** How this request was authenticated. */
  via: 'session' | 'jwt' | (string & {});
  /** JWT only: the access token's id and expiry (seconds), for logout. */
  jti?: string;
  exp?: number;
}

/** A person: what every route that does not accept clients receives. */
export interface UserPrincipal extends Credential {
  /** A person (also when absent: an application's own strategy may leave it out). */
  kind?: 'user';
  /** The user id. */
  id: string;
  email: string;
  name: string;
  roles: string[];
  /** True when the credential says the address was verified; otherwise unknown (ask UsersService). */
  emailVerified?: boolean;
  /** JWT only: the route group the token was issued for. */
  group?: string;
  /** JWT only: the refresh family the access token was issued from (its `fam` claim). */
  familyId?: string;
  /** What the host's `claims` option added at sign-in or refresh (read-only). */
  claims?: Readonly<Record<string, unknown>>;
}

/** A machine client (client credentials): only on routes with `@Scopes(...)` or `@AllowClients()`. */
export interface ClientPrincipal extends Credential {
  kind: 'client';
  /** The client id; a client has no user id, so it can never be read as one. */
  clientId: string;
  /** The scopes its token was granted. */
  scopes: string[];
}

/** Who made the request, and how they proved it: narrow on `kind` before reading user fields. */
export type Principal = UserPrincipal | ClientPrincipal;

export interface AuthenticatedRequest extends Request {
  user?: Principal;
  /** Set when the request was authenticated by its session cookie. */
  authSession?: { id: string; csrfToken: string | undefined };
  /** The route group the request hit, and the strategy it uses. */
  routeGroup?: { name: string | null; strategy: AuthStrategy };
}
