import { InjectDataSource } from '@nestjs/typeorm';
import { inTransaction } from '../database/transactions';
import { AuditService } from '../audit/audit.service';
import { SYSTEM_ACTOR } from '../audit/audit-events';
import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, createPublicKey, KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { IsNull, LessThan, QueryFailedError, Repository } from 'typeorm';
import { DataSource } from 'typeorm';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { SPEND_DEADLINE_MS } from '../tokens/refresh-token.service';
import { RevocationService } from '../tokens/revocation.service';
import { algorithmFor, SigningAlgorithm } from '../config/key-ring';
import { Client, UsedClientAssertion } from './client.entity';

/** An RFC 6749 scope-token (printable ASCII, no space, quote or backslash), and no comma (the CLI's separator). */
export const SCOPE_NAME = /^[\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]{1,64}$/;

/** The shape of the ids `create` makes. */
export const CLIENT_ID = /^client_[0-9a-f]{24}$/;
const PRUNE_INTERVAL_MS = 10 * 60_000;
/** Used assertions are kept this long past their expiry, for clocks ahead of ours. */
const ASSERTION_KEEP_MS = 5 * 60_000;

export interface NewClient {
  name: string;
  scopes: string[];
  /** PEM public key (P-256 or RSA ≥ 2048): the client signs assertions instead of holding a secret. */
  publicKeyPem?: string;
}

/** What an operator sees of a client; never the secret or its digest. */
export interface ClientSummary {
  client_id: string;
  name: string;
  scopes: string[];
  authentication: 'client_secret' | 'private_key_jwt';
  createdAt: string;
  revokedAt: string | null;
}

export class ClientKeyError extends Error {}

/** Compared against when there is no secret to compare with; no SHA-256 digest equals it by chance worth counting. */
const NO_SECRET = Buffer.alloc(32);
const digest = (secret: string) => createHash('sha256').update(secret).digest();

