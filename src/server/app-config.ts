import { resolve } from 'node:path';
import { z } from 'zod';
import { AUTH_SWITCH_DEFAULTS as D, AuthSwitchOptions, resolveAuthSwitchOptions } from '../config/auth-switch.options';
import { ConfigError } from '../config/config-error';
import { AuthStrategy, resolveRouteSettings } from '../config/route-groups';

/**
 * The one place that reads the environment. Everything else receives the typed
 * AppConfig through the APP_CONFIG provider.
 */

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((value) => value === 'true' || value === '1' || value === 'yes');

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL (leave it unset for the embedded SQLite file)')
    .optional(),
  DATABASE_LOGGING: bool.default('false'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,64}$/)
    .default('authswitch:'),
  AUTH_ROUTE_GROUPS: z.string().default(D.routeGroups),
  ADMIN_ROUTE_GROUP: z.string().min(1).optional(),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SESSION_COOKIE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .default('authswitch.sid'),
  SESSION_TTL_SECONDS: positiveInt(8 * 3600),
  COOKIE_SECURE: bool.optional(),
  TRUST_PROXY: z.string().default('false'),
  JWT_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  JWT_VERIFY_KEY_FILES: z.string().optional(),
  JWKS_MAX_AGE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(D.jwksMaxAgeSeconds),
  JWT_VERIFIED_CACHE_SIZE: z.coerce.number().int().min(1).max(10_000_000).default(D.verifiedTokenCacheSize),
  JWT_ISSUER: z.string().min(1).default('authswitch'),
  JWT_AUDIENCE: z.string().min(1).default('authswitch-api'),
  JWT_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(5),
  ACCESS_TOKEN_TTL_SECONDS: positiveInt(15 * 60),
  REFRESH_TOKEN_TTL_SECONDS: positiveInt(30 * 24 * 3600),
  REFRESH_REUSE_GRACE_SECONDS: z.coerce.number().int().min(0).default(D.refreshReuseGraceSeconds),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: positiveInt(10),
  LOGIN_MAX_FAILURES_PER_ADDRESS: positiveInt(100),
  LOGIN_FAILURE_WINDOW_SECONDS: positiveInt(15 * 60),
  REGISTER_MAX_PER_ADDRESS: positiveInt(100),
  REGISTER_WINDOW_SECONDS: positiveInt(15 * 60),
  PASSWORD_RESET_TTL_SECONDS: positiveInt(D.passwordResetTtlSeconds),
  PASSWORD_RESET_MAX_PER_ACCOUNT: positiveInt(D.maxResetRequestsPerAccount),
  PASSWORD_RESET_MAX_PER_ADDRESS: positiveInt(D.maxResetRequestsPerAddress),
  PASSWORD_RESET_WINDOW_SECONDS: positiveInt(D.resetWindowSeconds),
  EMAIL_VERIFY_TTL_SECONDS: positiveInt(D.emailVerifyTtlSeconds),
  REQUIRE_EMAIL_VERIFICATION: bool.default('false'),
  CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS: positiveInt(D.maxClientFailuresPerAddress),
  CLIENT_AUTH_FAILURE_WINDOW_SECONDS: positiveInt(D.clientFailureWindowSeconds),
  REVOCATION_SYNC_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
  // Default and the check against the sync interval: resolveAuthSwitchOptions.
  REVOCATION_MAX_STALENESS_MS: z.coerce.number().int().positive().optional(),
  PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(64).optional(),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i)
    .default('100kb'),
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose', 'silent']).default('log'),
  OPENAPI_ENABLED: bool.optional(),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^\s]+$/, 'must be an smtp:// or smtps:// URL')
    .optional(),
  MAIL_FROM: z.string().min(3).default(D.mailFrom),
  PUBLIC_URL: z
    .string()
    .url('must be an absolute http(s) URL')
    .regex(/^https?:\/\//, 'must be an http:// or https:// URL')
    .optional(),
});

export { ConfigError };

export type RawEnv = Record<string, string | undefined>;

/**
 * The server's configuration: what the HTTP server needs, plus the AuthSwitch module's resolved
 * options (the server is one host of AuthSwitchModule).
 */
export interface AppConfig extends AuthSwitchOptions {
  env: 'development' | 'production' | 'test';
  isProduction: boolean;
  port: number;
  host: string;
  dataDir: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  bodyLimit: string;
  trustProxy: boolean | number | string;
  database: { type: 'sqlite'; path: string; logging: boolean } | { type: 'postgres'; url: string; logging: boolean };
  routeGroups: ReadonlyMap<string, AuthStrategy>;
  /** The group the admin routes live in (ADMIN_ROUTE_GROUP). */
  adminGroup: string;
  /** Serve Swagger UI at /docs and the OpenAPI document at /docs-json. */
  openApiEnabled: boolean;
}

