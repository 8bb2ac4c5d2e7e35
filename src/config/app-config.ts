import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './config-error';
import { AuthStrategy, parseRouteGroups } from './route-groups';
import { resolveSecrets, SigningAlgorithm } from './secrets';

/**
 * The one place that reads the environment. Everything else receives the typed
 * AppConfig through the APP_CONFIG provider.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

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
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/).default('authswitch:'),
  AUTH_ROUTE_GROUPS: z.string().default('web=session,api=jwt'),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SESSION_COOKIE_NAME: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('authswitch.sid'),
  SESSION_TTL_SECONDS: positiveInt(8 * 3600),
  COOKIE_SECURE: bool.optional(),
  TRUST_PROXY: z.string().default('false'),
  JWT_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  JWT_ISSUER: z.string().min(1).default('authswitch'),
  JWT_AUDIENCE: z.string().min(1).default('authswitch-api'),
  JWT_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(5),
  ACCESS_TOKEN_TTL_SECONDS: positiveInt(15 * 60),
  REFRESH_TOKEN_TTL_SECONDS: positiveInt(30 * 24 * 3600),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: positiveInt(10),
  LOGIN_MAX_FAILURES_PER_ADDRESS: positiveInt(100),
  LOGIN_FAILURE_WINDOW_SECONDS: positiveInt(15 * 60),
  REGISTER_MAX_PER_ADDRESS: positiveInt(100),
  REGISTER_WINDOW_SECONDS: positiveInt(15 * 60),
  REVOCATION_SYNC_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
  PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(64).optional(),
  BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i).default('100kb'),
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose', 'silent']).default('log'),
});

export { ConfigError };

export type RawEnv = Record<string, string | undefined>;

export interface AppConfig {
  env: 'development' | 'production' | 'test';
  isProduction: boolean;
  port: number;
  host: string;
  dataDir: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  bodyLimit: string;
  trustProxy: boolean | number | string;
  database:
    | { type: 'sqlite'; path: string; logging: boolean }
    | { type: 'postgres'; url: string; logging: boolean };
  redis: { url: string; keyPrefix: string } | null;
  routeGroups: ReadonlyMap<string, AuthStrategy>;
  session: {
    secret: string;
    cookieName: string;
    ttlSeconds: number;
    secureCookie: boolean;
  };
  jwt: {
    privateKeyPem: string;
    /** Parsed and checked while loading, so a bad key stops start-up before Nest boots. */
    privateKey: KeyObject;
    publicKey: KeyObject;
    /** Follows from the key type: P-256 => ES256, RSA >= 2048 => RS256, Ed25519 => EdDSA. */
    algorithm: SigningAlgorithm;
    issuer: string;
    audience: string;
    clockToleranceSeconds: number;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
  };
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
  };
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

  let routeGroups: ReadonlyMap<string, AuthStrategy>;
  try {
    routeGroups = parseRouteGroups(env.AUTH_ROUTE_GROUPS);
  } catch (error) {
    throw new ConfigError('AUTH_ROUTE_GROUPS', (error as Error).message);
  }

  const isProduction = env.NODE_ENV === 'production';
  const dataDir = resolve(env.DATA_DIR);
  const trustProxy = parseTrustProxy(env.TRUST_PROXY, isProduction);
  const secrets = resolveSecrets({
    isProduction,
    dataDir,
    sessionSecret: env.SESSION_SECRET,
    jwtPrivateKeyFile: env.JWT_PRIVATE_KEY_FILE,
  });

  return {
    env: env.NODE_ENV,
    isProduction,
    port: env.PORT,
    host: env.HOST ?? (isProduction ? '0.0.0.0' : '127.0.0.1'),
    dataDir,
    logLevel: env.LOG_LEVEL,
    bodyLimit: env.BODY_LIMIT,
    trustProxy,
    database: env.DATABASE_URL
      ? { type: 'postgres', url: env.DATABASE_URL, logging: env.DATABASE_LOGGING }
      : { type: 'sqlite', path: resolve(dataDir, 'authswitch.sqlite'), logging: env.DATABASE_LOGGING },
    redis: env.REDIS_URL ? { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX } : null,
    routeGroups,
    session: {
      secret: secrets.sessionSecret,
      cookieName: env.SESSION_COOKIE_NAME,
      ttlSeconds: env.SESSION_TTL_SECONDS,
      secureCookie: env.COOKIE_SECURE ?? isProduction,
    },
    jwt: {
      privateKeyPem: secrets.jwtKey.pem,
      privateKey: secrets.jwtKey.privateKey,
      publicKey: secrets.jwtKey.publicKey,
      algorithm: secrets.jwtKey.algorithm,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS,
      accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
    },
    // Leave a core to the event loop, so protected routes stay fast during a login storm.
    passwordHashConcurrency: env.PASSWORD_HASH_CONCURRENCY ?? Math.max(1, availableParallelism() - 1),
    loginLimits: {
      maxFailuresPerAccount: env.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      maxFailuresPerAddress: env.LOGIN_MAX_FAILURES_PER_ADDRESS,
      windowSeconds: env.LOGIN_FAILURE_WINDOW_SECONDS,
    },
    registerLimits: {
      maxPerAddress: env.REGISTER_MAX_PER_ADDRESS,
      windowSeconds: env.REGISTER_WINDOW_SECONDS,
    },
    revocation: { syncIntervalMs: env.REVOCATION_SYNC_INTERVAL_MS },
  };
}
