import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { MoreThan, QueryFailedError, Repository } from 'typeorm';
import { PasswordHasher } from './password-hasher';
import { User } from './user.entity';

export interface NewUser {
  email: string;
  password: string;
  name?: string;
  roles?: string[];
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

  async create(input: NewUser): Promise<User> {
    const email = normalizeEmail(input.email);
    if (await this.users.existsBy({ email })) throw this.emailTaken();
    const user = this.users.create({
      id: randomUUID(),
      email,
      name: input.name?.trim() ?? '',
      passwordHash: await this.hasher.hash(input.password),
      roles: input.roles && input.roles.length > 0 ? [...new Set(input.roles)] : ['user'],
      tokensValidAfter: 0,
    });
    try {
      return await this.users.save(user);
    } catch (error) {
      // Two registrations racing for one email: the unique index decides.
      if (error instanceof QueryFailedError && /unique|duplicate/i.test(error.message)) throw this.emailTaken();
      throw error;
    }
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  /** The user for these credentials, or null; unknown emails cost as much as wrong passwords. */
  async verifyCredentials(email: string, password: string): Promise<User | null> {
    const user = await this.users.findOneBy({ email: normalizeEmail(email) });
    const valid = await this.hasher.verify(user?.passwordHash ?? null, password);
    return valid && user ? user : null;
  }

  /** Sets the roles; `changed` tells whether they differ from before (order aside). */
  async setRoles(id: string, roles: string[]): Promise<{ user: User; changed: boolean }> {
    const user = await this.users.findOneBy({ id });
    if (!user) throw new NotFoundException('User not found');
    const next = [...new Set(roles)];
    const changed = next.length !== user.roles.length || next.some((role) => !user.roles.includes(role));
    if (!changed) return { user, changed };
    user.roles = next;
    return { user: await this.users.save(user), changed };
  }

  /** Moves the user's cut-off forward (never back); returns the value now in force. */
  async moveCutoff(id: string, at: number): Promise<number> {
    await this.users
      .createQueryBuilder()
      .update(User)
      .set({ tokensValidAfter: at })
      .where('id = :id AND tokens_valid_after < :at', { id, at })
      .execute();
    const user = await this.users.findOne({ where: { id }, select: { id: true, tokensValidAfter: true } });
    return user?.tokensValidAfter ?? at;
  }

  /** Every user whose cut-off has ever moved, for the in-process revocation cache. */
  async listCutoffs(): Promise<Array<{ id: string; tokensValidAfter: number }>> {
    return this.users.find({ where: { tokensValidAfter: MoreThan(0) }, select: { id: true, tokensValidAfter: true } });
  }

  private emailTaken(): ConflictException {
    return new ConflictException('Email already registered');
  }
}
