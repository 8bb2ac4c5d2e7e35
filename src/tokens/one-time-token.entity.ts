import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { bigintMs } from '../common/transformers';
import { User } from '../users/user.entity';

/** What a one-time token may be used for; a token of one purpose is worthless for another. */
export type OneTimeTokenPurpose = 'password-reset' | 'email-verify';

/**
 * A single-use token sent by mail (password reset, email verification). Only a SHA-256 of the
 * token is stored, so a copy of the table opens no account; `used_at` is set by a conditional
 * update, so of two uses at once exactly one wins.
 */
@Entity('one_time_tokens')
export class OneTimeToken {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Index('IDX_one_time_tokens_hash', { unique: true })
  @Column({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash: string;

  @Index('IDX_one_time_tokens_user')
  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  /** Deleting a user deletes their tokens. */
  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @Column({ type: 'varchar', length: 32 })
  purpose: OneTimeTokenPurpose;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintMs })
  createdAt: number;

  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintMs })
  expiresAt: number;

  @Column({ name: 'used_at', type: 'bigint', nullable: true, transformer: bigintMs })
  usedAt: number | null;
}
