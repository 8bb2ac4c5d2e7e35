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
   * Whether the owner of the address has proved it (followed the link mailed at registration).
   * It only ever turns true, which is why a credential that says so may be believed without a
   * lookup, while one that says false is checked against this row.
   */
  @Column({ name: 'email_verified', type: 'boolean', default: false })
  emailVerified: boolean;

  /**
   * Every credential (access token, session) is stamped with the version of the user row it was
   * built from; one stamped with an older version is refused. Bumped, in the same statement as
   * the change, by anything that must invalidate what was issued before: a role change,
   * logout-all. A version, not a clock: no skew between instances can let a stale one through.
   */
  @Column({ name: 'credential_version', type: 'integer', default: 0 })
  credentialVersion: number;

  /**
   * The credential version set by the last logout-all. Refresh-token families started from an
   * older version are dead; a mere role change leaves them alive, so refresh picks up new roles.
   */
  @Column({ name: 'logout_version', type: 'integer', default: 0 })
  logoutVersion: number;

  /**
   * Set by an administrator: the account may not sign in, and every credential it had ended in
   * the same transaction (its credential version moved). Until `disabledUntil`, if given.
   */
  @Column({ name: 'disabled_at', type: 'bigint', nullable: true, transformer: bigintMs })
  disabledAt: number | null;

  @Column({ name: 'disabled_reason', type: 'varchar', length: 200, nullable: true })
  disabledReason: string | null;

  @Column({ name: 'disabled_until', type: 'bigint', nullable: true, transformer: bigintMs })
  disabledUntil: number | null;

  /** The last successful sign-in (any strategy), for administrators. */
  @Column({ name: 'last_login_at', type: 'bigint', nullable: true, transformer: bigintMs })
  lastLoginAt: number | null;

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

/** Whether an administrator's disablement holds at `now` (a disablement with an end lapses by itself). */
export function isDisabled(user: Pick<User, 'disabledAt' | 'disabledUntil'>, now = Date.now()): boolean {
  return (
    user.disabledAt !== null && user.disabledAt !== undefined && (user.disabledUntil === null || user.disabledUntil === undefined || user.disabledUntil > now)
  );
}
