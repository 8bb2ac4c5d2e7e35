import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintMs } from '../common/transformers';

/** A server-side session when there is no Redis (the embedded default). */
@Entity('sessions')
export class SessionRecord {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  sid: string;

  @Index('IDX_sessions_user')
  @Column({ name: 'user_id', type: 'varchar', length: 36, nullable: true })
  userId: string | null;

  @Column({ type: 'text' })
  data: string;

  @Index('IDX_sessions_expires')
  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintMs })
  expiresAt: number;

  /**
   * The last use of the session, as last written (at most about once a minute), kept outside
   * `data` so that writing it never rewrites, or brings back, the session itself.
   */
  @Column({ name: 'last_used_at', type: 'bigint', nullable: true, transformer: bigintMs })
  lastUsedAt: number | null;
}
