import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintMs } from '../common/transformers';

export type RevocationKind = 'token' | 'family' | 'user' | 'client' | 'verified';

/**
 * The revocation log: every revocation is a row, written in the same transaction as the change
 * it announces. Its `seq` gives each instance a position to resume from, so an instance that
 * missed a broadcast reads what it missed instead of trusting a stale copy.
 * - token: one access token (`subject` = jti) until it expires;
 * - family: every access token issued from a refresh family (`subject` = family id);
 * - user: the user's credential version is now `version`;
 * - client: every access token of a machine client (`subject` = client id);
 * - verified: not a revocation but news of the same kind: the user (`subject`) confirmed their
 *   address, so credentials signed before that must not report it unconfirmed.
 */
@Entity('revocations')
export class Revocation {
  @PrimaryGeneratedColumn('increment', { type: 'integer' })
  seq: number;

  @Column({ type: 'varchar', length: 16 })
  kind: RevocationKind;

  @Column({ type: 'varchar', length: 64 })
  subject: string;

  @Column({ type: 'integer', nullable: true })
  version: number | null;

  /** token and family entries: once past, no access token they cover can still be valid. */
  @Index('IDX_revocations_expires')
  @Column({ name: 'expires_at', type: 'bigint', nullable: true, transformer: bigintMs })
  expiresAt: number | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintMs })
  createdAt: number;
}
