import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { IsNull, LessThan, MoreThan, Repository } from 'typeorm';
import { OneTimeToken, OneTimeTokenPurpose } from './one-time-token.entity';

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * One-time tokens: 256 random bits, single use, bound to one user and one purpose, expiring.
 * The building block of password reset and email verification.
 */
@Injectable()
export class OneTimeTokenService {
  constructor(@InjectRepository(OneTimeToken) private readonly tokens: Repository<OneTimeToken>) {}

  /** A new token for the user and purpose; the only copy of the secret is returned. */
  async issue(userId: string, purpose: OneTimeTokenPurpose, ttlSeconds: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    await this.tokens.insert({ id: randomUUID(), tokenHash: hash(token), userId, purpose, createdAt: now, expiresAt: now + ttlSeconds * 1000, usedAt: null });
    return token;
  }

  /**
   * Spends a token: the user it was issued to, or null for an unknown, used, expired or
   * other-purpose token. One conditional UPDATE decides, so of parallel uses exactly one wins.
   */
  async spend(token: string, purpose: OneTimeTokenPurpose): Promise<string | null> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 128) return null;
    const tokenHash = hash(token);
    const now = Date.now();
    const spent = await this.tokens.update({ tokenHash, purpose, usedAt: IsNull(), expiresAt: MoreThan(now) }, { usedAt: now });
    if (!spent.affected) return null;
    const row = await this.tokens.findOne({ where: { tokenHash }, select: { userId: true } });
    return row?.userId ?? null;
  }

  /** Every unused token of the user for a purpose stops working (a newer one was sent, or the password changed). */
  async revokeAll(userId: string, purpose: OneTimeTokenPurpose): Promise<void> {
    await this.tokens.update({ userId, purpose, usedAt: IsNull() }, { usedAt: Date.now() });
  }

  /** Housekeeping: tokens that expired a day ago are of no use to anyone. */
  async pruneExpired(): Promise<void> {
    await this.tokens.delete({ expiresAt: LessThan(Date.now() - 24 * 3600_000) });
  }
}
