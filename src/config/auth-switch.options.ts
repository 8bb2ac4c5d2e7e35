import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from './config-error';
import { assertProductionSessionSecret, resolveSecrets } from './secrets';
import type { ExtraClaimsFactory } from './extra-claims';
import { KeyRing } from './key-ring';
import { NUMBER_SETTINGS, numberSetting } from './settings';

/** The resolved options every AuthSwitch service reads (through AUTH_SWITCH_OPTIONS). */
export const AUTH_SWITCH_OPTIONS = Symbol('AUTH_SWITCH_OPTIONS');

/** The route groups, the admin group and whether the guard is global (AUTH_SWITCH_ROUTES). */
export const AUTH_SWITCH_ROUTES = Symbol('AUTH_SWITCH_ROUTES');

const n = NUMBER_SETTINGS;

/**
 * Defaults shared by the environment (the server) and the module options (a host app). The
 * numeric ones, with their bounds, are defined in NUMBER_SETTINGS (./settings.ts).
 */
export const AUTH_SWITCH_DEFAULTS = {
  routeGroups: 'web=session,api=jwt',
  adminGroup: 'api',
  sessionCookieName: 'authswitch.sid',
  sessionTtlSeconds: n.sessionTtlSeconds.default,
  issuer: 'authswitch',
  audience: 'authswitch-api',
  clockToleranceSeconds: n.clockToleranceSeconds.default,
  accessTokenTtlSeconds: n.accessTokenTtlSeconds.default,
  refreshTokenTtlSeconds: n.refreshTokenTtlSeconds.default,
  refreshReuseGraceSeconds: n.refreshReuseGraceSeconds.default,
  jwksMaxAgeSeconds: n.jwksMaxAgeSeconds.default,
  verifiedTokenCacheSize: n.verifiedTokenCacheSize.default,
  redisKeyPrefix: 'authswitch:',
  maxLoginFailuresPerAccount: n.maxLoginFailuresPerAccount.default,
  maxLoginFailuresPerAddress: n.maxLoginFailuresPerAddress.default,
  loginFailureWindowSeconds: n.loginFailureWindowSeconds.default,
  maxRegistrationsPerAddress: n.maxRegistrationsPerAddress.default,
  registrationWindowSeconds: n.registrationWindowSeconds.default,
  revocationSyncIntervalMs: n.revocationSyncIntervalMs.default,
  revocationMaxStalenessMs: n.revocationMaxStalenessMs.default,
  mailFrom: 'AuthSwitch <no-reply@authswitch.invalid>',
  passwordResetTtlSeconds: n.passwordResetTtlSeconds.default,
  maxResetRequestsPerAccount: n.maxResetRequestsPerAccount.default,
  maxResetRequestsPerAddress: n.maxResetRequestsPerAddress.default,
  resetWindowSeconds: n.resetWindowSeconds.default,
  emailVerifyTtlSeconds: n.emailVerifyTtlSeconds.default,
  maxClientFailuresPerAddress: n.maxClientFailuresPerAddress.default,
  clientFailureWindowSeconds: n.clientFailureWindowSeconds.default,
  requireEmailVerification: false,
  deviceActivityFlushMs: n.deviceActivityFlushMs.default,
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
  audit?: Partial<AuthSwitchOptions['audit']>;
  anomalies?: Partial<AuthSwitchOptions['anomalies']>;
  /**
   * `GET /metrics` (Prometheus text format) answers only a request bearing this token
   * (`Authorization: Bearer <token>`); without a token it does not exist (404). 32 to 512 visible
   * ASCII characters.
   */
  metrics?: { token?: string | null };
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
  audit: {
    /** Every audit event is POSTed here (at least once, signed), when set. */
    webhookUrl: string | null;
    /** The HMAC-SHA256 key of the `X-AuthSwitch-Signature` header; required with webhookUrl. */
    webhookSecret: string | null;
    /** Events older than this are deleted. */
    retentionDays: number;
    /** The first retry of a failed delivery; each next one waits twice as long, up to an hour. */
    webhookRetryMs: number;
  };
  anomalies: {
    /** Failed logins against this many accounts from one address within the login window: refused (429) for the window. */
    stuffingAccounts: number;
  };
  metrics: {
    /** The bearer token `GET /metrics` requires; null: the route answers 404. */
    token: string | null;
  };
}

