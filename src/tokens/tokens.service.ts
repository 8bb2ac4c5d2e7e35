import type { AuditOrigin, NewAuditEvent } from '../audit/audit-events';
import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { User } from '../users/user.entity';
import { AccessTokenService } from './access-token.service';
import { DeviceActivity } from './device-activity';
import { ExtraClaimsService } from './extra-claims.service';
import type { ExtraClaims } from '../config/extra-claims';
import { LoginDevice, RefreshTokenService, SPEND_DEADLINE_MS } from './refresh-token.service';
import { RevocationService } from './revocation.service';
import { authError } from '../common/auth-errors';
import { describeRefusal } from '../common/all-exceptions.filter';
import { MetricsService, RefreshResult } from '../metrics/metrics.service';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** The user as a credential is built from it: profile, roles and the version they belong to. */
export type CredentialSubject = Pick<User, 'id' | 'email' | 'name' | 'roles' | 'credentialVersion'> & Partial<Pick<User, 'emailVerified'>>;

/** Issues, rotates and revokes the tokens of JWT route groups. */
@Injectable()
export class TokensService {
  constructor(
    private readonly accessTokens: AccessTokenService,
    private readonly refreshTokens: RefreshTokenService,
    private readonly revocation: RevocationService,
    private readonly activity: DeviceActivity,
    private readonly extraClaims: ExtraClaimsService,
    private readonly metrics: MetricsService,
  ) {}

  /** A new family for a login, built from the user row the login read. */
  async issueForLogin(user: CredentialSubject, group: string, device?: LoginDevice, claims?: ExtraClaims): Promise<TokenPair> {
    const familyId = await this.refreshTokens.startFamily(user, group, device);
    return this.issuePair(user, familyId, group, claims);
  }

  /**
   * Rotates a refresh token. Roles and profile are read afresh, so a demotion shows at once.
   * The access token is checked once more before it is handed out: if the family was revoked
   * meanwhile, nothing is handed out; if the user changed meanwhile (a role change), the access
   * token is built again from the new row, rather than leaving the client with a spent token
   * and nothing in exchange.
   *
   * With a reuse grace (REFRESH_REUSE_GRACE_SECONDS), the pair is sealed onto the spent token
   * before it is handed out, and a retry of that token within the grace gets this same pair.
   */
  async refresh(refreshToken: string, group: string, origin: AuditOrigin = { group }): Promise<TokenPair> {
    try {
      const { pair, replayed } = await this.rotate(refreshToken, group, origin);
      this.metrics.refresh(replayed ? 'grace' : 'rotated');
      return pair;
    } catch (error) {
      this.metrics.refresh(refreshResultOf(error));
      throw error;
    }
  }

  /** refresh() itself; the caller counts how it ended. */
  private async rotate(refreshToken: string, group: string, origin: AuditOrigin): Promise<{ pair: TokenPair; replayed: boolean }> {
    // The host's claims are read afresh at each refresh, like the roles, and before the token is
    // spent: a failing claims option must not burn the client's only refresh token.
    let claims: ExtraClaims | undefined;
    const readClaims = async (userId: string) => {
      claims = await this.extraClaims.forUserId(userId);
    };
    const spent = await this.refreshTokens.spend(refreshToken, group, this.extraClaims.enabled ? readClaims : undefined, origin);
    if ('replayed' in spent) return { pair: spent.replayed, replayed: true };
    const { user: spentBy, familyId, spentAt, tokenId } = spent;
    this.activity.markFamily(familyId); // a refresh is a use of the sign-in
    const nextRefreshToken = await this.refreshTokens.issue(spentBy.id, familyId);
    let user: CredentialSubject | null = spentBy;
    for (let attempt = 1; user && attempt <= 3; attempt++) {
      // Bounds how long after its family's revocation an access token can have been signed.
      if (Date.now() - spentAt > SPEND_DEADLINE_MS) break;
      const accessToken = this.signAccess(user, familyId, group, claims);
      if (!this.revocation.isRevoked({ userId: user.id, version: user.credentialVersion, familyId })) {
        const pair: TokenPair = { access_token: accessToken, refresh_token: nextRefreshToken, token_type: 'Bearer', expires_in: this.accessTokens.ttlSeconds };
        await this.refreshTokens.sealSuccessor(refreshToken, tokenId, pair);
        return { pair, replayed: false };
      }
      if (this.revocation.isFamilyRevoked(familyId)) break;
      user = await this.refreshTokens.userOfLiveFamily(familyId, spentBy.id, group);
      // The account changed meanwhile (a role change): its claims may have too. Keep the ones
      // read before the spend if the option fails now, rather than lose the spent token.
      if (user) claims = await this.extraClaims.for(user).catch(() => claims);
    }
    throw authError('INVALID_REFRESH_TOKEN');
  }

  /** JWT logout: the presented access token dies now; a refresh token given with it, its family. */
  async logout(userId: string, jti: string, expSeconds: number, refreshToken?: string, event?: NewAuditEvent): Promise<void> {
    await this.revocation.revokeToken(jti, expSeconds, event);
    if (refreshToken) await this.refreshTokens.revokeFamilyOf(refreshToken, userId);
  }

  /** Inside a logout-all transaction: every refresh family of the user ends with it. */
  revokeAllFamilies(tx: EntityManager, userId: string): Promise<void> {
    return this.refreshTokens.revokeAllFamilies(tx, userId);
  }

  private async issuePair(user: CredentialSubject, familyId: string, group: string, claims: ExtraClaims | undefined): Promise<TokenPair> {
    const accessToken = this.signAccess(user, familyId, group, claims);
    const refreshToken = await this.refreshTokens.issue(user.id, familyId);
    return { access_token: accessToken, refresh_token: refreshToken, token_type: 'Bearer', expires_in: this.accessTokens.ttlSeconds };
  }

  private signAccess(user: CredentialSubject, familyId: string, group: string, claims: ExtraClaims | undefined): string {
    const issuedAt = Math.floor(Date.now() / 1000);
    return this.accessTokens.sign({ ...user, claims }, issuedAt, { version: user.credentialVersion, familyId, group }).token;
  }
}

/** What a refused refresh counts as: 401 (unknown, expired, spent, revoked, reused) `invalid`, 503 `unavailable`. */
function refreshResultOf(error: unknown): RefreshResult {
  const status = describeRefusal(error)?.status;
  if (status === 401) return 'invalid';
  if (status === 503) return 'unavailable';
  return 'error';
}
