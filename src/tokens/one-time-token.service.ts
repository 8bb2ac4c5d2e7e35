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
   * A new token for the account with this (normalized) email, if there is one and, with
   * `unverifiedOnly`, its address is not verified yet: the user it went to, or null. One
   * INSERT ... SELECT either way, so a known and an unknown address cost the same statement.
   */
  async issueForEmail(
    email: string,
    purpose: OneTimeTokenPurpose,
    ttlSeconds: number,
    unverifiedOnly = false,
  ): Promise<{ token: string; userId: string } | null> {
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    const sql =
      'INSERT INTO one_time_tokens (id, token_hash, user_id, purpose, created_at, expires_at, used_at) ' +
      'SELECT :id, :tokenHash, u.id, :purpose, :createdAt, :expiresAt, NULL FROM users u WHERE u.email = :email' +
      (unverifiedOnly ? ' AND NOT u.email_verified' : '') +
      ' RETURNING user_id';
    const parameters = { id: randomUUID(), tokenHash: hash(token), purpose, createdAt: now, expiresAt: now + ttlSeconds * 1000, email };
    const [query, values] = this.tokens.manager.connection.driver.escapeQueryWithParameters(sql, parameters, {});
    const rows = (await this.tokens.manager.query(query, values)) as Array<{ user_id: string }>;
    return rows.length > 0 ? { token, userId: rows[0].user_id } : null;
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
