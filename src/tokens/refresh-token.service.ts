import { AuditService } from '../audit/audit.service';
import { AuditOrigin, NewAuditEvent, SYSTEM_ACTOR } from '../audit/audit-events';
import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { EntityManager, IsNull, Repository } from 'typeorm';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { User } from '../users/user.entity';
import { RefreshFamily } from './refresh-family.entity';
import { RefreshToken } from './refresh-token.entity';
import { RevocationService } from './revocation.service';
import { judgeOpenedReplay, judgeSpentPresentation } from './refresh-replay';
import { openSuccessor, sealSuccessor } from './successor-seal';
import type { TokenPair } from './tokens.service';
import { authError } from '../common/auth-errors';
import { MetricsService } from '../metrics/metrics.service';

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Where a login came from, as the device list shows it. */
export interface LoginDevice {
  ip: string;
  userAgent: string;
}

/** A refresh that took longer than this between spending its token and signing is refused. */
export const SPEND_DEADLINE_MS = 30_000;
/** Within the reuse grace, how long a retry waits for the winning refresh to seal its pair, and how often it looks. */
const SUCCESSOR_WAIT_MS = 5_000;
const SUCCESSOR_POLL_MS = 30;

/** What a spent refresh token vouches for: the user as read after spending it, and its family. */
export interface SpentRefreshToken {
  user: User;
  familyId: string;
  spentAt: number;
  /** The spent token's row, where the pair traded for it is sealed (reuse grace). */
  tokenId: string;
}

/** A retry within the reuse grace: the pair the token was already traded for, as it was handed out. */
export interface ReplayedRefresh {
  replayed: TokenPair;
}

/**
 * Opaque refresh tokens in families. A token is good for one refresh; presenting it again
 * means it leaked (or the client is confused), so its family is revoked, and with it every
 * access token issued from the family (they carry its id). Revocation lives on the family row,
 * so a successor inserted by a refresh that raced the revocation is born dead.
 *
 * With REFRESH_REUSE_GRACE_SECONDS > 0, the refresh that spent a token seals the pair it hands
 * out onto the spent token's row (sealSuccessor), and a presentation of that token again within
 * the grace gets the same pair back (replay) instead of revoking: two tabs, a retried request.
 */
