import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { bigintMs } from '../common/transformers';
import { User } from '../users/user.entity';

/**
 * One refresh token. Only a SHA-256 hash of the opaque token is stored. Each token is
 * single-use (`used_at` is set by a conditional update), but for the optional reuse grace
 * (`successor`); whether it is revoked is a property of its family (RefreshFamily), never of
 * the row.
 */
@Entity('refresh_tokens')
export class RefreshToken {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Index('IDX_refresh_tokens_hash', { unique: true })
  @Column({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash: string;

  @Index('IDX_refresh_tokens_family')
  @Column({ name: 'family_id', type: 'varchar', length: 36 })
  familyId: string;

  @Index('IDX_refresh_tokens_user')
  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  /** Deleting a user deletes their tokens. */
  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintMs })
  createdAt: number;

  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintMs })
  expiresAt: number;

  @Column({ name: 'used_at', type: 'bigint', nullable: true, transformer: bigintMs })
  usedAt: number | null;

  /**
   * With REFRESH_REUSE_GRACE_SECONDS: the pair this token was traded for, sealed (AES-256-GCM)
   * under a key derived from this token's plaintext, so that a retry within the grace gets the
   * same pair back. Without the token it opens to no one. Written once, by the refresh that
   * spent the token; null otherwise. Not loaded unless asked for.
   */
  @Column({ type: 'text', nullable: true, select: false })
  successor?: string | null;
}
