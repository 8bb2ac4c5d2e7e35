import { AuditModule } from '../audit/audit.module';
import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MailModule } from '../mail/mail.module';
import { SessionsModule } from '../sessions/sessions.module';
import { RefreshFamily } from '../tokens/refresh-family.entity';
import { TokensModule } from '../tokens/tokens.module';
import { UsersModule } from '../users/users.module';
import { AccountController } from './account.controller';
import { AdminUsersService } from './admin-users.service';
import { AccountMailQueue } from './account-mail.queue';
import { AuthService } from './auth.service';
import { EmailVerificationService } from './email-verification.service';
import { SessionAuthenticator } from './strategies/authenticators';
import { DevicesController } from './devices.controller';
import { DevicesService } from './devices.service';
import { LoginRateLimiter } from './login-rate-limiter';
import { PasswordService } from './password.service';
import { AUTH_SWITCH_PASSPORT, createPassportInstance } from './strategies/passport-instance';
import { RouteGroupGuard } from './route-group.guard';
import { AnyStrategy } from './strategies/any.strategy';
import { JwtStrategy } from './strategies/jwt.strategy';
import { SessionStrategy } from './strategies/session.strategy';
import { StrategyNamesCheck } from './strategy-names.check';
import { UnusualUse } from './unusual-use';

/**
 * Login, logout and the Passport strategies (`jwt`, `session`, `any`). The per-group routes are
 * added by AuthSwitchModule, which knows the configured groups.
 */
@Module({
  imports: [AuditModule, PassportModule, MailModule, UsersModule, TokensModule, SessionsModule, TypeOrmModule.forFeature([RefreshFamily])],
  controllers: [AccountController, DevicesController],
  providers: [
    { provide: AUTH_SWITCH_PASSPORT, useFactory: createPassportInstance },
    AuthService,
    AdminUsersService,
    AccountMailQueue,
    PasswordService,
    EmailVerificationService,
    LoginRateLimiter,
    SessionAuthenticator,
    DevicesService,
    UnusualUse,
    JwtStrategy,
    SessionStrategy,
    AnyStrategy,
    RouteGroupGuard,
    StrategyNamesCheck,
  ],
  exports: [
    PassportModule,
    AUTH_SWITCH_PASSPORT,
    AuthService,
    AdminUsersService,
    PasswordService,
    EmailVerificationService,
    SessionAuthenticator,
    DevicesService,
    LoginRateLimiter,
    RouteGroupGuard,
    JwtStrategy,
    SessionStrategy,
    AnyStrategy,
  ],
})
export class AuthModule {}