function parseTrustProxy(raw: string, isProduction: boolean): boolean | number | string {
  // `true` (or a /0 range) trusts every hop, so Express takes the client address from the
  // left-most X-Forwarded-For entry, which the client writes itself: one client could then
  // pose as any number of addresses and never reach the per-address limits.
  const trustsEveryone = raw === 'true' || raw.split(',').some((entry) => /\/0$/.test(entry.trim()));
  if (isProduction && trustsEveryone) {
    throw new ConfigError(
      'TRUST_PROXY',
      `${JSON.stringify(raw)} trusts every X-Forwarded-For entry, so a client could pick its own address and escape the per-address login and registration limits; ` +
        'give the number of proxy hops (e.g. 1) or the proxy addresses',
    );
  }
  if (raw === 'true') return true;
  if (raw === 'false' || raw === '') return false;
  if (/^\d+$/.test(raw)) return Number(raw);
  return raw; // an address list or preset such as "loopback", passed to Express as is
}

/** Validates the environment once and returns the typed configuration. */
export function loadConfig(rawEnv: RawEnv): AppConfig {
  const parsed = envSchema.safeParse(rawEnv);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const env = parsed.data;

  const { groups: routeGroups, adminGroup } = resolveRouteSettings(env.AUTH_ROUTE_GROUPS, env.ADMIN_ROUTE_GROUP);

  const isProduction = env.NODE_ENV === 'production';
  const dataDir = resolve(env.DATA_DIR);
  const trustProxy = parseTrustProxy(env.TRUST_PROXY, isProduction);
  const host = env.HOST ?? (isProduction ? '0.0.0.0' : '127.0.0.1');
  const verifyKeyFiles = (env.JWT_VERIFY_KEY_FILES ?? '')
    .split(',')
    .map((file) => file.trim())
    .filter(Boolean);
  const auth = resolveAuthSwitchOptions({
    production: isProduction,
    dataDir,
    session: {
      secret: env.SESSION_SECRET,
      cookieName: env.SESSION_COOKIE_NAME,
      ttlSeconds: env.SESSION_TTL_SECONDS,
      secureCookie: env.COOKIE_SECURE,
    },
    jwt: {
      privateKeyFile: env.JWT_PRIVATE_KEY_FILE,
      verifyKeyFiles,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS,
      accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
      refreshReuseGraceSeconds: env.REFRESH_REUSE_GRACE_SECONDS,
      jwksMaxAgeSeconds: env.JWKS_MAX_AGE_SECONDS,
      verifiedTokenCacheSize: env.JWT_VERIFIED_CACHE_SIZE,
    },
    redis: env.REDIS_URL ? { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX } : null,
    passwordHashConcurrency: env.PASSWORD_HASH_CONCURRENCY,
    loginLimits: {
      maxFailuresPerAccount: env.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      maxFailuresPerAddress: env.LOGIN_MAX_FAILURES_PER_ADDRESS,
      windowSeconds: env.LOGIN_FAILURE_WINDOW_SECONDS,
    },
    registerLimits: { maxPerAddress: env.REGISTER_MAX_PER_ADDRESS, windowSeconds: env.REGISTER_WINDOW_SECONDS },
    revocation: { syncIntervalMs: env.REVOCATION_SYNC_INTERVAL_MS, maxStalenessMs: env.REVOCATION_MAX_STALENESS_MS },
    mail: { smtpUrl: env.SMTP_URL ?? null, from: env.MAIL_FROM },
    passwordReset: {
      ttlSeconds: env.PASSWORD_RESET_TTL_SECONDS,
      maxPerAccount: env.PASSWORD_RESET_MAX_PER_ACCOUNT,
      maxPerAddress: env.PASSWORD_RESET_MAX_PER_ADDRESS,
      windowSeconds: env.PASSWORD_RESET_WINDOW_SECONDS,
    },
    emailVerification: { ttlSeconds: env.EMAIL_VERIFY_TTL_SECONDS, required: env.REQUIRE_EMAIL_VERIFICATION },
    clientLimits: {
      maxFailuresPerAddress: env.CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS,
      windowSeconds: env.CLIENT_AUTH_FAILURE_WINDOW_SECONDS,
    },
    // Unset: the address the server listens on (PublicAddress), which PORT=0 only knows once bound.
    publicUrl: env.PUBLIC_URL,
  });

  return {
    ...auth,
    env: env.NODE_ENV,
    isProduction,
    port: env.PORT,
    host,
    dataDir,
    logLevel: env.LOG_LEVEL,
    bodyLimit: env.BODY_LIMIT,
    trustProxy,
    database: env.DATABASE_URL
      ? { type: 'postgres', url: env.DATABASE_URL, logging: env.DATABASE_LOGGING }
      : { type: 'sqlite', path: resolve(dataDir, 'authswitch.sqlite'), logging: env.DATABASE_LOGGING },
    routeGroups,
    adminGroup,
    // The document lists every route and its schema: handy in development, a map for attackers
    // in production, where it is off unless asked for.
    openApiEnabled: env.OPENAPI_ENABLED ?? !isProduction,
  };
}
