import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from './config-error';
import { assertProductionSessionSecret, resolveSecrets } from './secrets';
import type { ExtraClaimsFactory } from './extra-claims';
import { KeyRing } from './key-ring';

/** The resolved options every AuthSwitch service reads (through AUTH_SWITCH_OPTIONS). */
export const AUTH_SWITCH_OPTIONS = Symbol('AUTH_SWITCH_OPTIONS');

/** The route groups, the admin group and whether the guard is global (AUTH_SWITCH_ROUTES). */
export const AUTH_SWITCH_ROUTES = Symbol('AUTH_SWITCH_ROUTES');

/** Defaults shared by the environment (the server) and the module options (a host app). */
export const AUTH_SWITCH_DEFAULTS = {
  routeGroups: 'web=session,api=jwt',
  adminGroup: 'api',
  sessionCookieName: 'authswitch.sid',
  sessionTtlSeconds: 8 * 3600,
  issuer: 'authswitch',
  audience: 'authswitch-api',
  clockToleranceSeconds: 5,
  accessTokenTtlSeconds: 15 * 60,
  refreshTokenTtlSeconds: 30 * 24 * 3600,
  // 0: a refresh token is strictly single-use (a second presentation revokes its family).
  refreshReuseGraceSeconds: 0,
  jwksMaxAgeSeconds: 300,
  // Sized for the live access tokens, not a small constant: an LRU smaller than the set of
  // tokens in use misses on every request once clients cycle through it. About 30 MB per
  // 100,000 tokens (npm run bench reports the figure).
  verifiedTokenCacheSize: 200_000,
  redisKeyPrefix: 'authswitch:',
  maxLoginFailuresPerAccount: 10,
  maxLoginFailuresPerAddress: 100,
  loginFailureWindowSeconds: 15 * 60,
  maxRegistrationsPerAddress: 100,
  registrationWindowSeconds: 15 * 60,
  revocationSyncIntervalMs: 1000,
  // An instance that has not read the revocation log for this long answers 503 to authenticated
  // requests, and a revocation whose broadcast failed waits this long before it answers. At
  // least REVOCATION_MIN_STALENESS_INTERVALS sync intervals when the interval is set longer.
  revocationMaxStalenessMs: 15_000,
  mailFrom: 'AuthSwitch <no-reply@authswitch.invalid>',
  passwordResetTtlSeconds: 900,
  maxResetRequestsPerAccount: 5,
  maxResetRequestsPerAddress: 50,
  resetWindowSeconds: 15 * 60,
  emailVerifyTtlSeconds: 86_400,
  maxClientFailuresPerAddress: 100,
  clientFailureWindowSeconds: 15 * 60,
  requireEmailVerification: false,
  // How often the last use of sessions and refresh families is written, and at most how often
  // one sign-in is marked used (internal; tests shorten it).
  deviceActivityFlushMs: 60_000,
} as const;

/** The default staleness limit spans at least this many sync intervals (a longer interval raises it). */
export const REVOCATION_MIN_STALENESS_INTERVALS = 5;

