import { BadRequestException, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { AuditActor, AuditOrigin } from '../audit/audit-events';
import { authError } from '../common/auth-errors';
import { inTransaction } from '../database/transactions';
import { SessionRecord } from '../sessions/session-record.entity';
import { SessionService } from '../sessions/session.service';
import { RevocationService } from '../tokens/revocation.service';
import { TokensService } from '../tokens/tokens.service';
import { isDisabled, User } from '../users/user.entity';
import { UsersService } from '../users/users.service';
import { USERS_PAGE_DEFAULT, USERS_PAGE_MAX } from './admin-users.dto';
import { LoginRateLimiter } from './login-rate-limiter';

/** A user as administrators see it (`GET /<admin group>/admin/users`). */
export interface AdminUser {
  id: string;
  email: string;
  name: string;
  roles: string[];
  emailVerified: boolean;
  disabled: boolean;
  createdAt: string;
  lastLoginAt: string | null;
}

/** One user (`GET .../users/:id`, and the answer of disable, enable and unlock). */
export interface AdminUserDetail extends AdminUser {
  disabledAt: string | null;
  disabledReason: string | null;
  disabledUntil: string | null;
}

export interface AdminUserPage {
  users: AdminUser[];
  next_cursor: string | null;
}

export interface Disablement {
  reason: string;
  /** Epoch ms (or an ISO 8601 date) when it lapses by itself; absent: never. */
  until?: number | string | null;
}

/**
 * What administrators do to accounts, in one place for the API routes, the operator CLI and the
 * /admin page: list and search, disable and enable, clear login limits, delete.
 *
 * Disabling and deleting end every credential of the account through the same path as
 * logout-all: one RevocationService.commit transaction that changes the row, revokes the
 * refresh families, records the event and writes the revocation that tells every instance, so
 * the account's sessions and tokens stop on every instance before the call returns.
 */
@Injectable()
export class AdminUsersService {
  private readonly logger = new Logger('AdminUsers');

  constructor(
    private readonly users: UsersService,
    private readonly tokens: TokensService,
    private readonly sessions: SessionService,
    private readonly revocation: RevocationService,
    private readonly limiter: LoginRateLimiter,
    private readonly audit: AuditService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /** Users in email order, filtered by `query` (part of the email or name), a page at a time. */
  async list(options: { query?: string; limit?: number; cursor?: string }): Promise<AdminUserPage> {
    const limit = Math.min(USERS_PAGE_MAX, Math.max(1, Math.floor(options.limit ?? USERS_PAGE_DEFAULT)));
    const afterEmail = options.cursor === undefined ? undefined : decodeUsersCursor(options.cursor);
    const { users, more } = await this.users.search({ query: options.query, limit, afterEmail });
    return { users: users.map(toAdminUser), next_cursor: more ? encodeUsersCursor(users[users.length - 1].email) : null };
  }

  async get(id: string): Promise<AdminUserDetail> {
    return toAdminUserDetail(await this.existing(id));
  }

  /**
   * The account can no longer sign in (403 `Account disabled`), and every session and token it
   * holds stops on every instance: in one transaction the columns are set, the credential and
   * logout versions move (as logout-all), the refresh families are revoked, the event is recorded
   * and the revocation logged. A password reset or change does not undo it; only enable does, or
   * `until` passing.
   */
  async disable(id: string, disablement: Disablement, actor: AuditActor, origin: AuditOrigin = {}): Promise<AdminUserDetail> {
    this.refuseOnYourself(id, actor);
    const until = untilOf(disablement.until);
    const reason = disablement.reason.trim().slice(0, 200);
    if (reason.length === 0) throw new BadRequestException('reason must be 1 to 200 characters');
    // Checked before the transaction opens: on SQLite a transaction must not fail on purpose.
    await this.existing(id);
    const version = await this.revocation.commit(async (tx) => {
      const version = await this.users.disable(tx, id, { at: Date.now(), reason, until });
      if (version === null) return { result: null, revocations: [] };
      await this.tokens.revokeAllFamilies(tx, id);
      const details = { reason, until: until === null ? null : new Date(until).toISOString() };
      await this.audit.record(tx, { type: 'user.disabled', actor, userId: id, origin, details });
      return { result: version, revocations: [{ kind: 'user' as const, subject: id, version }] };
    });
    if (version === null) throw authError('USER_NOT_FOUND');
    await this.forgetSessions(id);
    return this.get(id);
  }

  /** Lifts a disablement (its credentials stay ended: the user signs in again). */
  async enable(id: string, actor: AuditActor, origin: AuditOrigin = {}): Promise<AdminUserDetail> {
    await this.existing(id);
    await inTransaction(this.dataSource, async (tx) => {
      if (await this.users.enable(tx, id)) await this.audit.record(tx, { type: 'user.enabled', actor, userId: id, origin });
    });
    return this.get(id);
  }

  /** Clears the account's failed-login counter (429 at login), on every instance sharing Redis. */
  async unlock(id: string, actor: AuditActor, origin: AuditOrigin = {}): Promise<AdminUserDetail> {
    const user = await this.existing(id);
    await this.limiter.clearAccount(user.email);
    await this.audit.recordNow({ type: 'user.unlocked', actor, userId: id, origin });
    return toAdminUserDetail(user);
  }

  /**
   * Deletes the account and its credentials; the address may register again. One transaction
   * deletes the row (refresh families and tokens, one-time tokens go with it by cascade; known
   * devices and database sessions explicitly), records `user.deleted` (events hold no email, so
   * the account's events stay, without it) and logs a revocation at the highest version, kept
   * until every credential issued so far has expired: the row is gone, so nothing else would
   * tell an instance that reloads its state.
   */
  async delete(id: string, actor: AuditActor, origin: AuditOrigin = {}): Promise<void> {
    this.refuseOnYourself(id, actor);
    const user = await this.existing(id);
    const deleted = await this.revocation.commit(async (tx) => {
      if (!(await this.users.delete(tx, id))) return { result: false, revocations: [] };
      // By table name: the known-devices entity need not be registered with this DataSource.
      await tx.createQueryBuilder().delete().from('known_devices').where('user_id = :id', { id }).execute();
      await tx.getRepository(SessionRecord).delete({ userId: id });
      await this.audit.record(tx, { type: 'user.deleted', actor, userId: id, origin, details: { roles: user.roles } });
      return { result: true, revocations: [this.revocation.userDeletion(id)] };
    });
    if (!deleted) throw authError('USER_NOT_FOUND');
    await this.forgetSessions(id);
    // Whoever registers the address next starts with a clean slate.
    await this.limiter.clearAccount(user.email).catch(() => undefined);
  }

  private async existing(id: string): Promise<User> {
    const user = await this.users.findById(id);
    if (!user) throw authError('USER_NOT_FOUND');
    return user;
  }

  /** An administrator who disabled or deleted themselves could lock everyone out. */
  private refuseOnYourself(id: string, actor: AuditActor): void {
    if (actor.kind === 'admin' && actor.id === id) throw authError('NOT_ON_YOURSELF');
  }

  /** The stored sessions; already refused by their version, so a store failing here undoes nothing. */
  private async forgetSessions(id: string): Promise<void> {
    try {
      await this.sessions.destroyAllForUser(id);
    } catch (error) {
      this.logger.warn(`stored sessions of a disabled or deleted user were not deleted (${(error as Error).message}); they are refused anyway`);
    }
  }
}

function untilOf(until: Disablement['until']): number | null {
  if (until === undefined || until === null) return null;
  const at = typeof until === 'number' ? until : Date.parse(until);
  if (!Number.isFinite(at)) throw new BadRequestException('until must be an ISO 8601 date');
  if (at <= Date.now()) throw new BadRequestException('until must be in the future');
  return at;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toAdminUser(user: User): AdminUser {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    roles: [...user.roles],
    emailVerified: user.emailVerified,
    disabled: isDisabled(user),
    createdAt: user.createdAt.toISOString(),
    lastLoginAt: iso(user.lastLoginAt),
  };
}

function toAdminUserDetail(user: User): AdminUserDetail {
  const disabled = isDisabled(user);
  return {
    ...toAdminUser(user),
    disabledAt: disabled ? iso(user.disabledAt) : null,
    disabledReason: disabled ? user.disabledReason : null,
    disabledUntil: disabled ? iso(user.disabledUntil) : null,
  };
}

/** The position after the last user of a page: its email (unique), opaque to clients. */
export function encodeUsersCursor(email: string): string {
  return Buffer.from(`u:${email}`).toString('base64url');
}

/** A cursor we did not make is the caller's error (400 `Invalid cursor`), never a query. */
export function decodeUsersCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(cursor)) throw authError('INVALID_CURSOR');
  const match = /^u:(\S{1,320})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || match[1].includes('\0') || encodeUsersCursor(match[1]) !== cursor) throw authError('INVALID_CURSOR');
  return match[1];
}
