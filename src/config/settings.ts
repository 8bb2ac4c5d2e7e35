import { ConfigError } from './config-error';

/**
 * Every numeric setting of the module, once: the option a host passes, the environment variable
 * the server reads it from, its bounds and its default. resolveAuthSwitchOptions() checks each
 * value against this table whichever way it came, so the server and a host are held to the same
 * rules, and an error names the setting the way its reader set it.
 */
export interface NumberSetting {
  /** Where a host sets it in AuthSwitchModule.forRoot(). */
  option: string;
  /** Where the server reads it (null: not read from the environment). */
  env: string | null;
  default: number;
  min: number;
  max?: number;
  integer: boolean;
}

const setting = (option: string, env: string | null, defaultValue: number, min: number, max?: number, integer = true): NumberSetting => ({
  option,
  env,
  default: defaultValue,
  min,
  max,
  integer,
});

const MINUTES_15 = 15 * 60;

export const NUMBER_SETTINGS = {
  sessionTtlSeconds: setting('session.ttlSeconds', 'SESSION_TTL_SECONDS', 8 * 3600, 1),
  clockToleranceSeconds: setting('jwt.clockToleranceSeconds', 'JWT_CLOCK_TOLERANCE_SECONDS', 5, 0, 300),
  accessTokenTtlSeconds: setting('jwt.accessTokenTtlSeconds', 'ACCESS_TOKEN_TTL_SECONDS', 15 * 60, 1),
  refreshTokenTtlSeconds: setting('jwt.refreshTokenTtlSeconds', 'REFRESH_TOKEN_TTL_SECONDS', 30 * 24 * 3600, 1),
  // 0: a refresh token is strictly single-use (a second presentation revokes its family).
  refreshReuseGraceSeconds: setting('jwt.refreshReuseGraceSeconds', 'REFRESH_REUSE_GRACE_SECONDS', 0, 0, 3600),
  jwksMaxAgeSeconds: setting('jwt.jwksMaxAgeSeconds', 'JWKS_MAX_AGE_SECONDS', 300, 0, 86_400),
  // Sized for the live access tokens, not a small constant: an LRU smaller than the set of
  // tokens in use misses on every request once clients cycle through it. About 30 MB per
  // 100,000 tokens (npm run bench reports the figure).
  verifiedTokenCacheSize: setting('jwt.verifiedTokenCacheSize', 'JWT_VERIFIED_CACHE_SIZE', 200_000, 1, 10_000_000),
  maxLoginFailuresPerAccount: setting('loginLimits.maxFailuresPerAccount', 'LOGIN_MAX_FAILURES_PER_ACCOUNT', 10, 1),
  maxLoginFailuresPerAddress: setting('loginLimits.maxFailuresPerAddress', 'LOGIN_MAX_FAILURES_PER_ADDRESS', 100, 1),
  loginFailureWindowSeconds: setting('loginLimits.windowSeconds', 'LOGIN_FAILURE_WINDOW_SECONDS', MINUTES_15, 1),
  maxRegistrationsPerAddress: setting('registerLimits.maxPerAddress', 'REGISTER_MAX_PER_ADDRESS', 100, 1),
  registrationWindowSeconds: setting('registerLimits.windowSeconds', 'REGISTER_WINDOW_SECONDS', MINUTES_15, 1),
  revocationSyncIntervalMs: setting('revocation.syncIntervalMs', 'REVOCATION_SYNC_INTERVAL_MS', 1000, 100, 60_000),
  // An instance that has not read the revocation log for this long answers 503 to authenticated
  // requests, and a revocation whose broadcast failed waits this long before it answers. Its
  // default is raised to REVOCATION_MIN_STALENESS_INTERVALS sync intervals when that is longer.
  revocationMaxStalenessMs: setting('revocation.maxStalenessMs', 'REVOCATION_MAX_STALENESS_MS', 15_000, 1),
  passwordResetTtlSeconds: setting('passwordReset.ttlSeconds', 'PASSWORD_RESET_TTL_SECONDS', 900, 1),
  maxResetRequestsPerAccount: setting('passwordReset.maxPerAccount', 'PASSWORD_RESET_MAX_PER_ACCOUNT', 5, 1),
  maxResetRequestsPerAddress: setting('passwordReset.maxPerAddress', 'PASSWORD_RESET_MAX_PER_ADDRESS', 50, 1),
  resetWindowSeconds: setting('passwordReset.windowSeconds', 'PASSWORD_RESET_WINDOW_SECONDS', MINUTES_15, 1),
  emailVerifyTtlSeconds: setting('emailVerification.ttlSeconds', 'EMAIL_VERIFY_TTL_SECONDS', 86_400, 1),
  maxClientFailuresPerAddress: setting('clientLimits.maxFailuresPerAddress', 'CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS', 100, 1),
  clientFailureWindowSeconds: setting('clientLimits.windowSeconds', 'CLIENT_AUTH_FAILURE_WINDOW_SECONDS', MINUTES_15, 1),
  // Its default depends on the machine (cores - 1); see resolveAuthSwitchOptions.
  passwordHashConcurrency: setting('passwordHashConcurrency', 'PASSWORD_HASH_CONCURRENCY', 1, 1, 64),
  auditRetentionDays: setting('audit.retentionDays', 'AUDIT_RETENTION_DAYS', 90, 1, 36_500),
  // Internal (tests shorten it): the first retry of a failed webhook delivery; each next one doubles, up to an hour.
  auditWebhookRetryMs: setting('audit.webhookRetryMs', null, 1000, 10, 3_600_000),
  // Failed logins against this many different accounts from one address within the login window: credential stuffing.
  stuffingAccounts: setting('anomalies.stuffingAccounts', 'STUFFING_ACCOUNTS', 20, 2, 10_000),
  // How often the last use of sessions and refresh families is written (internal; tests shorten it).
  deviceActivityFlushMs: setting('deviceActivityFlushMs', null, 60_000, 1),
} as const satisfies Record<string, NumberSetting>;

