import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Brackets, EntityManager, IsNull, MoreThan, Not, QueryFailedError, Repository } from 'typeorm';
import { PasswordHasher } from './password-hasher';
import { User } from './user.entity';
import { AuthError, authError } from '../common/auth-errors';

export interface NewUser {
  email: string;
  /** The password, or its hash when already computed (outside the transaction). */
  password?: string;
  passwordHash?: string;
  name?: string;
  roles?: string[];
  /** Set by an operator who vouches for the address (the CLI); registration leaves it false. */
  emailVerified?: boolean;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Users and their credentials. The only place that queries the users table. */
@Injectable()
export class UsersService {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly hasher: PasswordHasher,
  ) {}

  /**
   * Inside a transaction (`tx`), so that the event recording the registration commits with it;
   * the email check runs in it too, so that on SQLite (where transactions take turns) a
   * registration that lost the race is refused before it writes anything.
   */
  async create(input: NewUser, tx?: EntityManager): Promise<User> {
    const users = tx ? tx.getRepository(User) : this.users;
    const email = normalizeEmail(input.email);
    if (await users.existsBy({ email })) throw this.emailTaken();
    const user = users.create({
      id: randomUUID(),
      email,
      name: input.name?.trim() ?? '',
      passwordHash: input.passwordHash ?? (await this.hasher.hash(input.password ?? '')),
      roles: input.roles && input.roles.length > 0 ? [...new Set(input.roles)] : ['user'],
      emailVerified: input.emailVerified ?? false,
      credentialVersion: 0,
      logoutVersion: 0,
    });
    try {
      // A plain INSERT: save() would open a transaction of its own, which on SQLite's single
      // shared connection could swallow statements of concurrent requests (see inTransaction).
      await users.insert(user);
      return user;
    } catch (error) {
      // Two registrations racing for one email: the unique index decides.
      if (error instanceof QueryFailedError && /unique|duplicate/i.test(error.message)) throw this.emailTaken();
      throw error;
    }
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  /**
   * The user for these credentials (null if wrong), and the id of the account the email names
   * (for the audit trail: whose password was tried); unknown emails cost as much as wrong passwords.
   */
  async checkCredentials(email: string, password: string): Promise<{ user: User | null; accountId: string | null }> {
    const user = await this.users.findOneBy({ email: normalizeEmail(email) });
    const valid = await this.hasher.verify(user?.passwordHash ?? null, password);
    return { user: valid && user ? user : null, accountId: user?.id ?? null };
  }

  /** Notes a successful sign-in, inside the caller's transaction. */
  async recordSignIn(tx: EntityManager, id: string, at: number): Promise<void> {
    await tx.getRepository(User).update({ id }, { lastLoginAt: at });
  }

  /**
   * Sets the roles, inside the caller's transaction. When they change, the credential version
   * moves in the same UPDATE, so no reader can see the new roles with the old version or the
   * reverse. Returns the user and, if it moved, the new version; null for an unknown user.
   */
  async setRoles(tx: EntityManager, id: string, roles: string[]): Promise<{ user: User; previousRoles: string[]; version: number | null } | null> {
    const users = tx.getRepository(User);
    const user = await users.findOneBy({ id });
    if (!user) return null;
    const next = [...new Set(roles)];
    const changed = next.length !== user.roles.length || next.some((role) => !user.roles.includes(role));
    if (!changed) return { user, previousRoles: user.roles, version: null };
    await users
      .createQueryBuilder()
      .update(User)
      .set({ roles: next, credentialVersion: () => 'credential_version + 1' })
      .where('id = :id', { id })
      .execute();
    const updated = await users.findOneByOrFail({ id });
    return { user: updated, previousRoles: user.roles, version: updated.credentialVersion };
  }

  /**
   * Invalidates every credential of the user issued so far, inside the caller's transaction: the
   * credential version moves, and the logout version with it (which ends refresh families).
   * Returns the new version.
   */
  async signOutEverywhere(tx: EntityManager, id: string): Promise<number> {
    const users = tx.getRepository(User);
    // Both sides of SET read the row as it was: logout_version becomes the new credential version.
    await users
      .createQueryBuilder()
      .update(User)
      .set({ credentialVersion: () => 'credential_version + 1', logoutVersion: () => 'credential_version + 1' })
      .where('id = :id', { id })
      .execute();
    const user = await users.findOne({ where: { id }, select: { id: true, credentialVersion: true } });
    return user?.credentialVersion ?? 0;
  }

  /**
   * Sets a new password inside the caller's transaction and ends every credential of the user
   * in the same UPDATE (as logout-all does). Returns the new version, or null for an unknown user.
   */
  async setPassword(tx: EntityManager, id: string, passwordHash: string): Promise<number | null> {
    const users = tx.getRepository(User);
    const result = await users
      .createQueryBuilder()
      .update(User)
      .set({ passwordHash, credentialVersion: () => 'credential_version + 1', logoutVersion: () => 'credential_version + 1' })
      .where('id = :id', { id })
      .execute();
    if (!result.affected) return null;
    const user = await users.findOne({ where: { id }, select: { id: true, credentialVersion: true } });
    return user?.credentialVersion ?? null;
  }

  /**
   * Disables the account inside the caller's transaction and, in the same UPDATE, ends every
   * credential issued so far (as signOutEverywhere). Returns the new credential version, or null
   * for an unknown user. A password reset or change leaves these columns alone.
   */
  async disable(tx: EntityManager, id: string, disablement: { at: number; reason: string; until: number | null }): Promise<number | null> {
    const users = tx.getRepository(User);
    const result = await users
      .createQueryBuilder()
      .update(User)
      .set({
        disabledAt: disablement.at,
        disabledReason: disablement.reason,
        disabledUntil: disablement.until,
        credentialVersion: () => 'credential_version + 1',
        logoutVersion: () => 'credential_version + 1',
      })
      .where('id = :id', { id })
      .execute();
    if (!result.affected) return null;
    const user = await users.findOne({ where: { id }, select: { id: true, credentialVersion: true } });
    return user?.credentialVersion ?? null;
  }

  /** Clears a disablement inside the caller's transaction; true when there was one to clear. */
  async enable(tx: EntityManager, id: string): Promise<boolean> {
    const result = await tx.getRepository(User).update({ id, disabledAt: Not(IsNull()) }, { disabledAt: null, disabledReason: null, disabledUntil: null });
    return Boolean(result.affected);
  }

  /**
   * Deletes the account inside the caller's transaction: its refresh families and tokens,
   * one-time tokens and known devices go with it (foreign keys ON DELETE CASCADE). False for an
   * unknown user.
   */
  async delete(tx: EntityManager, id: string): Promise<boolean> {
    const result = await tx.getRepository(User).delete({ id });
    return Boolean(result.affected);
  }

  /**
   * Users in email order, after `afterEmail` (keyset pagination), whose email or name contains
   * `query` (case-insensitive; `%`, `_` and `\` in it are literal). One row more than `limit` is
   * read, to say whether there is a next page.
   */
  async search(search: { query?: string; limit: number; afterEmail?: string }): Promise<{ users: User[]; more: boolean }> {
    const builder = this.users
      .createQueryBuilder('u')
      .orderBy('u.email', 'ASC')
      .addOrderBy('u.id', 'ASC')
      .take(search.limit + 1);
    const query = search.query?.trim().toLowerCase();
    if (query) {
      const pattern = `%${query.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
      builder.andWhere(
        new Brackets((where) => {
          where.where("u.email LIKE :pattern ESCAPE '\\'", { pattern }).orWhere("LOWER(u.name) LIKE :pattern ESCAPE '\\'", { pattern });
        }),
      );
    }
    if (search.afterEmail !== undefined) builder.andWhere('u.email > :after', { after: search.afterEmail });
    const rows = await builder.getMany();
    return { users: rows.slice(0, search.limit), more: rows.length > search.limit };
  }

  /** The argon2id hash of a new password (hashed before any transaction is opened). */
  hashPassword(password: string): Promise<string> {
    return this.hasher.hash(password);
  }

  /** The user by id, if the password is theirs; null otherwise (same cost either way). */
  async verifyPasswordOf(id: string, password: string): Promise<User | null> {
    const user = await this.users.findOneBy({ id });
    const valid = await this.hasher.verify(user?.passwordHash ?? null, password);
    return valid && user ? user : null;
  }

  /**
   * Marks the address verified, inside the caller's transaction. A plain conditional UPDATE:
   * verifying twice (two clicks, two tabs) is harmless. Returns false for an unknown user.
   */
  async markEmailVerified(tx: EntityManager, id: string): Promise<boolean>;
  /** With `newlyOnly`: true only when this call turned it on (the event is recorded once). */
  async markEmailVerified(tx: EntityManager, id: string, newlyOnly: true): Promise<boolean>;
  async markEmailVerified(tx: EntityManager, id: string, newlyOnly = false): Promise<boolean> {
    const users = tx.getRepository(User);
    const changed = await users.update({ id, emailVerified: false }, { emailVerified: true });
    if (newlyOnly) return Boolean(changed.affected);
    const user = await users.findOne({ where: { id }, select: { id: true, emailVerified: true } });
    return user?.emailVerified ?? false;
  }

  /** Whether the user has verified their address, as stored. */
  async isEmailVerified(id: string, tx?: EntityManager): Promise<boolean> {
    const user = await (tx ? tx.getRepository(User) : this.users).findOne({ where: { id }, select: { id: true, emailVerified: true } });
    return user?.emailVerified ?? false;
  }

  async findByEmail(email: string): Promise<User | null> {
    return this.users.findOneBy({ email: normalizeEmail(email) });
  }

  /** Every user whose credential version has ever moved, for the in-process revocation state. */
  async listVersions(): Promise<Array<{ id: string; credentialVersion: number }>> {
    return this.users.find({ where: { credentialVersion: MoreThan(0) }, select: { id: true, credentialVersion: true } });
  }

  private emailTaken(): AuthError {
    return authError('EMAIL_TAKEN');
  }
}
