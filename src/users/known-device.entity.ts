import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { User } from './user.entity';
import { bigintMs } from '../common/transformers';

/**
 * The devices an account has signed in from, as the new-device check sees them: a browser family
 * and a network prefix, hashed together (`fingerprint`), never the address or the raw user agent.
 */
@Entity('known_devices')
export class KnownDevice {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  /** Deleting the account deletes its devices. */
  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @PrimaryColumn({ type: 'varchar', length: 64 })
  fingerprint: string;

  @Column({ name: 'first_seen_at', type: 'bigint', transformer: bigintMs })
  firstSeenAt: number;

  @Column({ name: 'last_seen_at', type: 'bigint', transformer: bigintMs })
  lastSeenAt: number;
}