@Injectable()
export class RefreshTokenService {
  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly config: AuthSwitchOptions,
    @InjectRepository(RefreshToken) private readonly tokens: Repository<RefreshToken>,
    @InjectRepository(RefreshFamily) private readonly families: Repository<RefreshFamily>,
    private readonly revocation: RevocationService,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
  ) {}

  private readonly reuseListeners: ((reuse: { userId: string; origin: AuditOrigin; at: number }) => void)[] = [];

  /** Starts a family for a login, stamped with the user version the login read and where it came from. */
  async startFamily(user: Pick<User, 'id' | 'credentialVersion'>, group: string, device?: LoginDevice): Promise<string> {
    const id = randomUUID();
    await this.families.insert({
      id,
      userId: user.id,
      userVersion: user.credentialVersion,
      routeGroup: group,
      createdAt: Date.now(),
      revokedAt: null,
      ip: device?.ip ?? null,
      userAgent: device?.userAgent ?? null,
    });
    return id;
  }

  /** Issues a token in the family. Returns the only copy of the secret. */
  async issue(userId: string, familyId: string): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    await this.tokens.insert({
      id: randomUUID(),
      tokenHash: hashToken(token),
      familyId,
      userId,
      createdAt: now,
      expiresAt: now + this.config.jwt.refreshTokenTtlSeconds * 1000,
      usedAt: null,
    });
    return token;
  }

  /**
   * Spends a refresh token. The conditional update lets exactly one presentation through; any
   * other is a reuse and revokes the family. Only after spending are the family and the user
   * read, so a logout-all or reuse that committed first is always seen, and one that commits
   * later still wins: the family is judged again at every use.
   *
   * With a reuse grace, a presentation that loses the spend may instead get the pair the token
   * was already traded for (see replay()); without one, the code path is the strict one.
   */
  async spend(
    token: string,
    group: string,
    beforeSpending?: (userId: string) => Promise<void>,
    origin: AuditOrigin = { group },
  ): Promise<SpentRefreshToken | ReplayedRefresh> {
    const found = typeof token === 'string' ? await this.findWithGroup(token) : null;
    if (!found) throw this.invalid();
    const { record, familyGroup } = found;
    // An unspent token shown in another group is refused before it is spent, so a client that
    // calls the wrong group does not burn it. A spent one is a reuse wherever it is shown.
    if (record.usedAt === null && familyGroup !== null && familyGroup !== group) throw this.invalid();
    // Work that may fail (the host's claims) runs while the token is still unspent, so a failure
    // leaves it usable for a retry; and only for a token that can still yield a pair.
    if (record.usedAt === null && beforeSpending) {
      // familyGroup: a family from before groups were bound is bound only once the token is spent.
      if (record.expiresAt <= Date.now() || !(await this.userOfLiveFamily(record.familyId, record.userId, familyGroup))) throw this.invalid();
      try {
        await beforeSpending(record.userId);
      } catch (error) {
        // Spent by a parallel presentation meanwhile: this one is a reuse, whatever failed here.
        const current = await this.tokens.findOne({ where: { id: record.id }, select: { id: true, usedAt: true } });
        if (current?.usedAt === null || current?.usedAt === undefined) throw error;
        if (this.config.jwt.refreshReuseGraceSeconds > 0)
          return this.replay(token, { ...record, usedAt: current.usedAt } as RefreshToken, familyGroup, group, origin);
        await this.reuseDetected(record, origin);
        throw this.invalid();
      }
    }
    const now = Date.now();
    const spent = await this.tokens.update({ id: record.id, usedAt: IsNull() }, { usedAt: now });
    if (!spent.affected) {
      if (this.config.jwt.refreshReuseGraceSeconds > 0) return this.replay(token, record, familyGroup, group, origin);
      await this.reuseDetected(record, origin);
      throw this.invalid();
    }
    // A family from before groups were bound is bound by its first refresh, to that group.
    if (familyGroup === null) await this.families.update({ id: record.familyId, routeGroup: IsNull() }, { routeGroup: group });
    if (record.expiresAt <= now) throw this.invalid();
    const user = await this.userOfLiveFamily(record.familyId, record.userId, group);
    if (!user) throw this.invalid();
    return { user, familyId: record.familyId, spentAt: now, tokenId: record.id };
  }

  /**
   * Reuse grace, for the winner of the spend: stores the pair it is about to hand out on the spent
   * token's row, sealed under a key derived from that token (successor-seal.ts), so that the
   * database never holds a usable credential. Written once (`successor IS NULL`): only the winner
   * of the spend writes here, so a miss means the row is gone (user deleted) and nothing is
   * handed out. Does nothing without a grace.
   */
  async sealSuccessor(token: string, tokenId: string, pair: TokenPair): Promise<void> {
    if (this.config.jwt.refreshReuseGraceSeconds <= 0) return;
    const sealed = sealSuccessor(token, tokenId, JSON.stringify(pair));
    const stored = await this.tokens.update({ id: tokenId, successor: IsNull() }, { successor: sealed });
    if (!stored.affected) throw this.invalid();
  }

  /**
   * A presentation that lost the spend, with a reuse grace. It gets the pair the winner handed
   * out when all of these hold, and otherwise counts as a reuse and revokes the family as the
   * strict mode does:
   * - the token was spent at most REFRESH_REUSE_GRACE_SECONDS ago (`used_at`, the winner's clock),
   *   and not after it expired (an expired token was refused and has no successor);
   * - it is shown in its family's group, and the family is alive (userOfLiveFamily), judged both
   *   before waiting and after the pair has appeared;
   * - it is its family's newest spent token: its successor has not been spent itself.
   * If the winner never seals a pair (it failed, or the family was revoked meanwhile), the answer
   * is 401 without revoking anything.
   *
   * Why the interleavings are safe:
   * - N presentations at once, on any instances: the conditional UPDATE of `used_at` lets exactly
   *   one through (the database serialises it). The winner seals once (`successor IS NULL`) before
   *   it answers; every loser opens that one sealed value, so all answers are the same pair.
   * - A loser never answers before the winner has sealed: it only reads the row. If the winner
   *   fails after spending, no pair appears and the losers answer 401 after SUCCESSOR_WAIT_MS;
   *   the family is not revoked (nobody has a successor to misuse).
   * - "Newest" is checked on the successor's own row after opening the pair. The successor's
   *   plaintext is known only to the winner until the seal is written, so it cannot be spent
   *   before the seal exists; once it has been spent (the client rotated on), showing the older
   *   token is a reuse whatever the grace. A rotation of the successor that commits just after
   *   this check is the same as the retry having arrived a moment earlier: the client then holds
   *   the successor twice, and its next use is judged like any other.
   * - Logout-all (or a revocation) that committed before the final liveness read: that read sees
   *   the revoked family in the database (the truth, whatever this instance's in-process state)
   *   and nothing is handed out. One that commits after it: the pair handed out is exactly what
   *   the winner handed out just before, with the same fate: its refresh token is refused at its
   *   next use (the family is judged at every use) and its access token carries the family id
   *   and a user version that the revocation has made stale.
   * - Outside the grace, or a token older than the newest: the family is revoked as in strict
   *   mode, so a thief replaying a captured token later still trips reuse detection.
   */
  private async replay(token: string, record: RefreshToken, familyGroup: string | null, group: string, origin: AuditOrigin): Promise<ReplayedRefresh> {
    const reuse = async (): Promise<UnauthorizedException> => {
      await this.reuseDetected(record, origin);
      return this.invalid();
    };
    // `used_at` as the winner stamped it (the row was read before our spend failed).
    const usedAt = (await this.tokens.findOneBy({ id: record.id }))?.usedAt ?? null;
    if (usedAt === null) throw this.invalid(); // the row is gone: its user was deleted
    const first = judgeSpentPresentation({
      graceSeconds: this.config.jwt.refreshReuseGraceSeconds,
      now: Date.now(),
      usedAt,
      expiresAt: record.expiresAt,
      familyGroup,
      group,
    });
    if (first === 'reuse') throw await reuse();
    // A family from before groups were bound may still be being bound by the winner: judged after the wait.
    if (familyGroup !== null && !(await this.userOfLiveFamily(record.familyId, record.userId, group))) throw await reuse();

    const sealed = await this.awaitSuccessor(record.id, usedAt);
    if (sealed === null) throw this.invalid();
    const opened = openSuccessor(token, record.id, sealed);
    const pair = opened === null ? null : (JSON.parse(opened) as TokenPair);
    if (!pair || typeof pair.refresh_token !== 'string' || typeof pair.access_token !== 'string') throw await reuse();
    const successor = await this.tokens.findOneBy({ tokenHash: hashToken(pair.refresh_token) });
    const successorInFamily = successor !== null && successor.familyId === record.familyId;
    // Read only when the answer could still be a replay: a reuse needs no liveness read.
    const familyAlive =
      successorInFamily &&
      successor.usedAt === null &&
      (await this.userOfLiveFamily(record.familyId, record.userId, group)) !== null &&
      !this.revocation.isFamilyRevoked(record.familyId);
    if (judgeOpenedReplay({ successorInFamily, successorSpent: successor?.usedAt != null, familyAlive }) === 'reuse') throw await reuse();
    return { replayed: pair };
  }

  /**
   * Polls the spent row for the pair its winner seals, until it appears, the family is revoked, or
   * SUCCESSOR_WAIT_MS have passed (the winner never signs later than SPEND_DEADLINE_MS after the
   * spend either). Null when no pair is coming.
   */
  private async awaitSuccessor(tokenId: string, usedAt: number): Promise<string | null> {
    const deadline = performance.now() + Math.min(SUCCESSOR_WAIT_MS, Math.max(0, usedAt + SPEND_DEADLINE_MS - Date.now()));
    for (;;) {
      const row = await this.tokens
        .createQueryBuilder('token')
        .innerJoin(RefreshFamily, 'family', 'family.id = token.family_id')
        .select('token.successor', 'successor')
        .addSelect('family.revoked_at', 'revoked_at')
        .where('token.id = :tokenId', { tokenId })
        .getRawOne<{ successor: string | null; revoked_at: unknown }>();
      if (!row || row.revoked_at !== null) return null;
      if (row.successor) return row.successor;
      if (performance.now() >= deadline) return null;
      await sleep(SUCCESSOR_POLL_MS);
    }
  }

  /** The token's row and its family's route group, in one query. */
  private async findWithGroup(token: string): Promise<{ record: RefreshToken; familyGroup: string | null } | null> {
    const { entities, raw } = await this.tokens
      .createQueryBuilder('token')
      .leftJoin(RefreshFamily, 'family', 'family.id = token.family_id')
      .addSelect('family.route_group', 'family_route_group')
      .where('token.token_hash = :hash', { hash: hashToken(token) })
      .getRawAndEntities<{ family_route_group: string | null }>();
    return entities[0] ? { record: entities[0], familyGroup: raw[0]?.family_route_group ?? null } : null;
  }

  /**
   * The user as stored now, if the family is still alive: not revoked, and started at or after
   * the user's last logout-all, in this route group. Null otherwise.
   */
  async userOfLiveFamily(familyId: string, userId: string, group: string | null): Promise<User | null> {
    // One query: the family joined with its user.
    // (getOne, not findOne: findOne with a relation costs TypeORM a second query.)
    const family = await this.families
      .createQueryBuilder('family')
      .innerJoinAndSelect('family.user', 'user')
      .where('family.id = :familyId', { familyId })
      .getOne();
    const user = family?.user;
    // A family refreshes only in the group it was started in, like its access tokens.
    const inGroup = family?.routeGroup === group;
    return family && user && inGroup && user.id === userId && this.isAlive(family, user) ? user : null;
  }

  /** Revokes the family of a token if it belongs to this user; unknown tokens are ignored. */
  async revokeFamilyOf(token: string, userId: string): Promise<void> {
    const record = await this.tokens.findOneBy({ tokenHash: hashToken(token) });
    if (record && record.userId === userId) await this.revokeFamily(record.familyId);
  }

  /**
   * Revokes a family: the row and the log entry that kills its access tokens commit together.
   * A family already revoked adds nothing (its access tokens are covered by the first entry, or
   * by the user version that logout-all raised).
   */
  /**
   * A spent token shown again: its family dies, and (the first time) the event is recorded with
   * it and the listeners hear of it after the commit (the owner is mailed).
   */
  private async reuseDetected(record: RefreshToken, origin: AuditOrigin): Promise<void> {
    this.metrics.refresh('reuse_detected');
    const event: NewAuditEvent = { type: 'refresh.reuse_detected', actor: SYSTEM_ACTOR, userId: record.userId, origin, details: { familyId: record.familyId } };
    if (await this.revokeFamily(record.familyId, event)) {
      for (const listener of this.reuseListeners) listener({ userId: record.userId, origin, at: Date.now() });
    }
  }

  /** Called after a reuse has revoked a family (the first presentation that found it alive). */
  onReuse(listener: (reuse: { userId: string; origin: AuditOrigin; at: number }) => void): void {
    this.reuseListeners.push(listener);
  }

  /** Returns whether this call revoked it (false: it was dead already). */
  async revokeFamily(familyId: string, event?: NewAuditEvent): Promise<boolean> {
    // Remembered as long as an access token of the family could be accepted: one signed by a
    // refresh that spent its token just before now (within SPEND_DEADLINE_MS), lives its full
    // lifetime plus the verifier's tolerance, on a clock that may differ from ours.
    const expiresAt = this.revocation.expiryCovering(SPEND_DEADLINE_MS + this.revocation.accessTokenLifetimeMs);
    return this.revocation.commit(async (tx) => {
      const revoked = await tx.getRepository(RefreshFamily).update({ id: familyId, revokedAt: IsNull() }, { revokedAt: Date.now() });
      if (revoked.affected && event) await this.audit.record(tx, event);
      return { result: Boolean(revoked.affected), revocations: revoked.affected ? [{ kind: 'family' as const, subject: familyId, expiresAt }] : [] };
    });
  }

  /** Marks every live family of the user revoked, inside the caller's transaction (logout-all). */
  async revokeAllFamilies(tx: EntityManager, userId: string): Promise<void> {
    await tx.getRepository(RefreshFamily).update({ userId, revokedAt: IsNull() }, { revokedAt: Date.now() });
  }

  private isAlive(family: RefreshFamily, user: User): boolean {
    return family.revokedAt === null && family.userId === user.id && family.userVersion >= user.logoutVersion;
  }

  private invalid(): UnauthorizedException {
    return authError('INVALID_REFRESH_TOKEN');
  }
}