/** The settings that are not numbers, by environment variable → module option (for error messages). */
const OTHER_SETTING_NAMES: Record<string, string> = {
  SESSION_SECRET: 'session.secret',
  JWT_PRIVATE_KEY_FILE: 'jwt.privateKeyFile',
  JWT_VERIFY_KEY_FILES: 'jwt.verifyKeyFiles',
  SESSION_COOKIE_NAME: 'session.cookieName',
  REDIS_KEY_PREFIX: 'redis.keyPrefix',
  JWT_ISSUER: 'jwt.issuer',
  JWT_AUDIENCE: 'jwt.audience',
  MAIL_FROM: 'mail.from',
  AUTH_ROUTE_GROUPS: 'routeGroups',
  ADMIN_ROUTE_GROUP: 'adminGroup',
  AUDIT_WEBHOOK_URL: 'audit.webhookUrl',
  AUDIT_WEBHOOK_SECRET: 'audit.webhookSecret',
  METRICS_TOKEN: 'metrics.token',
};

/** The module option an environment variable sets, to name it in a host's start-up error. */
export function optionForVariable(variable: string): string | undefined {
  return OTHER_SETTING_NAMES[variable] ?? Object.values(NUMBER_SETTINGS).find((s: NumberSetting) => s.env === variable)?.option;
}

/** A value checked against its setting, or its default when absent; a ConfigError names it by its variable. */
export function numberSetting(value: number | undefined, spec: NumberSetting, fallback = spec.default): number {
  const result = value ?? fallback;
  const bounds = spec.max === undefined ? `at least ${spec.min}` : `from ${spec.min} to ${spec.max}`;
  const fits = Number.isFinite(result) && (!spec.integer || Number.isInteger(result)) && result >= spec.min && (spec.max === undefined || result <= spec.max);
  if (!fits) throw new ConfigError(spec.env ?? spec.option, `must be ${spec.integer ? 'a whole number' : 'a number'} ${bounds} (got ${String(value)})`);
  return result;
}
