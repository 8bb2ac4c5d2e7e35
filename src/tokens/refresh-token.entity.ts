import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintMs } from '../common/transformers';

/**
 * One refresh token. Only a SHA-256 hash of the opaque token is stored. Tokens descending from
 * one login share a family; each token is single-use, and presenting a used one revokes the family.
 */
@Entity('refresh_tokens')
export class RefreshToken {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Index({ unique: true })
  @Column({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash: string;

  @Index()
  @Column({ name: 'family_id', type: 'varchar', length: 36 })
  familyId: string;

  @Index()
  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintMs })
  createdAt: number;

  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintMs })
  expiresAt: number;

  @Column({ name: 'used_at', type: 'bigint', nullable: true, transformer: bigintMs })
  usedAt: number | null;

  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: bigintMs })
  revokedAt: number | null;

  /** The access token issued together with this refresh token; revoked with the family. */
  @Column({ name: 'access_jti', type: 'varchar', length: 64, nullable: true })
  accessJti: string | null;

  @Column({ name: 'access_expires_at', type: 'bigint', nullable: true, transformer: bigintMs })
  accessExpiresAt: number | null;
}