/** The audit webhook: a URL and its signing secret come together; the secret is long enough to be a key. */
function auditOptions(input: Partial<AuthSwitchOptions['audit']> | undefined, production: boolean): AuthSwitchOptions['audit'] {
  const webhookUrl = input?.webhookUrl || null;
  const webhookSecret = input?.webhookSecret || null;
  if (webhookUrl !== null) {
    let url: URL;
    try {
      url = new URL(webhookUrl);
    } catch {
      throw new ConfigError('AUDIT_WEBHOOK_URL', 'must be an http:// or https:// URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('AUDIT_WEBHOOK_URL', 'must be an http:// or https:// URL');
    // Events name users and addresses: in production they travel encrypted.
    if (production && url.protocol !== 'https:') throw new ConfigError('AUDIT_WEBHOOK_URL', 'must be https:// in production');
    if (webhookSecret === null || webhookSecret.length < 32) {
      throw new ConfigError('AUDIT_WEBHOOK_SECRET', 'must be set, at least 32 characters, when AUDIT_WEBHOOK_URL is (it signs every delivery)');
    }
  }
  return {
    webhookUrl,
    webhookSecret: webhookUrl === null ? null : webhookSecret,
    retentionDays: numberSetting(input?.retentionDays, n.auditRetentionDays),
    webhookRetryMs: numberSetting(input?.webhookRetryMs, n.auditWebhookRetryMs),
  };
}

/** Visible ASCII (a token travels in a header), long enough that it cannot be guessed. */
const METRICS_TOKEN_SHAPE = /^[\x21-\x7e]{32,512}$/;

/** The scrape token: absent turns the route off; one given must be a real secret (never empty). */
function metricsOptions(input: AuthSwitchSettings['metrics']): AuthSwitchOptions['metrics'] {
  const token = input?.token ?? null;
  if (token !== null && !METRICS_TOKEN_SHAPE.test(token)) {
    throw new ConfigError(
      'METRICS_TOKEN',
      `must be 32 to 512 visible ASCII characters, no spaces (got ${token.length} characters); unset it to turn /metrics off`,
    );
  }
  return { token };
}

/** A text setting of a fixed shape (a cookie name, a key prefix), named by its variable when it is not. */
function matching(value: string, shape: RegExp, variable: string): string {
  if (!shape.test(value)) throw new ConfigError(variable, `must match ${shape} (got ${JSON.stringify(value.slice(0, 80))})`);
  return value;
}

/** The sync interval and the staleness limit, checked together once: the limit must exceed the interval. */
function revocationOptions(input: Partial<AuthSwitchOptions['revocation']> | undefined): AuthSwitchOptions['revocation'] {
  const syncIntervalMs = numberSetting(input?.syncIntervalMs, n.revocationSyncIntervalMs);
  const maxStalenessMs = numberSetting(
    input?.maxStalenessMs,
    n.revocationMaxStalenessMs,
    Math.max(n.revocationMaxStalenessMs.default, REVOCATION_MIN_STALENESS_INTERVALS * syncIntervalMs),
  );
  if (maxStalenessMs <= syncIntervalMs) {
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
  return {
    production,
    session: {
      secret: sessionSecret,
      cookieName: matching(input.session?.cookieName ?? d.sessionCookieName, /^[A-Za-z0-9._-]{1,64}$/, 'SESSION_COOKIE_NAME'),
      ttlSeconds: numberSetting(input.session?.ttlSeconds, n.sessionTtlSeconds),
      secureCookie: input.session?.secureCookie ?? production,
    },
    jwt: {
      keys,
      issuer: matching(jwt.issuer ?? d.issuer, /^\S{1,200}$/, 'JWT_ISSUER'),
      audience: matching(jwt.audience ?? d.audience, /^\S{1,200}$/, 'JWT_AUDIENCE'),
      clockToleranceSeconds: numberSetting(jwt.clockToleranceSeconds, n.clockToleranceSeconds),
      accessTokenTtlSeconds: numberSetting(jwt.accessTokenTtlSeconds, n.accessTokenTtlSeconds),
      refreshTokenTtlSeconds: numberSetting(jwt.refreshTokenTtlSeconds, n.refreshTokenTtlSeconds),
      refreshReuseGraceSeconds: numberSetting(jwt.refreshReuseGraceSeconds, n.refreshReuseGraceSeconds),
      jwksMaxAgeSeconds: numberSetting(jwt.jwksMaxAgeSeconds, n.jwksMaxAgeSeconds),
      verifiedTokenCacheSize: numberSetting(jwt.verifiedTokenCacheSize, n.verifiedTokenCacheSize),
    },
    redis: input.redis
      ? { url: input.redis.url, keyPrefix: matching(input.redis.keyPrefix ?? d.redisKeyPrefix, /^[A-Za-z0-9:_-]{1,64}$/, 'REDIS_KEY_PREFIX') }
      : null,
    // Leave a core to the event loop, so protected routes stay fast during a login storm.
    passwordHashConcurrency: numberSetting(input.passwordHashConcurrency, n.passwordHashConcurrency, Math.min(64, Math.max(1, availableParallelism() - 1))),
    loginLimits: {
      maxFailuresPerAccount: numberSetting(input.loginLimits?.maxFailuresPerAccount, n.maxLoginFailuresPerAccount),
      maxFailuresPerAddress: numberSetting(input.loginLimits?.maxFailuresPerAddress, n.maxLoginFailuresPerAddress),
      windowSeconds: numberSetting(input.loginLimits?.windowSeconds, n.loginFailureWindowSeconds),
    },
    registerLimits: {
      maxPerAddress: numberSetting(input.registerLimits?.maxPerAddress, n.maxRegistrationsPerAddress),
      windowSeconds: numberSetting(input.registerLimits?.windowSeconds, n.registrationWindowSeconds),
    },
    revocation: revocationOptions(input.revocation),
    mail: {
      smtpUrl: input.mail?.smtpUrl ?? null,
      from: matching(input.mail?.from ?? d.mailFrom, /^[^\r\n]{3,320}$/, 'MAIL_FROM'),
      dir: input.mail?.dir ?? join(dataDir, 'mail'),
    },
    publicUrl: input.publicUrl ? input.publicUrl.replace(/\/+$/, '') : null,
    passwordReset: {
      ttlSeconds: numberSetting(input.passwordReset?.ttlSeconds, n.passwordResetTtlSeconds),
      maxPerAccount: numberSetting(input.passwordReset?.maxPerAccount, n.maxResetRequestsPerAccount),
      maxPerAddress: numberSetting(input.passwordReset?.maxPerAddress, n.maxResetRequestsPerAddress),
      windowSeconds: numberSetting(input.passwordReset?.windowSeconds, n.resetWindowSeconds),
    },
    emailVerification: {
      ttlSeconds: numberSetting(input.emailVerification?.ttlSeconds, n.emailVerifyTtlSeconds),
      required: input.emailVerification?.required ?? d.requireEmailVerification,
    },
    clientLimits: {
      maxFailuresPerAddress: numberSetting(input.clientLimits?.maxFailuresPerAddress, n.maxClientFailuresPerAddress),
      windowSeconds: numberSetting(input.clientLimits?.windowSeconds, n.clientFailureWindowSeconds),
    },
    deviceActivityFlushMs: numberSetting(input.deviceActivityFlushMs, n.deviceActivityFlushMs),
    claims: input.claims ?? null,
    audit: auditOptions(input.audit, production),
    anomalies: { stuffingAccounts: numberSetting(input.anomalies?.stuffingAccounts, n.stuffingAccounts) },
    metrics: metricsOptions(input.metrics),
  };
}
