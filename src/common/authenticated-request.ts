import type { Request } from 'express';
import type { AuthStrategy } from '../config/route-groups';

/** Who made the request, and how they proved it. */
export interface Principal {
  id: string;
  email: string;
  name: string;
  roles: string[];
  /** How this request was authenticated. */
  via: 'session' | 'jwt' | (string & {});
  /** JWT only: the access token's id and expiry (seconds), for logout. */
  jti?: string;
  exp?: number;
  /** JWT only: the route group the token was issued for. */
  group?: string;
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
