import { Inject, Injectable } from '@nestjs/common';
import * as argon2 from 'argon2';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';

/**
 * argon2id with OWASP's recommended minimum (19 MiB, 2 passes). argon2 hashes on libuv's thread
 * pool, so logins never block the event loop; and at most PASSWORD_HASH_CONCURRENCY hashes run
 * at once, so a login storm queues instead of taking every core from the event loop.
 */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

@Injectable()
export class PasswordHasher {
  /** Verified against when the email is unknown, so both failures cost the same time. */
  private readonly decoy = argon2.hash('decoy-password-for-unknown-accounts', OPTIONS);
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(@Inject(AUTH_SWITCH_OPTIONS) private readonly config: AuthSwitchOptions) {}

  hash(password: string): Promise<string> {
    return this.limited(() => argon2.hash(password, OPTIONS));
  }

  async verify(hash: string | null, password: string): Promise<boolean> {
    const target = hash ?? (await this.decoy);
    try {
      return await this.limited(() => argon2.verify(target, password));
    } catch {
      return false; // a corrupt hash never authenticates
    }
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.config.passwordHashConcurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next)
        next(); // hand the slot over directly
      else this.running -= 1;
    }
  }
}
