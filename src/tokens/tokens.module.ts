import { AuditModule } from '../audit/audit.module';
import { Module } from '@nestjs/common';
import { JwtModule, JwtSecretRequestType } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersModule } from '../users/users.module';
import { AccessTokenService } from './access-token.service';
import { DeviceActivity } from './device-activity';
import { ExtraClaimsService } from './extra-claims.service';
import { Housekeeping } from './housekeeping.service';
import { JwksController } from './jwks.controller';
import { OneTimeToken } from './one-time-token.entity';
import { OneTimeTokenService } from './one-time-token.service';
import { RefreshFamily } from './refresh-family.entity';
import { RefreshToken } from './refresh-token.entity';
import { RefreshTokenService } from './refresh-token.service';
import { Revocation } from './revocation.entity';
import { RevocationService } from './revocation.service';
import { TokensService } from './tokens.service';

/**
 * JwtService, configured with the key ring: it signs with the signing key (its `kid` in the
 * header, its algorithm only) and verifies with the key a token's `kid` names, checking `iss`,
 * `aud` and `exp`. Keys are KeyObjects parsed once at start-up, never a PEM string per call.
 */
const jwtModule = JwtModule.registerAsync({
  inject: [AUTH_SWITCH_OPTIONS],
  useFactory: ({ jwt }: AuthSwitchOptions) => ({
    secretOrKeyProvider: (type: JwtSecretRequestType, tokenOrPayload: string | object | Buffer) =>
      type === JwtSecretRequestType.SIGN ? jwt.keys.signing.privateKey : jwt.keys.keyForToken(String(tokenOrPayload)).publicKey,
    signOptions: { algorithm: jwt.keys.signing.algorithm, keyid: jwt.keys.signing.kid, issuer: jwt.issuer, audience: jwt.audience },
    verifyOptions: { algorithms: jwt.keys.algorithms, issuer: jwt.issuer, audience: jwt.audience, clockTolerance: jwt.clockToleranceSeconds },
  }),
});

@Module({
  imports: [AuditModule, TypeOrmModule.forFeature([RefreshFamily, RefreshToken, Revocation, OneTimeToken]), UsersModule, SessionsModule, jwtModule],
  controllers: [JwksController],
  providers: [DeviceActivity, ExtraClaimsService, AccessTokenService, RefreshTokenService, RevocationService, TokensService, OneTimeTokenService, Housekeeping],
  exports: [DeviceActivity, ExtraClaimsService, AccessTokenService, RevocationService, RefreshTokenService, TokensService, OneTimeTokenService, JwtModule],
})
export class TokensModule {}
