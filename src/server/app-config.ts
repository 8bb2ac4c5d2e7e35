import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { AUTH_SWITCH_DEFAULTS as D, AuthSwitchOptions, resolveAuthSwitchOptions } from '../config/auth-switch.options';
import { ConfigError } from '../config/config-error';
import { NUMBER_SETTINGS, NumberSetting } from '../config/settings';
import { AuthStrategy, resolveRouteSettings } from '../config/route-groups';

/**
 * The one place that reads the environment. Everything else receives the typed
 * AppConfig through the APP_CONFIG provider.
 */

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((value) => value === 'true' || value === '1' || value === 'yes');

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
  REDIS_KEY_PREFIX: z.string().optional(),
  AUTH_ROUTE_GROUPS: z.string().default(D.routeGroups),
  ADMIN_ROUTE_GROUP: z.string().min(1).optional(),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SESSION_COOKIE_NAME: z.string().optional(),
  COOKIE_SECURE: bool.optional(),
  TRUST_PROXY: z.string().default('false'),
  JWT_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  JWT_VERIFY_KEY_FILES: z.string().optional(),
  JWT_ISSUER: z.string().optional(),
  JWT_AUDIENCE: z.string().optional(),
  REQUIRE_EMAIL_VERIFICATION: bool.optional(),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i)
    .default('100kb'),
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose', 'silent']).default('log'),
  LOG_FORMAT: z.enum(['json', 'text', 'pretty']).optional(),
  OPENAPI_ENABLED: bool.optional(),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^\s]+$/, 'must be an smtp:// or smtps:// URL')
    .optional(),
  MAIL_FROM: z.string().optional(),
  AUDIT_WEBHOOK_URL: z.string().optional(),
  AUDIT_WEBHOOK_SECRET: z.string().optional(),
  // Checked (length, characters) by resolveAuthSwitchOptions, for the server and hosts alike.
  METRICS_TOKEN: z.string().optional(),
  PUBLIC_URL: z
    .string()
    .url('must be an absolute http(s) URL')
    .regex(/^https?:\/\//, 'must be an http:// or https:// URL')
    .optional(),
});

export { ConfigError };

export type RawEnv = Record<string, string | undefined>;

/**
 * A numeric setting as the environment gives it, unchecked: its bounds and default are checked
 * once, by resolveAuthSwitchOptions (NUMBER_SETTINGS), for the server and hosts alike.
 */
function numberFromEnv(rawEnv: RawEnv, spec: NumberSetting): number | undefined {
  const raw = spec.env ? rawEnv[spec.env]?.trim() : undefined;
  if (raw === undefined || raw === '') return undefined;
  // Bounds are checked once, by resolveAuthSwitchOptions; text that is no number is said here as written.
  if (!Number.isFinite(Number(raw))) throw new ConfigError(spec.env!, `must be a number (got ${JSON.stringify(raw.slice(0, 40))})`);
  return Number(raw);
}

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
  /** `json`: one JSON object per line (pino); `text`: Nest's own lines, as in development. */
  logFormat: 'json' | 'text';
  bodyLimit: string;
  trustProxy: boolean | number | string;
  database: { type: 'sqlite'; path: string; logging: boolean } | { type: 'postgres'; url: string; logging: boolean };
  routeGroups: ReadonlyMap<string, AuthStrategy>;
  /** The group the admin routes live in (ADMIN_ROUTE_GROUP). */
  adminGroup: string;
  /** Serve Swagger UI at /docs and the OpenAPI document at /docs-json. */
  openApiEnabled: boolean;
}

