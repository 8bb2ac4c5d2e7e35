import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UsersModule } from '../users/users.module';
import { AccessTokenService } from './access-token.service';
import { JwksController } from './jwks.controller';
import { RefreshToken } from './refresh-token.entity';
import { RefreshTokenService } from './refresh-token.service';
import { RevocationService } from './revocation.service';
import { RefreshFamily } from './refresh-family.entity';
import { Revocation } from './revocation.entity';
import { SigningKeyService } from './signing-key.service';
import { TokensService } from './tokens.service';

@Module({
  imports: [TypeOrmModule.forFeature([RefreshFamily, RefreshToken, Revocation]), UsersModule],
  controllers: [JwksController],
  providers: [SigningKeyService, AccessTokenService, RefreshTokenService, RevocationService, TokensService],
  exports: [AccessTokenService, RevocationService, TokensService, SigningKeyService],
})
export class TokensModule {}
