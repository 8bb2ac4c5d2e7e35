/** What a signed-in session holds in its store. */
export interface SessionAuth {
  userId: string;
  email: string;
  name: string;
  roles: string[];
  /** Whether the address was verified at sign-in (true stays true; false is checked again where it matters). */
  emailVerified?: boolean;
  /** The user's credential version the session was built from; older than the user's = revoked. */
  version: number;
  createdAt: number;
  userAgent: string;
  ip: string;
  /** The host's extra claims at sign-in (the `claims` option), if any. */
  claims?: Record<string, unknown>;
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

/**
 * A live session of a user as the store holds it, for the device list. The id never leaves the
 * server: the list shows an opaque handle instead (src/auth/devices.service.ts).
 */
export interface StoredSession {
  sid: string;
  auth: SessionAuth;
  /** The last use as last written (see DeviceActivity); null when none was. */
  lastUsedAt: number | null;
}
