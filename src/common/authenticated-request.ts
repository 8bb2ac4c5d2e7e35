import type { Request } from 'express';
import type { AuthStrategy } from '../config/route-groups';

/** Who made the request, and how they proved it. */
export interface Principal {
  /** A person (the default when absent) or a machine client (client credentials). */
  kind?: 'user' | 'client';
  /** Users: the user id. Clients: the client id. */
  id: string;
  email: string;
  name: string;
  roles: string[];
  /** True when the credential says the address was verified; otherwise unknown (ask UsersService). */
  emailVerified?: boolean;
  /** How this request was authenticated. */
  via: 'session' | 'jwt' | (string & {});
  /** JWT only: the access token's id and expiry (seconds), for logout. */
  jti?: string;
  exp?: number;
  /** JWT only: the route group the token was issued for. */
  group?: string;
  /** Clients only: the client id (also `id`) and the scopes its token was granted. */
  clientId?: string;
  scopes?: string[];
  /** JWT only: the refresh family the access token was issued from (its `fam` claim). */
  familyId?: string;
}

export interface AuthenticatedRequest extends Request {
  user?: Principal;
  /** Set when the request was authenticated by its session cookie. */
  authSession?: { id: string; csrfToken: string | undefined };
  /** The route group the request hit, and the strategy it uses. */
  routeGroup?: { name: string | null; strategy: AuthStrategy };
}
