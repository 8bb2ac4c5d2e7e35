import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { SessionsModule } from '../sessions/sessions.module';
import { TokensModule } from '../tokens/tokens.module';
import { UsersModule } from '../users/users.module';
import { AccountController } from './account.controller';
import { AdminUsersController } from './admin-users.controller';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { JwtAuthenticator, SessionAuthenticator } from './authenticators';
import { LoginRateLimiter } from './login-rate-limiter';
import { RouteGroupGuard } from './route-group.guard';

@Module({
  imports: [UsersModule, TokensModule, SessionsModule],
  // AccountController before AuthController: `/auth/...` must not be read as group "auth".
  controllers: [AccountController, AdminUsersController, AuthController],
  providers: [
    AuthService,
    LoginRateLimiter,
    JwtAuthenticator,
    SessionAuthenticator,
    { provide: APP_GUARD, useClass: RouteGroupGuard },
  ],
  exports: [AuthService, SessionAuthenticator, LoginRateLimiter],
})
export class AuthModule {}