/** What a host passes to `AuthSwitchModule.forRoot()`: everything optional but the stores. */
export interface AuthSwitchSettings {
  /** Refuses missing and development secrets (as NODE_ENV=production does for the server). */
  production?: boolean;
  /** Where development secrets are generated when none is given (default ./data). */
  dataDir?: string;
  session?: {
    /** Signs the session cookie; generated into dataDir in development when absent. */
    secret?: string;
    cookieName?: string;
    ttlSeconds?: number;
    /** Default: true in production. */
    secureCookie?: boolean;
  };
  jwt?: {
    /** PEM PKCS#8 private key that signs (P-256 => ES256, RSA => RS256). */
    privateKeyFile?: string;
    /** PEM keys accepted and published but never used to sign (rotation). */
    verifyKeyFiles?: string[];
    /** An already loaded key ring; wins over the files. */
    keys?: KeyRing;
    issuer?: string;
    audience?: string;
    clockToleranceSeconds?: number;
    accessTokenTtlSeconds?: number;
    refreshTokenTtlSeconds?: number;
    /**
     * How long after a refresh token was spent presenting it again returns the same successor
     * pair (two tabs, a retried request) instead of revoking its family. 0 (default): strict.
     */
    refreshReuseGraceSeconds?: number;
    /** `Cache-Control: max-age` of the JWKS document. */
    jwksMaxAgeSeconds?: number;
    /** How many verified access tokens are remembered (each skips the signature check again). */
    verifiedTokenCacheSize?: number;
  };
  /** Sessions, revocation feed and rate-limit counters in Redis; null keeps them in the database. */
  redis?: { url: string; keyPrefix?: string } | null;
  passwordHashConcurrency?: number;
  loginLimits?: Partial<AuthSwitchOptions['loginLimits']>;
  registerLimits?: Partial<AuthSwitchOptions['registerLimits']>;
  revocation?: Partial<AuthSwitchOptions['revocation']>;
  mail?: Partial<AuthSwitchOptions['mail']>;
  passwordReset?: Partial<AuthSwitchOptions['passwordReset']>;
  emailVerification?: Partial<AuthSwitchOptions['emailVerification']>;
  clientLimits?: Partial<AuthSwitchOptions['clientLimits']>;
  /** Where links in mails point (the public address of the pages). */
  publicUrl?: string;
  /** Internal (tests): how often last-use marks of sessions and refresh families are written. */
  deviceActivityFlushMs?: number;
  /**
   * Extra claims for every credential of a user, computed at sign-in and refresh (it may read
   * your own tables) and carried in the token or session: `@CurrentUser()` shows them as
   * `claims`, with no database read per request. At most 1 kB of JSON.
   */
  claims?: ExtraClaimsFactory;
}

/** The options after defaults, secrets and keys are resolved. */
export interface AuthSwitchOptions {
  production: boolean;
  session: {
    secret: string;
    cookieName: string;
    ttlSeconds: number;
    secureCookie: boolean;
  };
  jwt: {
    /** The signing key and every accepted key, parsed once (KeyObjects, never PEM per call). */
    keys: KeyRing;
    issuer: string;
    audience: string;
    clockToleranceSeconds: number;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    /** Seconds after a spend during which the spent token answers its successor pair again; 0 = strict. */
    refreshReuseGraceSeconds: number;
    jwksMaxAgeSeconds: number;
    verifiedTokenCacheSize: number;
  };
  redis: { url: string; keyPrefix: string } | null;
  /** How many argon2 hashes may run at once; the rest wait their turn. */
  passwordHashConcurrency: number;
  loginLimits: {
    maxFailuresPerAccount: number;
    maxFailuresPerAddress: number;
    windowSeconds: number;
  };
  /** Registrations allowed per client address per window; more get 429. */
  registerLimits: {
    maxPerAddress: number;
    windowSeconds: number;
  };
  revocation: {
    /** How often each instance reads from the database the revocations a lost Redis message missed. */
    syncIntervalMs: number;
    /**
     * An instance whose last successful read of the revocation log began longer ago than this
     * answers 503 to authenticated requests; a revocation whose broadcast failed answers only
     * after this long. Greater than syncIntervalMs.
     */
    maxStalenessMs: number;
  };
  mail: {
    /** smtp:// or smtps:// (credentials in the URL); null writes each mail as an .eml file into `dir`. */
    smtpUrl: string | null;
    from: string;
    dir: string;
  };
  /** Links in mails start with this (no trailing slash). */
  publicUrl: string | null;
  passwordReset: {
    /** How long a reset link works. */
    ttlSeconds: number;
    /** Reset requests (forgot) and token attempts per account / per client address per window; more get 429. */
    maxPerAccount: number;
    maxPerAddress: number;
    windowSeconds: number;
  };
  emailVerification: {
    /** How long the link mailed at registration (or by resend) works. */
    ttlSeconds: number;
    /** Refuse sign-in (403) until the address is verified. */
    required: boolean;
  };
  /**
   * Failed client authentications (POST /oauth/token) per address per window; more get 429.
   * Never per client id: a client's id is no secret, and its right credentials are never refused
   * because of failures sent from elsewhere.
   */
  clientLimits: {
    maxFailuresPerAddress: number;
    windowSeconds: number;
  };
  /**
   * How often each instance writes the last use of sessions and refresh families, which is also
   * the most often one sign-in is marked used. Not an environment setting; tests shorten it.
   */
  deviceActivityFlushMs: number;
  /** The host's extra claims, or null for none. */
  claims: ExtraClaimsFactory | null;
}

