import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintMs } from '../common/transformers';

/**
 * One refresh token. Only a SHA-256 hash of the opaque token is stored. Each token is
 * single-use (`used_at` is set by a conditional update); whether it is revoked is a property of
 * its family (RefreshFamily), never of the row.
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
}
