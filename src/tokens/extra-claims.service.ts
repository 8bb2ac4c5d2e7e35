import { Inject, Injectable } from '@nestjs/common';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { checkedExtraClaims, ExtraClaims, ExtraClaimsSubject } from '../config/extra-claims';

/** Runs the host's `claims` option for a user, at sign-in and refresh only. */
@Injectable()
export class ExtraClaimsService {
  constructor(@Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions) {}

  /** The claims for this user, or undefined when the host adds none (nothing then grows the token). */
  async for(user: ExtraClaimsSubject): Promise<ExtraClaims | undefined> {
    if (!this.options.claims) return undefined;
    const claims = checkedExtraClaims(await this.options.claims({ id: user.id, email: user.email, name: user.name, roles: [...user.roles] }));
    return Object.keys(claims).length > 0 ? claims : undefined;
  }
}
