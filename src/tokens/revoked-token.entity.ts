import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintMs } from '../common/transformers';

/** The access-token denylist when there is no Redis: one row per revoked `jti` until it expires. */
@Entity('revoked_access_tokens')
export class RevokedAccessToken {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  jti: string;

  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintMs })
  expiresAt: number;
}
