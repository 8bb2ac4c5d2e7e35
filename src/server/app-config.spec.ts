import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, RawEnv } from './app-config';
import { parseRouteGroups, resolveAdminGroup } from '../config/route-groups';
import { DEV_JWT_KEY_FILE, DEV_SESSION_SECRET_FILE, estimateEntropyBits } from '../config/secrets';

const made: string[] = [];
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'authswitch-config-'));
  made.push(dir);
  return dir;
};
afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** What `openssl rand -base64 48` prints. */
const strongSecret = () => randomBytes(48).toString('base64');

function writeKey(dir: string, name: string, pem: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, pem);
  return path;
}

const p256Pem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' });

/** Asserts a ConfigError naming the variable, on one line, and returns its message. */
function configError(env: RawEnv, variable: string): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message).not.toContain('\n');
    return (error as Error).message;
  }
  throw new Error(`expected a ConfigError naming ${variable}`);
}

describe('parseRouteGroups', () => {
  it('parses the default flag', () => {
    expect([...parseRouteGroups('web=session,api=jwt')]).toEqual([
      ['web', 'session'],
      ['api', 'jwt'],
    ]);
  });

  it('accepts any, and spaces around entries', () => {
    expect([...parseRouteGroups(' web=any , partner-api=jwt ')]).toEqual([
      ['web', 'any'],
      ['partner-api', 'jwt'],
    ]);
  });

  it.each([
    ['', /at least one group/],
    ['web', /malformed entry "web"/],
    ['web=session,', /malformed entry ""/],
    ['web=co$kie', /is not a strategy name/],
    ['web=session,web=jwt', /listed twice/],
    ['Web=session', /lower-case/],
    ['auth=jwt', /reserved/],
    ['web=session=jwt', /malformed/],
  ])('rejects %p', (raw, message) => {
    expect(() => parseRouteGroups(raw)).toThrow(message);
  });

  it("accepts the name of an application's own Passport strategy (checked once the app has started)", () => {
    expect(Object.fromEntries(parseRouteGroups('web=session,partner=api-key'))).toEqual({ web: 'session', partner: 'api-key' });
  });
});

describe('resolveAdminGroup', () => {
  const groups = (raw: string) => parseRouteGroups(raw);
  it('is api by default, and follows the groups when there is no api group', () => {
    expect(resolveAdminGroup(groups('web=session,api=jwt'))).toBe('api');
    expect(resolveAdminGroup(groups('web=session,partner=jwt'))).toBe('partner');
    expect(resolveAdminGroup(groups('web=session,mobile=any'))).toBe('mobile');
    expect(resolveAdminGroup(groups('web=session'))).toBe('web');
  });

  it('takes an explicit group only if it is configured', () => {
    expect(resolveAdminGroup(groups('web=session,api=jwt,ops=jwt'), 'ops')).toBe('ops');
    expect(() => resolveAdminGroup(groups('web=session'), 'ops')).toThrow(/not a group of AUTH_ROUTE_GROUPS/);
  });
});

