import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { IsNull, MoreThan, Repository } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { RefreshToken } from './refresh-token.entity';
import { RevocationService } from './revocation.service';

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Opaque refresh tokens in families. A token is good for one refresh; presenting it again
 * means it leaked (or the client is confused), so its whole family is revoked, newest included,
 * together with the access tokens issued from it.
 */
@Injectable()
export class RefreshTokenService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectRepository(RefreshToken) private readonly tokens: Repository<RefreshToken>,
    private readonly revocation: RevocationService,
  ) {}

  /**
   * Issues a token, in a new family unless one is given, recording the access token issued with
   * it. Returns the only copy of the secret.
   */
  async issue(userId: string, access: { jti: string; exp: number }, familyId: string = randomUUID()): Promise<string> {
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
      revokedAt: null,
      accessJti: access.jti,
      accessExpiresAt: access.exp * 1000,
    });
    return token;
  }

  /**
   * Spends a refresh token and returns what it vouches for. The update is conditional on the
   * token being unused, so of two concurrent refreshes only one wins; the other is a reuse.
   */
  async spend(token: string): Promise<{ userId: string; familyId: string }> {
    const record = typeof token === 'string' ? await this.tokens.findOneBy({ tokenHash: hashToken(token) }) : null;
    if (!record) throw this.invalid();
    if (record.revokedAt !== null) throw this.invalid();
    const now = Date.now();
    if (record.usedAt !== null) {
      await this.revokeFamily(record.familyId);
      throw this.invalid();
    }
    if (record.expiresAt <= now) throw this.invalid();
    const result = await this.tokens.update({ id: record.id, usedAt: IsNull() }, { usedAt: now });
    if (!result.affected) {
      await this.revokeFamily(record.familyId);
      throw this.invalid();
    }
    return { userId: record.userId, familyId: record.familyId };
  }

  /** Revokes the family of a token if it belongs to this user; unknown tokens are ignored. */
  async revokeFamilyOf(token: string, userId: string): Promise<void> {
    const record = await this.tokens.findOneBy({ tokenHash: hashToken(token) });
    if (record && record.userId === userId) await this.revokeFamily(record.familyId);
  }

  async revokeAllForUser(userId: string): Promise<void> {
    await this.tokens.update({ userId, revokedAt: IsNull() }, { revokedAt: Date.now() });
  }

  private async revokeFamily(familyId: string): Promise<void> {
    const now = Date.now();
    await this.tokens.update({ familyId, revokedAt: IsNull() }, { revokedAt: now });
    const live = await this.tokens.find({
      where: { familyId, accessExpiresAt: MoreThan(now) },
      select: { id: true, accessJti: true, accessExpiresAt: true },
    });
    for (const row of live) {
      if (row.accessJti && row.accessExpiresAt) await this.revocation.revokeJti(row.accessJti, row.accessExpiresAt);
    }
  }

  private invalid(): UnauthorizedException {
    return new UnauthorizedException('Invalid refresh token');
  }
}