const TRUST_PROXY_PRESETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

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
  // An address list or preset, passed to Express as is; checked here, since Express would only
  // throw a stack trace at start-up.
  const bad = raw
    .split(',')
    .map((entry) => entry.trim())
    .find((entry) => !TRUST_PROXY_PRESETS.has(entry) && !isIP(entry.split('/')[0]) && entry !== '');
  if (bad !== undefined || !/\S/.test(raw)) {
    throw new ConfigError(
      'TRUST_PROXY',
      `${JSON.stringify(bad ?? raw)} is not an address, a CIDR range, a hop count or one of loopback, linklocal, uniquelocal`,
    );
  }
  return raw;
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
      ttlSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.sessionTtlSeconds),
      secureCookie: env.COOKIE_SECURE,
    },
    jwt: {
      privateKeyFile: env.JWT_PRIVATE_KEY_FILE,
      verifyKeyFiles,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      clockToleranceSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.clockToleranceSeconds),
      accessTokenTtlSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.accessTokenTtlSeconds),
      refreshTokenTtlSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.refreshTokenTtlSeconds),
      refreshReuseGraceSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.refreshReuseGraceSeconds),
      jwksMaxAgeSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.jwksMaxAgeSeconds),
      verifiedTokenCacheSize: numberFromEnv(rawEnv, NUMBER_SETTINGS.verifiedTokenCacheSize),
    },
    redis: env.REDIS_URL ? { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX } : null,
    passwordHashConcurrency: numberFromEnv(rawEnv, NUMBER_SETTINGS.passwordHashConcurrency),
    loginLimits: {
      maxFailuresPerAccount: numberFromEnv(rawEnv, NUMBER_SETTINGS.maxLoginFailuresPerAccount),
      maxFailuresPerAddress: numberFromEnv(rawEnv, NUMBER_SETTINGS.maxLoginFailuresPerAddress),
      windowSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.loginFailureWindowSeconds),
    },
    registerLimits: {
      maxPerAddress: numberFromEnv(rawEnv, NUMBER_SETTINGS.maxRegistrationsPerAddress),
      windowSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.registrationWindowSeconds),
    },
    revocation: {
      syncIntervalMs: numberFromEnv(rawEnv, NUMBER_SETTINGS.revocationSyncIntervalMs),
      maxStalenessMs: numberFromEnv(rawEnv, NUMBER_SETTINGS.revocationMaxStalenessMs),
    },
    mail: { smtpUrl: env.SMTP_URL ?? null, from: env.MAIL_FROM },
    passwordReset: {
      ttlSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.passwordResetTtlSeconds),
      maxPerAccount: numberFromEnv(rawEnv, NUMBER_SETTINGS.maxResetRequestsPerAccount),
      maxPerAddress: numberFromEnv(rawEnv, NUMBER_SETTINGS.maxResetRequestsPerAddress),
      windowSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.resetWindowSeconds),
    },
    emailVerification: { ttlSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.emailVerifyTtlSeconds), required: env.REQUIRE_EMAIL_VERIFICATION },
    clientLimits: {
      maxFailuresPerAddress: numberFromEnv(rawEnv, NUMBER_SETTINGS.maxClientFailuresPerAddress),
      windowSeconds: numberFromEnv(rawEnv, NUMBER_SETTINGS.clientFailureWindowSeconds),
    },
    // Unset: the address the server listens on (PublicAddress), which PORT=0 only knows once bound.
    publicUrl: env.PUBLIC_URL,
    audit: {
      webhookUrl: env.AUDIT_WEBHOOK_URL ?? null,
      webhookSecret: env.AUDIT_WEBHOOK_SECRET ?? null,
      retentionDays: numberFromEnv(rawEnv, NUMBER_SETTINGS.auditRetentionDays),
    },
    anomalies: { stuffingAccounts: numberFromEnv(rawEnv, NUMBER_SETTINGS.stuffingAccounts) },
    metrics: { token: env.METRICS_TOKEN ?? null },
  });

  return {
    ...auth,
    env: env.NODE_ENV,
    isProduction,
    port: env.PORT,
    host,
    dataDir,
    logLevel: env.LOG_LEVEL,
    // `pretty` is another name for `text`; unset, production logs JSON for its log collectors.
    logFormat: (env.LOG_FORMAT ?? (isProduction ? 'json' : 'text')) === 'json' ? 'json' : 'text',
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
