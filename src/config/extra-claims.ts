/**
 * Extra claims: what a host adds to every credential of a user (a plan, a tenant id, a profile
 * field of its own table), computed at sign-in and at each refresh, and carried inside the
 * credential, so reading them costs nothing per request. They are as fresh as the credential:
 * a change shows at the next refresh (JWT) or sign-in (session).
 */
export type ExtraClaims = Record<string, unknown>;

/** The user the claims are computed for. */
export interface ExtraClaimsSubject {
  id: string;
  email: string;
  name: string;
  roles: string[];
}

/** The `claims` option: may read the host's own tables (it runs at sign-in and refresh, never per request). */
export type ExtraClaimsFactory = (user: ExtraClaimsSubject) => ExtraClaims | Promise<ExtraClaims>;

/** Every access token carries them: they must not make it large (the seeds' "tokens grow large"). */
export const MAX_EXTRA_CLAIMS_BYTES = 1024;

/** A problem with what the host's `claims` option returned: a programming error of the host, never a client's. */
export class ExtraClaimsError extends Error {
  constructor(problem: string) {
    super(`AuthSwitchModule option claims: ${problem}`);
    this.name = 'ExtraClaimsError';
  }
}

/**
 * Checks and copies what the host's factory returned: a plain JSON object of at most
 * MAX_EXTRA_CLAIMS_BYTES. The copy is frozen, so no handler can change what a later request of
 * the same credential reads.
 */
export function checkedExtraClaims(value: unknown): ExtraClaims {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ExtraClaimsError('must return a plain object');
  const json = JSON.stringify(value);
  if (Buffer.byteLength(json) > MAX_EXTRA_CLAIMS_BYTES)
    throw new ExtraClaimsError(`returned ${Buffer.byteLength(json)} bytes of JSON; at most ${MAX_EXTRA_CLAIMS_BYTES} fit in every token`);
  return deepFreeze(JSON.parse(json) as ExtraClaims);
}

/** Freezes claims read back from a verified token (already plain JSON) in place. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