/** The sync interval and the staleness limit, checked together once: the limit must exceed the interval. */
function revocationOptions(input: Partial<AuthSwitchOptions['revocation']> | undefined): AuthSwitchOptions['revocation'] {
  const syncIntervalMs = input?.syncIntervalMs ?? AUTH_SWITCH_DEFAULTS.revocationSyncIntervalMs;
  if (!Number.isFinite(syncIntervalMs) || syncIntervalMs <= 0)
    throw new ConfigError('REVOCATION_SYNC_INTERVAL_MS', `must be a positive number (got ${syncIntervalMs})`);
  const maxStalenessMs = input?.maxStalenessMs ?? Math.max(AUTH_SWITCH_DEFAULTS.revocationMaxStalenessMs, REVOCATION_MIN_STALENESS_INTERVALS * syncIntervalMs);
  if (!Number.isFinite(maxStalenessMs) || maxStalenessMs <= syncIntervalMs) {
    throw new ConfigError(
      'REVOCATION_MAX_STALENESS_MS',
      `must be a number of milliseconds greater than REVOCATION_SYNC_INTERVAL_MS (${syncIntervalMs}; got ${maxStalenessMs})`,
    );
  }
  return { syncIntervalMs, maxStalenessMs };
}

/**
 * Fills in defaults and loads secrets and keys. Idempotent: resolved options come back as they
 * are, so the server can resolve (and fail on one line) before Nest boots. A bad key or secret
 * throws a ConfigError naming the environment variable that would set it.
 */
