/**
 * The audit trail's vocabulary: which events exist, who can cause them, and the shape each is
 * shown in (API, CLI, webhook). No Nest, no TypeORM: the one place these names are written.
 */

export const AUDIT_EVENT_TYPES = [
  'user.registered',
  'login.succeeded',
  'login.failed',
  'logout',
  'logout_all',
  'session.ended',
  'refresh.reuse_detected',
  'password.changed',
  'password.reset',
  'email.verified',
  'role.changed',
  'user.disabled',
  'user.enabled',
  'user.deleted',
  'user.unlocked',
  'mfa.enabled',
  'mfa.disabled',
  'client.created',
  'client.revoked',
  'client.token_issued',
  'client.auth_failed',
  'limit.blocked',
  'anomaly.new_device',
  'anomaly.credential_stuffing',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export function isAuditEventType(value: string): value is AuditEventType {
  return (AUDIT_EVENT_TYPES as readonly string[]).includes(value);
}

/** Who caused an event: the user themselves, a machine client, an administrator, or AuthSwitch (and the CLI). */
export interface AuditActor {
  kind: 'user' | 'client' | 'admin' | 'system';
  id: string | null;
}

export const SYSTEM_ACTOR: AuditActor = { kind: 'system', id: null };

/** Where a request came from, as an event records it. */
export interface AuditOrigin {
  ip?: string | null;
  userAgent?: string | null;
  group?: string | null;
}

/**
 * Only plain values: whatever a caller puts here is stored and sent as is, so it must never be a
 * password, token, cookie, secret, one-time token or email address (an email would outlive the
 * account's deletion). Reasons, roles, counts, ids and prefixes are fine.
 */
export type AuditDetails = Record<string, string | number | boolean | null | string[]>;

export interface NewAuditEvent {
  type: AuditEventType;
  actor: AuditActor;
  /** The account the event is about, if any. */
  userId?: string | null;
  origin?: AuditOrigin;
  details?: AuditDetails;
}

/** An event as the API, the CLI and the webhook show it. */
export interface AuditEvent {
  id: string;
  type: string;
  at: string;
  actor: AuditActor;
  userId: string | null;
  ip: string | null;
  userAgent: string | null;
  group: string | null;
  details: AuditDetails;
}

/** The origin of an HTTP request (Express' `req.ip` honours TRUST_PROXY), without depending on Express. */
export function originOf(req: { ip?: string; headers: Record<string, string | string[] | undefined> }, group?: string | null): AuditOrigin {
  const userAgent = req.headers['user-agent'];
  return { ip: req.ip ?? null, userAgent: typeof userAgent === 'string' ? userAgent : null, group: group ?? null };
}
