import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintMs } from '../common/transformers';

/**
 * A machine client (a backend service) that authenticates as itself, never as a person: with a
 * secret (stored only as a SHA-256 digest) or with a public key whose private half signs its
 * client assertions. It gets scoped access tokens, no roles and no refresh token.
 */
@Entity('clients')
export class Client {
  /** The client id (`client_…`), also the `sub` and `client_id` of its tokens. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  /**
   * SHA-256 of the secret, hex. The secret is 256 random bits, so a fast digest is as good as a
   * slow password hash here (nothing to guess), and it keeps the token route cheap.
   */
  @Column({ name: 'secret_hash', type: 'varchar', length: 64, nullable: true })
  secretHash: string | null;

  /** SPKI PEM of the key that signs the client's assertions (private_key_jwt). */
  @Column({ name: 'public_key', type: 'text', nullable: true })
  publicKey: string | null;

  /** What the client may ask for; a token carries a subset. */
  @Column({ type: 'simple-json' })
  scopes: string[];

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintMs })
  createdAt: number;

  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: bigintMs })
  revokedAt: number | null;
}

/**
 * The `jti` of every client assertion accepted, until the assertion expires: the primary key
 * makes a second use of one assertion fail in the database, whichever instance sees it.
 */
@Entity('client_assertions')
export class UsedClientAssertion {
  @PrimaryColumn({ name: 'client_id', type: 'varchar', length: 64 })
  clientId: string;

  @PrimaryColumn({ type: 'varchar', length: 128 })
  jti: string;

  @Index('IDX_client_assertions_expires')
  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintMs })
  expiresAt: number;
}
