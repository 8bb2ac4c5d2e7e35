/**
 * AuthSwitch as a library: import AuthSwitchModule into a Nest application and use the
 * decorators, guards and services below. The server in this repository (src/main.ts) is one
 * host of it.
 */
export { AuthSwitchModule } from './auth-switch/auth-switch.module';
export type { AuthSwitchModuleAsyncOptions, AuthSwitchModuleExtras, AuthSwitchModuleOptions } from './auth-switch/auth-switch.module';
export { AUTH_SWITCH_DEFAULTS, AUTH_SWITCH_OPTIONS, AUTH_SWITCH_ROUTES, resolveAuthSwitchOptions } from './config/auth-switch.options';
export type { AuthSwitchOptions, AuthSwitchSettings } from './config/auth-switch.options';

export { AllowClients, CurrentUser, OptionalCredentials, Public, Roles, RouteGroup, Scopes, UsersOnly } from './access/decorators';
export { AccessPolicies, accessPolicyOf } from './access/access-policy';
export type { AccessPolicy, ForbiddenReason, Principals } from './access/access-policy';
export { RouteGroupGuard } from './auth/route-group.guard';
export { JwtStrategy } from './auth/strategies/jwt.strategy';
export { SessionStrategy } from './auth/strategies/session.strategy';
export { AnyStrategy } from './auth/strategies/any.strategy';
export { AuthService } from './auth/auth.service';
export { ClientsModule } from './clients/clients.module';
export { ClientsService } from './clients/clients.service';
export { LoginRateLimiter } from './auth/login-rate-limiter';
export { MetricsService, REVOCATION_LAG_BUCKETS } from './metrics/metrics.service';
export type { DecisionResult, SignInResult, RefreshResult, WebhookDeliveryResult } from './metrics/metrics.service';
export type { AuthSwitchRoutes } from './auth/group-routes';

export type { AuthenticatedRequest, ClientPrincipal, Principal, UserPrincipal } from './common/authenticated-request';
export { AllExceptionsFilter } from './common/all-exceptions.filter';
export { createValidationPipe } from './common/validation';
export { REQUEST_ID_HEADER, requestIdFrom, requestIdMiddleware } from './common/request-id';
export type { AuthStrategy } from './config/route-groups';
export { ConfigError } from './config/config-error';
export { AUTH_ERRORS, authError, isAuthError } from './common/auth-errors';
export type { AuthError, AuthErrorCode } from './common/auth-errors';
export { MAX_EXTRA_CLAIMS_BYTES } from './config/extra-claims';
export type { ExtraClaims, ExtraClaimsFactory, ExtraClaimsSubject } from './config/extra-claims';

// What a host asks for when it wants them: the browser pages and the operator commands.
export { PagesModule } from './pages/pages.module';
export { applyAuthSwitchBodyParsers } from './auth-switch/body-parsers';
export { runOperatorCommand } from './operator/commands';
export type { OpenApplication } from './operator/commands';

export { applyAuthSwitchSecurity } from './openapi/openapi';
export type { OperationIdFactory } from './openapi/openapi';

export { AUTH_SWITCH_ENTITIES } from './auth-switch/entities';
export { AUTH_SWITCH_MIGRATIONS } from './database/migrations';

export { AccessTokenService } from './tokens/access-token.service';
export type { AccessTokenClaims } from './tokens/access-token.service';
export { KeyRing } from './config/key-ring';
export { RevocationService } from './tokens/revocation.service';
export { TokensService } from './tokens/tokens.service';
export { User } from './users/user.entity';
export { UsersService } from './users/users.service';
