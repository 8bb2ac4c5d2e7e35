import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './app-config';
import { parseRouteGroups } from './route-groups';
import { DEV_JWT_KEY_FILE, DEV_SESSION_SECRET_FILE } from './secrets';

const dataDir = () => mkdtempSync(join(tmpdir(), 'authswitch-config-'));

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
    ['web=cookie', /unknown strategy "cookie"/],
    ['web=session,web=jwt', /listed twice/],
    ['Web=session', /lower-case/],
    ['auth=jwt', /reserved/],
    ['web=session=jwt', /malformed/],
  ])('rejects %p', (raw, message) => {
    expect(() => parseRouteGroups(raw)).toThrow(message);
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
  });

  it('generates development secrets once and reuses them', () => {
    const dir = dataDir();
    const first = loadConfig({ DATA_DIR: dir });
    const second = loadConfig({ DATA_DIR: dir });
    expect(existsSync(join(dir, DEV_SESSION_SECRET_FILE))).toBe(true);
    expect(readFileSync(join(dir, DEV_JWT_KEY_FILE), 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect(second.session.secret).toBe(first.session.secret);
    expect(second.jwt.privateKeyPem).toBe(first.jwt.privateKeyPem);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ AUTH_ROUTE_GROUPS: 'web=sessions' }, 'AUTH_ROUTE_GROUPS'],
    [{ SESSION_SECRET: 'short' }, 'SESSION_SECRET'],
    [{ COOKIE_SECURE: 'maybe' }, 'COOKIE_SECURE'],
    [{ JWT_PRIVATE_KEY_FILE: '/nonexistent/key.pem' }, 'JWT_PRIVATE_KEY_FILE'],
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
    expect(() => loadConfig({ ...prod, SESSION_SECRET: 'x'.repeat(40) })).toThrow(/JWT_PRIVATE_KEY_FILE: is required/);
    expect(() => loadConfig({ ...prod, SESSION_SECRET: 'x'.repeat(40), JWT_PRIVATE_KEY_FILE: join(dir, DEV_JWT_KEY_FILE) })).toThrow(
      /JWT_PRIVATE_KEY_FILE: points at the generated development key/,
    );
  });
});
