import { Inject, Injectable, Logger } from '@nestjs/common';
import { authError } from '../common/auth-errors';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { checkedExtraClaims, ExtraClaims, ExtraClaimsSubject } from '../config/extra-claims';
import { UsersService } from '../users/users.service';

/** How long the host's factory may take before sign-in or refresh answers 503 instead. */
export const EXTRA_CLAIMS_TIMEOUT_MS = 5000;

/**
 * Runs the host's `claims` option for a user, at sign-in and refresh only. Its failure (a throw,
 * a timeout, an answer that is not a small JSON object) is the host's, and never costs the user a
 * credential: callers run it before they spend or create anything, and the request answers 503
 * (CLAIMS_UNAVAILABLE), so a retry works once the host's store is back.
 */
@Injectable()
export class ExtraClaimsService {
  private readonly logger = new Logger('ExtraClaims');

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions,
    private readonly users: UsersService,
  ) {}

  /** Whether the host set a claims option at all (without one, nothing is read for it). */
  get enabled(): boolean {
    return this.options.claims !== null;
  }

  /** The claims for this user, or undefined when the host adds none (nothing then grows the token). */
  async for(user: ExtraClaimsSubject): Promise<ExtraClaims | undefined> {
    const factory = this.options.claims;
    if (!factory) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${EXTRA_CLAIMS_TIMEOUT_MS} ms`)), EXTRA_CLAIMS_TIMEOUT_MS);
      });
      const given = await Promise.race([
        Promise.resolve().then(() => factory({ id: user.id, email: user.email, name: user.name, roles: [...user.roles] })),
        timeout,
      ]);
      const claims = checkedExtraClaims(given);
      return Object.keys(claims).length > 0 ? claims : undefined;
    } catch (error) {
      this.logger.error(`the claims option failed for user ${user.id}: ${error instanceof Error ? error.message : String(error)}`);
      throw authError('CLAIMS_UNAVAILABLE');
    } finally {
      clearTimeout(timer);
    }
  }

  /** The claims for a user known by id (a refresh, before its token is spent); undefined without a factory. */
  async forUserId(userId: string): Promise<ExtraClaims | undefined> {
    if (!this.options.claims) return undefined;
    const user = await this.users.findById(userId);
    return user ? this.for(user) : undefined;
  }
}
