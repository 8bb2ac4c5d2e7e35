import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveModuleOptions } from '../auth-switch/auth-switch.module';
import { loadConfig } from '../server/app-config';
import { NUMBER_SETTINGS, numberSetting, optionForVariable } from './settings';

describe('settings are defined and checked once', () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'authswitch-settings-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('holds the server and a host to the same bounds, each named the way its reader set it', () => {
    expect(() => loadConfig({ DATA_DIR: dataDir(), ACCESS_TOKEN_TTL_SECONDS: '0' })).toThrow(
      /^ACCESS_TOKEN_TTL_SECONDS: must be a whole number at least 1 \(got 0\)$/,
    );
    expect(() => resolveModuleOptions({ dataDir: dataDir(), jwt: { accessTokenTtlSeconds: 0 } })).toThrow(
      /^AuthSwitchModule option jwt\.accessTokenTtlSeconds: must be a whole number at least 1 \(got 0\)$/,
    );
    expect(() => loadConfig({ DATA_DIR: dataDir(), JWT_CLOCK_TOLERANCE_SECONDS: '301' })).toThrow(
      /JWT_CLOCK_TOLERANCE_SECONDS: must be a whole number from 0 to 300/,
    );
    expect(() => resolveModuleOptions({ dataDir: dataDir(), jwt: { clockToleranceSeconds: 301 } })).toThrow(
      /option jwt\.clockToleranceSeconds: must be a whole number from 0 to 300/,
    );
  });

  it('refuses what is not a number, a fraction where a whole number is due, and a shape that does not fit', () => {
    expect(() => loadConfig({ DATA_DIR: dataDir(), LOGIN_MAX_FAILURES_PER_ACCOUNT: 'ten' })).toThrow(
      /LOGIN_MAX_FAILURES_PER_ACCOUNT: must be a number \(got "ten"\)/,
    );
    expect(() => resolveModuleOptions({ dataDir: dataDir(), loginLimits: { maxFailuresPerAccount: 2.5 } })).toThrow(
      /option loginLimits\.maxFailuresPerAccount/,
    );
    expect(() => resolveModuleOptions({ dataDir: dataDir(), session: { cookieName: 'a b' } })).toThrow(/option session\.cookieName: must match/);
  });

  it('takes the default when a setting is absent or empty', () => {
    const config = loadConfig({ DATA_DIR: dataDir(), SESSION_TTL_SECONDS: '' });
    expect(config.session.ttlSeconds).toBe(NUMBER_SETTINGS.sessionTtlSeconds.default);
    expect(numberSetting(undefined, NUMBER_SETTINGS.refreshReuseGraceSeconds)).toBe(0);
  });

  it('names every environment variable of the table as a module option', () => {
    for (const spec of Object.values(NUMBER_SETTINGS)) if (spec.env) expect(optionForVariable(spec.env)).toBe(spec.option);
  });

  it('takes METRICS_TOKEN (metrics.token) as a real secret or not at all: never empty, short or with spaces', () => {
    const token = 'm'.repeat(40);
    expect(loadConfig({ DATA_DIR: dataDir() }).metrics).toEqual({ token: null });
    expect(loadConfig({ DATA_DIR: dataDir(), METRICS_TOKEN: token }).metrics).toEqual({ token });
    expect(resolveModuleOptions({ dataDir: dataDir(), metrics: { token } }).metrics).toEqual({ token });
    expect(() => loadConfig({ DATA_DIR: dataDir(), METRICS_TOKEN: '' })).toThrow(/^METRICS_TOKEN: must be 32 to 512 visible ASCII characters/);
    expect(() => loadConfig({ DATA_DIR: dataDir(), METRICS_TOKEN: 'short' })).toThrow(/^METRICS_TOKEN: .*got 5 characters/);
    expect(() => resolveModuleOptions({ dataDir: dataDir(), metrics: { token: `${token} x` } })).toThrow(/^AuthSwitchModule option metrics\.token: must be 32/);
  });
});

describe('module options that look resolved', () => {
  it('are checked all the same: a weak secret with a key ring in production is refused', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'authswitch-settings-'));
    try {
      const development = resolveModuleOptions({ dataDir, production: false });
      expect(() =>
        resolveModuleOptions({ ...development, production: true, session: { ...development.session, secret: 'changeme-changeme-changeme-changeme' } }),
      ).toThrow(/AuthSwitchModule option session\.secret/);
      // Already resolved options pass through unchanged in meaning.
      expect(resolveModuleOptions(development).loginLimits).toEqual(development.loginLimits);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
