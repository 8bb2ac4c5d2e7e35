import { AuditModule } from '../audit/audit.module';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module';
import { TokensModule } from '../tokens/tokens.module';
import { Client, UsedClientAssertion } from './client.entity';
import { ClientsService } from './clients.service';
import { OAuthController } from './oauth.controller';
import { OAuthService } from './oauth.service';

/** Machine clients: the clients table, the token endpoint and the client-credentials grant. */
@Module({
  imports: [AuditModule, TypeOrmModule.forFeature([Client, UsedClientAssertion]), TokensModule, AuthModule],
  controllers: [OAuthController],
  providers: [ClientsService, OAuthService],
  exports: [ClientsService],
})
export class ClientsModule {}