describe('loadConfig', () => {
  it('gives the embedded defaults: SQLite in DATA_DIR, no Redis, web=session,api=jwt', () => {
    const dir = dataDir();
    const config = loadConfig({ DATA_DIR: dir });
    expect(config.database).toEqual({ type: 'sqlite', path: join(dir, 'authswitch.sqlite'), logging: false });
    expect(config.redis).toBeNull();
    expect(Object.fromEntries(config.routeGroups)).toEqual({ web: 'session', api: 'jwt' });
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.session.secureCookie).toBe(false);
    expect(config.jwt.accessTokenTtlSeconds).toBe(900);
    expect(config.loginLimits).toEqual({ maxFailuresPerAccount: 10, maxFailuresPerAddress: 100, windowSeconds: 900 });
    expect(config.registerLimits).toEqual({ maxPerAddress: 100, windowSeconds: 900 });
    expect(config.revocation).toEqual({ syncIntervalMs: 1000, maxStalenessMs: 15_000 });
    expect(config.jwt.keys.signing.algorithm).toBe('ES256');
    expect(config.adminGroup).toBe('api');
    expect(config.openApiEnabled).toBe(true);
  });

  it('reads the registration limit and the revocation sync interval', () => {
    const config = loadConfig({
      DATA_DIR: dataDir(),
      REGISTER_MAX_PER_ADDRESS: '5',
      REGISTER_WINDOW_SECONDS: '60',
      REVOCATION_SYNC_INTERVAL_MS: '250',
    });
    expect(config.registerLimits).toEqual({ maxPerAddress: 5, windowSeconds: 60 });
    expect(config.revocation.syncIntervalMs).toBe(250);
  });

  it('limits client authentications per address only, and ignores the former per-client variable', () => {
    const config = loadConfig({
      DATA_DIR: dataDir(),
      CLIENT_AUTH_MAX_FAILURES_PER_ADDRESS: '7',
      CLIENT_AUTH_FAILURE_WINDOW_SECONDS: '60',
      CLIENT_AUTH_MAX_FAILURES_PER_CLIENT: 'anything',
    });
    expect(config.clientLimits).toEqual({ maxFailuresPerAddress: 7, windowSeconds: 60 });
  });

  it('reads the revocation staleness limit, which must exceed the sync interval', () => {
    expect(loadConfig({ DATA_DIR: dataDir(), REVOCATION_MAX_STALENESS_MS: '1500', REVOCATION_SYNC_INTERVAL_MS: '200' }).revocation).toEqual({
      syncIntervalMs: 200,
      maxStalenessMs: 1500,
    });
    // A longer sync interval raises the default rather than make it invalid.
    expect(loadConfig({ DATA_DIR: dataDir(), REVOCATION_SYNC_INTERVAL_MS: '10000' }).revocation.maxStalenessMs).toBe(50_000);
  });

  it('reads the refresh reuse grace: 0 (strict) by default', () => {
    expect(loadConfig({ DATA_DIR: dataDir() }).jwt.refreshReuseGraceSeconds).toBe(0);
    expect(loadConfig({ DATA_DIR: dataDir(), REFRESH_REUSE_GRACE_SECONDS: '30' }).jwt.refreshReuseGraceSeconds).toBe(30);
  });

  it('generates development secrets once and reuses them', () => {
    const dir = dataDir();
    const first = loadConfig({ DATA_DIR: dir });
    const second = loadConfig({ DATA_DIR: dir });
    expect(existsSync(join(dir, DEV_SESSION_SECRET_FILE))).toBe(true);
    expect(readFileSync(join(dir, DEV_JWT_KEY_FILE), 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect(second.session.secret).toBe(first.session.secret);
    expect(second.jwt.keys.signing.kid).toBe(first.jwt.keys.signing.kid);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ AUTH_ROUTE_GROUPS: 'web=sess!ons' }, 'AUTH_ROUTE_GROUPS'],
    [{ ADMIN_ROUTE_GROUP: 'partner' }, 'ADMIN_ROUTE_GROUP'],
    [{ JWT_VERIFY_KEY_FILES: '/nonexistent/next.pem' }, 'JWT_VERIFY_KEY_FILES'],
    [{ JWT_VERIFIED_CACHE_SIZE: '0' }, 'JWT_VERIFIED_CACHE_SIZE'],
    [{ OPENAPI_ENABLED: 'perhaps' }, 'OPENAPI_ENABLED'],
    [{ SMTP_URL: 'mail.example.test:25' }, 'SMTP_URL'],
    [{ PUBLIC_URL: 'auth.example.test' }, 'PUBLIC_URL'],
    [{ PUBLIC_URL: 'ftp://auth.example.test' }, 'PUBLIC_URL'],
    [{ SESSION_SECRET: 'short' }, 'SESSION_SECRET'],
    [{ COOKIE_SECURE: 'maybe' }, 'COOKIE_SECURE'],
    [{ JWT_PRIVATE_KEY_FILE: '/nonexistent/key.pem' }, 'JWT_PRIVATE_KEY_FILE'],
    [{ REVOCATION_SYNC_INTERVAL_MS: '99' }, 'REVOCATION_SYNC_INTERVAL_MS'],
    [{ REVOCATION_SYNC_INTERVAL_MS: '60001' }, 'REVOCATION_SYNC_INTERVAL_MS'],
    [{ REVOCATION_SYNC_INTERVAL_MS: '1.5' }, 'REVOCATION_SYNC_INTERVAL_MS'],
    [{ REVOCATION_MAX_STALENESS_MS: '0' }, 'REVOCATION_MAX_STALENESS_MS'],
    [{ REVOCATION_MAX_STALENESS_MS: '1000' }, 'REVOCATION_MAX_STALENESS_MS'],
    [{ REVOCATION_MAX_STALENESS_MS: '500', REVOCATION_SYNC_INTERVAL_MS: '800' }, 'REVOCATION_MAX_STALENESS_MS'],
    [{ REFRESH_REUSE_GRACE_SECONDS: '-1' }, 'REFRESH_REUSE_GRACE_SECONDS'],
    [{ REFRESH_REUSE_GRACE_SECONDS: '2.5' }, 'REFRESH_REUSE_GRACE_SECONDS'],
    [{ REGISTER_MAX_PER_ADDRESS: '0' }, 'REGISTER_MAX_PER_ADDRESS'],
    [{ REGISTER_WINDOW_SECONDS: '-1' }, 'REGISTER_WINDOW_SECONDS'],
  ])('names the variable at fault for %p', (env, variable) => {
    try {
      loadConfig({ DATA_DIR: dataDir(), ...env });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe(variable);
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('in production requires real secrets and secure cookies', () => {
    const dir = dataDir();
    loadConfig({ DATA_DIR: dir }); // generates the development secrets
    const devSecret = readFileSync(join(dir, DEV_SESSION_SECRET_FILE), 'utf8').trim();
    const prod = { NODE_ENV: 'production', DATA_DIR: dir };
    expect(() => loadConfig(prod)).toThrow(/SESSION_SECRET: is required/);
    expect(() => loadConfig({ ...prod, SESSION_SECRET: devSecret })).toThrow(/SESSION_SECRET: is a development default/);
    const secret = strongSecret();
    expect(() => loadConfig({ ...prod, SESSION_SECRET: secret })).toThrow(/JWT_PRIVATE_KEY_FILE: is required/);
    expect(() => loadConfig({ ...prod, SESSION_SECRET: secret, JWT_PRIVATE_KEY_FILE: join(dir, DEV_JWT_KEY_FILE) })).toThrow(
      /JWT_PRIVATE_KEY_FILE: is the generated development key/,
    );
    const config = loadConfig({ ...prod, SESSION_SECRET: secret, JWT_PRIVATE_KEY_FILE: writeKey(dir, 'prod.pem', p256Pem()) });
    expect(config.session.secureCookie).toBe(true);
    expect(config.host).toBe('0.0.0.0');
  });

  describe('JWT_PRIVATE_KEY_FILE', () => {
    const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve });
    it.each([
      ['a P-256 key', () => p256Pem(), 'ES256'],
      ['a P-256 key in SEC1 form', () => ec('P-256').privateKey.export({ format: 'pem', type: 'sec1' }), 'ES256'],
      ['an RSA 2048 key', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }), 'RS256'],
    ])('accepts %s and parses it while loading', (_name, pem, algorithm) => {
      const dir = dataDir();
      const config = loadConfig({ DATA_DIR: dir, JWT_PRIVATE_KEY_FILE: writeKey(dir, 'k.pem', pem()) });
      expect(config.jwt.keys.signing.algorithm).toBe(algorithm);
      expect(config.jwt.keys.signing.privateKey.type).toBe('private');
      expect(config.jwt.keys.signing.publicKey.type).toBe('public');
    });

    it.each([
      ['a public key', () => ec('P-256').publicKey.export({ format: 'pem', type: 'spki' }), /holds a public key/],
      ['a P-384 key', () => ec('P-384').privateKey.export({ format: 'pem', type: 'pkcs8' }), /holds a EC secp384r1 key; use a P-256/],
      ['an RSA 1024 key', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }), /RSA 1024-bit/],
      // jsonwebtoken has no EdDSA: one verification path for every token means no Ed25519 keys.
      ['an Ed25519 key', () => generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), /holds a ed25519 key; use a P-256/],
      ['an RSA-PSS key', () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }), /RSA-PSS/],
      [
        'an encrypted PKCS#8 key',
        () => ec('P-256').privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'secret' }),
        /is an encrypted private key/,
      ],
      ['garbage', () => 'this is not a key\n', /is not a PEM private key/],
      ['an empty file', () => '', /is empty/],
    ])('refuses %s with one line naming JWT_PRIVATE_KEY_FILE, in every environment', (_name, pem, reason) => {
      const dir = dataDir();
      const path = writeKey(dir, 'k.pem', pem());
      expect(configError({ DATA_DIR: dir, JWT_PRIVATE_KEY_FILE: path }, 'JWT_PRIVATE_KEY_FILE')).toMatch(reason);
      expect(
        configError({ NODE_ENV: 'production', DATA_DIR: dir, SESSION_SECRET: strongSecret(), JWT_PRIVATE_KEY_FILE: path }, 'JWT_PRIVATE_KEY_FILE'),
      ).toMatch(reason);
    });
  });

  it('in production recognises the development key by its public key, whatever the file is called', () => {
    const dir = dataDir();
    loadConfig({ DATA_DIR: dir }); // generates the development key
    const prod = { NODE_ENV: 'production', DATA_DIR: dir, SESSION_SECRET: strongSecret() };
    const elsewhere = dataDir();

    // A byte-for-byte copy, and the same key re-encoded (SEC1 instead of PKCS#8, no trailing newline).
    const copy = join(elsewhere, 'jwt-key.pem');
    copyFileSync(join(dir, DEV_JWT_KEY_FILE), copy);
    expect(configError({ ...prod, JWT_PRIVATE_KEY_FILE: copy }, 'JWT_PRIVATE_KEY_FILE')).toMatch(/is the generated development key/);
    const reencoded = createPrivateKey(readFileSync(copy, 'utf8')).export({ format: 'pem', type: 'sec1' }).toString().trim();
    const reencodedPath = writeKey(elsewhere, 'production.key', reencoded);
    expect(configError({ ...prod, JWT_PRIVATE_KEY_FILE: reencodedPath }, 'JWT_PRIVATE_KEY_FILE')).toMatch(/is the generated development key/);

    // Nor may production accept tokens the development key signed, as a verify key.
    expect(
      configError({ ...prod, JWT_PRIVATE_KEY_FILE: writeKey(elsewhere, 'real.pem', p256Pem()), JWT_VERIFY_KEY_FILES: copy }, 'JWT_VERIFY_KEY_FILES'),
    ).toMatch(/lists the generated development key/);

    // A real key named like the development one is fine: the name proves nothing either way.
    const sameName = writeKey(elsewhere, DEV_JWT_KEY_FILE, p256Pem());
    expect(loadConfig({ ...prod, JWT_PRIVATE_KEY_FILE: sameName }).jwt.keys.signing.algorithm).toBe('ES256');
  });

  it.each([
    ['one character repeated', 'a'.repeat(32)],
    ['one character repeated, longer', 'x'.repeat(64)],
    ['two characters alternating', 'ab'.repeat(24)],
    ['a short pattern repeated', 'abc1'.repeat(12)],
    ['digits in sequence', '0123456789'.repeat(4)],
    ['a run through the alphabet', '0123456789abcdefghijklmnopqrstuvwxyz'],
    ['a long run through the alphabet', 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'],
  ])('in production refuses a guessable SESSION_SECRET: %s', (_name, secret) => {
    const dir = dataDir();
    const message = configError(
      { NODE_ENV: 'production', DATA_DIR: dir, SESSION_SECRET: secret, JWT_PRIVATE_KEY_FILE: writeKey(dir, 'k.pem', p256Pem()) },
      'SESSION_SECRET',
    );
    expect(message).toMatch(/^SESSION_SECRET: looks guessable \(about \d+ bits of entropy, 128 needed\)/);
  });

  it('accepts random secrets in the usual encodings, and keeps weak ones for development', () => {
    for (let i = 0; i < 200; i += 1) {
      expect(estimateEntropyBits(randomBytes(48).toString('base64'))).toBeGreaterThanOrEqual(128); // openssl rand -base64 48
      expect(estimateEntropyBits(randomBytes(32).toString('hex'))).toBeGreaterThanOrEqual(128); // openssl rand -hex 32
      expect(estimateEntropyBits(randomBytes(32).toString('base64url'))).toBeGreaterThanOrEqual(128);
    }
    const dir = dataDir();
    const secret = strongSecret();
    const prod = loadConfig({ NODE_ENV: 'production', DATA_DIR: dir, SESSION_SECRET: secret, JWT_PRIVATE_KEY_FILE: writeKey(dir, 'k.pem', p256Pem()) });
    expect(prod.session.secret).toBe(secret);
    expect(loadConfig({ DATA_DIR: dataDir(), SESSION_SECRET: 'a'.repeat(32) }).session.secret).toBe('a'.repeat(32));
  });

  describe('TRUST_PROXY', () => {
    it('in production refuses true, which lets clients choose their address through X-Forwarded-For', () => {
      const dir = dataDir();
      const prod = { NODE_ENV: 'production', DATA_DIR: dir, SESSION_SECRET: strongSecret(), JWT_PRIVATE_KEY_FILE: writeKey(dir, 'k.pem', p256Pem()) };
      for (const value of ['true', '0.0.0.0/0', '10.0.0.1, ::/0']) {
        const message = configError({ ...prod, TRUST_PROXY: value }, 'TRUST_PROXY');
        expect(message).toMatch(/X-Forwarded-For/);
        expect(message).toMatch(/number of proxy hops .* or the proxy addresses/);
      }
      expect(loadConfig({ ...prod, TRUST_PROXY: '1' }).trustProxy).toBe(1);
      expect(loadConfig({ ...prod, TRUST_PROXY: '2' }).trustProxy).toBe(2);
      expect(loadConfig({ ...prod, TRUST_PROXY: 'loopback' }).trustProxy).toBe('loopback');
      expect(loadConfig({ ...prod, TRUST_PROXY: '10.0.0.1, 10.0.0.0/8' }).trustProxy).toBe('10.0.0.1, 10.0.0.0/8');
      expect(loadConfig({ ...prod, TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    });

    it('still accepts true outside production', () => {
      expect(loadConfig({ DATA_DIR: dataDir(), TRUST_PROXY: 'true' }).trustProxy).toBe(true);
      expect(loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir(), TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    });
  });
});

describe('LOG_FORMAT', () => {
  it('is text outside production and json in production, unless set', () => {
    const dir = dataDir();
    const prod = { NODE_ENV: 'production', DATA_DIR: dir, SESSION_SECRET: strongSecret(), JWT_PRIVATE_KEY_FILE: writeKey(dir, 'k.pem', p256Pem()) };
    expect(loadConfig({ DATA_DIR: dir }).logFormat).toBe('text');
    expect(loadConfig({ NODE_ENV: 'test', DATA_DIR: dir }).logFormat).toBe('text');
    expect(loadConfig(prod).logFormat).toBe('json');
    expect(loadConfig({ ...prod, LOG_FORMAT: 'text' }).logFormat).toBe('text');
    expect(loadConfig({ DATA_DIR: dir, LOG_FORMAT: 'json' }).logFormat).toBe('json');
  });

  it('takes pretty as another name for text', () => {
    expect(loadConfig({ DATA_DIR: dataDir(), LOG_FORMAT: 'pretty' }).logFormat).toBe('text');
  });

  it('refuses anything else in one line naming it, and keeps LOG_LEVEL as it was', () => {
    expect(configError({ DATA_DIR: dataDir(), LOG_FORMAT: 'JSON' }, 'LOG_FORMAT')).toMatch(/json.*text.*pretty/);
    expect(configError({ DATA_DIR: dataDir(), LOG_FORMAT: 'logfmt' }, 'LOG_FORMAT')).toMatch(/json.*text.*pretty/);
    expect(loadConfig({ DATA_DIR: dataDir(), LOG_FORMAT: 'json' }).logLevel).toBe('log');
    expect(loadConfig({ DATA_DIR: dataDir(), LOG_FORMAT: 'json', LOG_LEVEL: 'silent' }).logLevel).toBe('silent');
  });
});

describe('environment values that are not what they name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'authswitch-env-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('say so in one line naming the variable, as written', () => {
    expect(() => loadConfig({ DATA_DIR: dir, SESSION_TTL_SECONDS: 'abc' })).toThrow(/^SESSION_TTL_SECONDS: must be a number \(got "abc"\)$/);
    expect(() => loadConfig({ DATA_DIR: dir, TRUST_PROXY: 'banana' })).toThrow(/^TRUST_PROXY: "banana" is not an address/);
    expect(() => loadConfig({ DATA_DIR: dir, MAIL_FROM: 'x' })).toThrow(/^MAIL_FROM: must match/);
    expect(loadConfig({ DATA_DIR: dir, TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
  });
});
