/**
 * The decisions of a refresh-token presentation that lost the spend (the token was spent
 * already), without the database: RefreshTokenService reads the facts and acts on the verdict.
 * `reuse` revokes the family and answers 401; `wait` waits for the pair the winner seals;
 * `replay` answers that pair again (REFRESH_REUSE_GRACE_SECONDS).
 */

/** What is known before waiting: the spent row and where it is presented. */
export interface SpentPresentation {
  /** REFRESH_REUSE_GRACE_SECONDS; 0 is the strict mode. */
  graceSeconds: number;
  now: number;
  /** When the winner spent the token (its clock). */
  usedAt: number;
  /** The token's own expiry: a token spent after it expired was refused and has no successor. */
  expiresAt: number;
  /** The family's route group, null for a family from before groups were bound. */
  familyGroup: string | null;
  group: string;
}

export function judgeSpentPresentation(p: SpentPresentation): 'reuse' | 'wait' {
  if (p.graceSeconds <= 0) return 'reuse';
  const withinGrace = p.now - p.usedAt <= p.graceSeconds * 1000;
  if (!withinGrace || p.expiresAt <= p.usedAt) return 'reuse';
  if (p.familyGroup !== null && p.familyGroup !== p.group) return 'reuse';
  return 'wait';
}

/** What is known once the sealed pair has been opened. */
export interface OpenedReplay {
  /** The pair opened and named a refresh token of this family that exists. */
  successorInFamily: boolean;
  /** That successor has been spent itself: the presented token is not the family's newest spent one. */
  successorSpent: boolean;
  /** The family is alive (not revoked, not cut off by logout-all) as read from the database and here. */
  familyAlive: boolean;
}

export function judgeOpenedReplay(p: OpenedReplay): 'reuse' | 'replay' {
  return p.successorInFamily && !p.successorSpent && p.familyAlive ? 'replay' : 'reuse';
}
