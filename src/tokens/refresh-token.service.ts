import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { EntityManager, IsNull, Repository } from 'typeorm';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../auth-switch/auth-switch.options';
import { User } from '../users/user.entity';
import { RefreshFamily } from './refresh-family.entity';
import { RefreshToken } from './refresh-token.entity';
import { RevocationService } from './revocation.service';

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
/** Clocks of different instances may differ by this much (beyond the verifier's tolerance). */
const CLOCK_MARGIN_MS = 5 * 60_000;

/** What a spent refresh token vouches for: the user as read after spending it, and its family. */
export interface SpentRefreshToken {
  user: User;
  familyId: string;
  spentAt: number;
}

/**
 * Opaque refresh tokens in families. A token is good for one refresh; presenting it again
 * means it leaked (or the client is confused), so its family is revoked, and with it every
 * access token issued from the family (they carry its id). Revocation lives on the family row,
 * so a successor inserted by a refresh that raced the revocation is born dead.
 */
@Injectable()
export class RefreshTokenService {
  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly config: AuthSwitchOptions,
    @InjectRepository(RefreshToken) private readonly tokens: Repository<RefreshToken>,
    @InjectRepository(RefreshFamily) private readonly families: Repository<RefreshFamily>,
    private readonly revocation: RevocationService,
  ) {}

  /** Starts a family for a login, stamped with the user version the login read and where it came from. */
  async startFamily(user: Pick<User, 'id' | 'credentialVersion'>, group: string, device?: LoginDevice): Promise<string> {
    const id = randomUUID();
    await this.families.insert({ id, userId: user.id, userVersion: user.credentialVersion, routeGroup: group, createdAt: Date.now(), revokedAt: null, ip: device?.ip ?? null, userAgent: device?.userAgent ?? null });
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
   */
  async spend(token: string, group: string): Promise<SpentRefreshToken> {
    const found = typeof token === 'string' ? await this.findWithGroup(token) : null;
    if (!found) throw this.invalid();
    const { record, familyGroup } = found;
    // An unspent token shown in another group is refused before it is spent, so a client that
    // calls the wrong group does not burn it. A spent one is a reuse wherever it is shown.
    if (record.usedAt === null && familyGroup !== null && familyGroup !== group) throw this.invalid();
    const now = Date.now();
    const spent = await this.tokens.update({ id: record.id, usedAt: IsNull() }, { usedAt: now });
    if (!spent.affected) {
      await this.revokeFamily(record.familyId);
      throw this.invalid();
    }
    // A family from before groups were bound is bound by its first refresh, to that group.
    if (familyGroup === null) await this.families.update({ id: record.familyId, routeGroup: IsNull() }, { routeGroup: group });
    if (record.expiresAt <= now) throw this.invalid();
    const user = await this.userOfLiveFamily(record.familyId, record.userId, group);
    if (!user) throw this.invalid();
    return { user, familyId: record.familyId, spentAt: now };
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
  async userOfLiveFamily(familyId: string, userId: string, group: string): Promise<User | null> {
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
  async revokeFamily(familyId: string): Promise<void> {
    // Remembered as long as an access token of the family could be accepted: one signed by a
    // refresh that spent its token just before now (within SPEND_DEADLINE_MS), lives its full
    // lifetime plus the verifier's tolerance, on a clock that may differ from ours.
    const { accessTokenTtlSeconds, clockToleranceSeconds } = this.config.jwt;
    const expiresAt = Date.now() + SPEND_DEADLINE_MS + (accessTokenTtlSeconds + clockToleranceSeconds) * 1000 + CLOCK_MARGIN_MS;
    await this.revocation.commit(async (tx) => {
      const revoked = await tx.getRepository(RefreshFamily).update({ id: familyId, revokedAt: IsNull() }, { revokedAt: Date.now() });
      return { result: undefined, revocations: revoked.affected ? [{ kind: 'family' as const, subject: familyId, expiresAt }] : [] };
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
    return new UnauthorizedException('Invalid refresh token');
  }
}
