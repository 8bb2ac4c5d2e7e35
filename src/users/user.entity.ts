import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintMs } from '../common/transformers';

@Entity('users')
export class User {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  /** Stored trimmed and lower-cased; unique. */
  @Column({ type: 'varchar', length: 320, unique: true })
  email: string;

  @Column({ type: 'varchar', length: 100, default: '' })
  name: string;

  /** argon2id PHC string; never leaves the users module. */
  @Column({ name: 'password_hash', type: 'varchar', length: 255 })
  passwordHash: string;

  @Column({ type: 'simple-json' })
  roles: string[];

  /**
   * The per-user cut-off (epoch milliseconds): any token or session issued at or before it is
   * rejected. Moved by logout-all and by a role change.
   */
  @Column({ name: 'tokens_valid_after', type: 'bigint', default: 0, transformer: bigintMs })
  tokensValidAfter: number;

  @CreateDateColumn({ name: 'created_at' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at' })
  updatedAt: Date;
}

/** What the API shows of a user. */
export interface PublicUser {
  id: string;
  email: string;
  name: string;
  roles: string[];
}

export function toPublicUser(user: Pick<User, 'id' | 'email' | 'name' | 'roles'>): PublicUser {
  return { id: user.id, email: user.email, name: user.name, roles: [...user.roles] };
}