/** Machine clients: creation and revocation (the CLI), look-up and replay checks (the token route). */
@Injectable()
export class ClientsService implements OnModuleInit, OnApplicationShutdown {
  private readonly keys = new Map<string, { pem: string; key: KeyObject; algorithm: SigningAlgorithm }>();
  private pruneTimer?: NodeJS.Timeout;

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions,
    @InjectRepository(Client) private readonly clients: Repository<Client>,
    @InjectRepository(UsedClientAssertion) private readonly assertions: Repository<UsedClientAssertion>,
    private readonly revocation: RevocationService,
    private readonly audit: AuditService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  onModuleInit(): void {
    this.pruneTimer = setInterval(
      () => void this.assertions.delete({ expiresAt: LessThan(Date.now() - ASSERTION_KEEP_MS) }).catch(() => undefined),
      PRUNE_INTERVAL_MS,
    );
    this.pruneTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.pruneTimer);
  }

  /** Creates a client; returns its id and, without a public key, the only copy of its secret. */
  async create(input: NewClient): Promise<{ clientId: string; secret?: string }> {
    const publicKey = input.publicKeyPem === undefined ? null : normalizePublicKey(input.publicKeyPem);
    const clientId = `client_${randomBytes(12).toString('hex')}`;
    const secret = publicKey ? undefined : randomBytes(32).toString('base64url');
    await inTransaction(this.dataSource, async (tx) => {
      await tx.getRepository(Client).insert({
        id: clientId,
        name: input.name,
        secretHash: secret ? digest(secret).toString('hex') : null,
        publicKey,
        scopes: [...new Set(input.scopes)],
        createdAt: Date.now(),
        revokedAt: null,
      });
      await this.audit.record(tx, {
        type: 'client.created',
        actor: SYSTEM_ACTOR,
        details: { clientId, scopes: [...new Set(input.scopes)], authentication: publicKey ? 'private_key_jwt' : 'client_secret' },
      });
    });
    return { clientId, ...(secret ? { secret } : {}) };
  }

  async list(): Promise<ClientSummary[]> {
    const rows = await this.clients.find({ order: { createdAt: 'ASC' } });
    return rows.map((row) => ({
      client_id: row.id,
      name: row.name,
      scopes: row.scopes,
      authentication: row.publicKey ? 'private_key_jwt' : 'client_secret',
      createdAt: new Date(row.createdAt).toISOString(),
      revokedAt: row.revokedAt === null ? null : new Date(row.revokedAt).toISOString(),
    }));
  }

  /**
   * Ends a client: the row is marked (no more tokens) and, in the same transaction, the
   * revocation log gets an entry that makes every instance refuse the client's tokens, for as
   * long as one signed just before this moment could live. False when there is no such client
   * or it was revoked already.
   */
  async revoke(clientId: string): Promise<boolean> {
    // As for a refresh family: a token signed by a request under way may still come out.
    const expiresAt = this.revocation.expiryCovering(SPEND_DEADLINE_MS + this.revocation.accessTokenLifetimeMs);
    return this.revocation.commit(async (tx) => {
      const updated = await tx.getRepository(Client).update({ id: clientId, revokedAt: IsNull() }, { revokedAt: Date.now() });
      const revoked = Boolean(updated.affected);
      if (revoked) await this.audit.record(tx, { type: 'client.revoked', actor: SYSTEM_ACTOR, details: { clientId } });
      return { result: revoked, revocations: revoked ? [{ kind: 'client' as const, subject: clientId, expiresAt }] : [] };
    });
  }

  /** The client, unless unknown or revoked. An id that is not one of ours never reaches the database. */
  async findActive(clientId: string): Promise<Client | null> {
    if (!CLIENT_ID.test(clientId)) return null;
    const client = await this.clients.findOneBy({ id: clientId });
    return client && client.revokedAt === null ? client : null;
  }

  /**
   * Whether the secret is the client's, in constant time (digests of equal length). For an
   * unknown client, or one that signs assertions, the comparison runs anyway and fails.
   */
  secretMatches(client: Client | null, secret: string): client is Client {
    const expected = client?.secretHash ? Buffer.from(client.secretHash, 'hex') : NO_SECRET;
    return timingSafeEqual(digest(secret), expected) && expected !== NO_SECRET;
  }

  /** The client's verification key (parsed once per key) and the one algorithm it allows. */
  assertionKey(client: Client): { key: KeyObject; algorithm: SigningAlgorithm } | null {
    if (!client.publicKey) return null;
    const cached = this.keys.get(client.id);
    if (cached && cached.pem === client.publicKey) return cached;
    const key = createPublicKey(client.publicKey);
    const algorithm = algorithmFor(key);
    if (!algorithm) return null;
    const entry = { pem: client.publicKey, key, algorithm };
    this.keys.set(client.id, entry);
    return entry;
  }

  /**
   * Records an assertion's jti; false if it was used before. The primary key decides, in the
   * database every instance shares, so of two parallel uses exactly one is accepted.
   */
  async useAssertion(clientId: string, jti: string, expiresAt: number): Promise<boolean> {
    try {
      await this.assertions.insert({ clientId, jti, expiresAt });
      return true;
    } catch (error) {
      if (error instanceof QueryFailedError && /unique|duplicate|primary/i.test(error.message)) return false;
      throw error;
    }
  }
}

/** The SPKI PEM of a P-256 or RSA (≥ 2048 bits) public key; ClientKeyError otherwise. */
export function normalizePublicKey(pem: string): string {
  let key: KeyObject;
  try {
    if (/PRIVATE KEY/.test(pem)) throw new ClientKeyError('this is a private key: give the public key, the private key stays with the client');
    key = createPublicKey(pem);
  } catch (error) {
    if (error instanceof ClientKeyError) throw error;
    throw new ClientKeyError('not a PEM public key');
  }
  if (!algorithmFor(key)) throw new ClientKeyError('the key must be P-256 (ES256) or RSA of at least 2048 bits (RS256)');
  return key.export({ type: 'spki', format: 'pem' }).toString();
}
