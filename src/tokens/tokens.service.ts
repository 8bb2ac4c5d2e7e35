import { Injectable, UnauthorizedException } from '@nestjs/common';
import { UsersService } from '../users/users.service';
import { AccessTokenService, AccessTokenSubject } from './access-token.service';
import { RefreshTokenService } from './refresh-token.service';
import { RevocationService } from './revocation.service';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** Issues, rotates and revokes the tokens of JWT route groups. */
@Injectable()
export class TokensService {
  constructor(
    private readonly accessTokens: AccessTokenService,
    private readonly refreshTokens: RefreshTokenService,
    private readonly revocation: RevocationService,
    private readonly users: UsersService,
  ) {}

  async issuePair(user: AccessTokenSubject, familyId?: string): Promise<TokenPair> {
    const issuedAt = await this.revocation.issueTime(user.id);
    const { token, claims } = await this.accessTokens.sign(user, issuedAt);
    const refreshToken = await this.refreshTokens.issue(user.id, claims, familyId);
    return { access_token: token, refresh_token: refreshToken, token_type: 'Bearer', expires_in: this.accessTokens.ttlSeconds };
  }

  /** Rotates a refresh token. Roles and profile are read afresh, so a demotion shows at once. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const { userId, familyId } = await this.refreshTokens.spend(refreshToken);
    const user = await this.users.findById(userId);
    if (!user) throw new UnauthorizedException('Invalid refresh token');
    return this.issuePair(user, familyId);
  }

  /** JWT logout: the presented access token dies now; a refresh token given with it, its family. */
  async logout(userId: string, jti: string, expSeconds: number, refreshToken?: string): Promise<void> {
    await this.revocation.revokeJti(jti, expSeconds * 1000);
    if (refreshToken) await this.refreshTokens.revokeFamilyOf(refreshToken, userId);
  }

  /** Everything this user holds as tokens stops working: access tokens by cut-off, refresh families by row. */
  async revokeAllForUser(userId: string): Promise<void> {
    await this.revocation.moveCutoff(userId);
    await this.refreshTokens.revokeAllForUser(userId);
  }
}
