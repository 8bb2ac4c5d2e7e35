import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { bigintMs } from '../common/transformers';
import { User } from '../users/user.entity';

/**
 * The refresh tokens descending from one login. Revocation is decided here, once per family:
 * a token is valid only while its family is not revoked and was started from a user version at
 * or after the user's last logout-all. A successor inserted by a racing refresh therefore
 * cannot outlive a revocation, whatever the order of the writes.
 */
@Entity('refresh_families')
export class RefreshFamily {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Index('IDX_refresh_families_user')
  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  /** Deleting a user deletes their families. */
  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  /** The user's credential version when the family was started (at login). */
  @Column({ name: 'user_version', type: 'integer' })
  userVersion: number;

  /**
   * The route group the family was started in (its login route); its tokens refresh only there
   * and its access tokens are bound to it. Null for families from before groups were bound.
   */
  @Column({ name: 'route_group', type: 'varchar', length: 32, nullable: true })
  routeGroup: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintMs })
  createdAt: number;

  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: bigintMs })
  revokedAt: number | null;

  /** Where the login came from (the client address and User-Agent); null for older families. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 200, nullable: true })
  userAgent: string | null;

  /** The last use (a refresh or an access token) as last written, at most about once a minute; null: none since login. */
  @Column({ name: 'last_used_at', type: 'bigint', nullable: true, transformer: bigintMs })
  lastUsedAt: number | null;
}