export function resolveAuthSwitchOptions(settings: AuthSwitchSettings | AuthSwitchOptions): AuthSwitchOptions {
  const input = settings as AuthSwitchSettings;
  const d = AUTH_SWITCH_DEFAULTS;
  const production = input.production ?? false;
  const dataDir = resolve(input.dataDir ?? './data');
  const jwt = input.jwt ?? {};
  let keys = jwt.keys;
  let sessionSecret = input.session?.secret;
  if (!keys || !sessionSecret) {
    const secrets = resolveSecrets({
      isProduction: production,
      dataDir,
      sessionSecret,
      jwtPrivateKeyFile: jwt.privateKeyFile,
      jwtVerifyKeyFiles: jwt.verifyKeyFiles,
    });
    keys ??= secrets.keyRing;
    sessionSecret ??= secrets.sessionSecret;
  }
  // A host may hand over its secret (and key ring) directly: hold it to the same rules.
  if (production) assertProductionSessionSecret(sessionSecret, dataDir);
  const positive = (value: number | undefined, fallback: number, variable: string): number => {
    const result = value ?? fallback;
    if (!Number.isFinite(result) || result <= 0) throw new ConfigError(variable, `must be a positive number (got ${result})`);
    return result;
  };
  const nonNegativeInt = (value: number | undefined, fallback: number, variable: string): number => {
    const result = value ?? fallback;
    if (!Number.isSafeInteger(result) || result < 0) throw new ConfigError(variable, `must be a non-negative integer (got ${result})`);
    return result;
  };
  return {
    production,
    session: {
      secret: sessionSecret,
      cookieName: input.session?.cookieName ?? d.sessionCookieName,
      ttlSeconds: positive(input.session?.ttlSeconds, d.sessionTtlSeconds, 'SESSION_TTL_SECONDS'),
      secureCookie: input.session?.secureCookie ?? production,
    },
    jwt: {
      keys,
      issuer: jwt.issuer ?? d.issuer,
      audience: jwt.audience ?? d.audience,
      clockToleranceSeconds: jwt.clockToleranceSeconds ?? d.clockToleranceSeconds,
      accessTokenTtlSeconds: positive(jwt.accessTokenTtlSeconds, d.accessTokenTtlSeconds, 'ACCESS_TOKEN_TTL_SECONDS'),
      refreshTokenTtlSeconds: positive(jwt.refreshTokenTtlSeconds, d.refreshTokenTtlSeconds, 'REFRESH_TOKEN_TTL_SECONDS'),
      refreshReuseGraceSeconds: nonNegativeInt(jwt.refreshReuseGraceSeconds, d.refreshReuseGraceSeconds, 'REFRESH_REUSE_GRACE_SECONDS'),
      jwksMaxAgeSeconds: jwt.jwksMaxAgeSeconds ?? d.jwksMaxAgeSeconds,
      verifiedTokenCacheSize: positive(jwt.verifiedTokenCacheSize, d.verifiedTokenCacheSize, 'JWT_VERIFIED_CACHE_SIZE'),
    },
    redis: input.redis ? { url: input.redis.url, keyPrefix: input.redis.keyPrefix ?? d.redisKeyPrefix } : null,
    // Leave a core to the event loop, so protected routes stay fast during a login storm.
    passwordHashConcurrency: input.passwordHashConcurrency ?? Math.max(1, availableParallelism() - 1),
    loginLimits: {
      maxFailuresPerAccount: input.loginLimits?.maxFailuresPerAccount ?? d.maxLoginFailuresPerAccount,
      maxFailuresPerAddress: input.loginLimits?.maxFailuresPerAddress ?? d.maxLoginFailuresPerAddress,
      windowSeconds: input.loginLimits?.windowSeconds ?? d.loginFailureWindowSeconds,
    },
    registerLimits: {
      maxPerAddress: input.registerLimits?.maxPerAddress ?? d.maxRegistrationsPerAddress,
      windowSeconds: input.registerLimits?.windowSeconds ?? d.registrationWindowSeconds,
    },
    revocation: revocationOptions(input.revocation),
    mail: {
      smtpUrl: input.mail?.smtpUrl ?? null,
      from: input.mail?.from ?? d.mailFrom,
      dir: input.mail?.dir ?? join(dataDir, 'mail'),
    },
    publicUrl: input.publicUrl ? input.publicUrl.replace(/\/+$/, '') : null,
    passwordReset: {
      ttlSeconds: positive(input.passwordReset?.ttlSeconds, d.passwordResetTtlSeconds, 'PASSWORD_RESET_TTL_SECONDS'),
      maxPerAccount: input.passwordReset?.maxPerAccount ?? d.maxResetRequestsPerAccount,
      maxPerAddress: input.passwordReset?.maxPerAddress ?? d.maxResetRequestsPerAddress,
      windowSeconds: input.passwordReset?.windowSeconds ?? d.resetWindowSeconds,
    },
    emailVerification: {
      ttlSeconds: positive(input.emailVerification?.ttlSeconds, d.emailVerifyTtlSeconds, 'EMAIL_VERIFY_TTL_SECONDS'),
      required: input.emailVerification?.required ?? d.requireEmailVerification,
    },
    clientLimits: {
      maxFailuresPerAddress: input.clientLimits?.maxFailuresPerAddress ?? d.maxClientFailuresPerAddress,
      windowSeconds: input.clientLimits?.windowSeconds ?? d.clientFailureWindowSeconds,
    },
    deviceActivityFlushMs: positive(input.deviceActivityFlushMs, d.deviceActivityFlushMs, 'deviceActivityFlushMs'),
    claims: input.claims ?? null,
  };
}
