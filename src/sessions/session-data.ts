/** What a signed-in session holds in its store. */
export interface SessionAuth {
  userId: string;
  email: string;
  name: string;
  roles: string[];
  /** Seconds since the epoch; compared with the user's cut-off like a JWT's `iat`. */
  issuedAt: number;
  createdAt: number;
  userAgent: string;
  ip: string;
}

declare module 'express-session' {
  interface SessionData {
    auth?: SessionAuth;
    csrfToken?: string;
  }
}

/** What authentication needs of a session: read without express-session's machinery. */
export interface SessionSnapshot {
  id: string;
  auth: SessionAuth;
  csrfToken: string | undefined;
}

/** A session as the account page lists it. */
export interface ActiveSession {
  id: string;
  createdAt: string;
  userAgent: string;
  ip: string;
  current: boolean;
}
