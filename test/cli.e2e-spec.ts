import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/server/app-config';
import { freshDataDir } from './support/environments';
import { startApp, uniqueEmail } from './support/test-app';
import { eventually } from './support/waiting';

const ROOT = join(__dirname, '..');

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' });

/** Asserts that start-up stopped with exit code 1 and exactly one stderr line, and returns it. */
function expectOneLineConfigError(result: { code: number | null; stderr: string }, variable: string): string {
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toEqual([expect.stringMatching(new RegExp(`^Configuration error: ${variable}: `))]);
  return lines[0];
}

function run(command: string, args: string[], env: Record<string, string>) {
  const result = spawnSync(command, args, { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'error', ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

// The operator's side: the CLI and start-up errors, through the real built entry points.
describe('CLI and start-up', () => {
  it('users:create creates the first admin, who can then log in on the same database', async () => {
    const dataDir = freshDataDir();
    const email = uniqueEmail('first-admin');
    const created = run('npm', ['run', 'cli', '--', 'users:create', '--email', email, '--password', 'admin password 1', '--roles', 'admin,user'], {
      DATA_DIR: dataDir,
    });
    expect(created.code).toBe(0);
    const id = created.stdout.trim().split('\n').pop();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const again = run('node', ['dist/cli.js', 'users:create', '--email', email.toUpperCase(), '--password', 'admin password 1'], { DATA_DIR: dataDir });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already registered/);

    const t = await startApp('sqlite', { DATA_DIR: dataDir });
    try {
      const login = await t.http().post('/web/auth/login').send({ email, password: 'admin password 1' }).expect(200);
      expect(login.body.user).toEqual({ id, email, name: '', roles: ['admin', 'user'] });
    } finally {
      await t.close();
    }
  });

  it('users:create rejects bad input with a clear message', () => {
    const result = run('node', ['dist/cli.js', 'users:create', '--email', 'nope', '--password', 'short'], { DATA_DIR: freshDataDir() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/email must be a valid email address/);
    expect(result.stderr).toMatch(/password must be 8 to 256 characters/);
  });

  it('users:list, users:disable, users:enable and users:delete administer accounts of a running server', async () => {
    const dataDir = freshDataDir();
    const marker = `cli${Date.now()}`;
    const email = uniqueEmail(marker);
    const created = run('node', ['dist/cli.js', 'users:create', '--email', email, '--password', 'cli user password', '--name', 'Cli User'], {
      DATA_DIR: dataDir,
    });
    expect(created.code).toBe(0);
    const id = created.stdout.trim().split('\n').pop()!;
    const cli = (...args: string[]) => run('node', ['dist/cli.js', ...args], { DATA_DIR: dataDir });

    const t = await startApp('sqlite', { DATA_DIR: dataDir });
    try {
      const login = () => t.http().post('/api/auth/login').send({ email, password: 'cli user password' });
      const token = (await login().expect(200)).body.access_token as string;

      const listed = cli('users:list', '--query', marker.toUpperCase());
      expect(listed.code).toBe(0);
      const lines = listed.stdout
        .trim()
        .split('\n')
        .filter((line) => line.startsWith('{'));
      expect(lines.map((line) => JSON.parse(line))).toEqual([expect.objectContaining({ id, email, name: 'Cli User', disabled: false })]);
      expect(cli('users:list').stdout).toContain(id);

      const disabled = cli('users:disable', '--id', id, '--reason', 'Disabled from the CLI');
      expect(disabled.code).toBe(0);
      expect(JSON.parse(disabled.stdout.trim().split('\n').pop()!)).toMatchObject({ id, disabled: true, disabledReason: 'Disabled from the CLI' });
      expect((await login().expect(403)).body.message).toBe('Account disabled');
      // Without Redis the server reads the revocation log every second.
      await eventually(async () => (await t.http().get('/api/me').set('Authorization', `Bearer ${token}`)).status === 401);

      expect(cli('users:enable', '--id', id).code).toBe(0);
      await login().expect(200);

      const deleted = cli('users:delete', '--id', id);
      expect(deleted.code).toBe(0);
      expect(deleted.stdout).toContain(`deleted ${id}`);
      await login().expect(401);
      const again = cli('users:delete', '--id', id);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`no user ${id}`);

      // The trail of the account outlives it, newest first, one JSON object per line, without its email.
      const trail = cli('events:list', '--user-id', id);
      expect(trail.code).toBe(0);
      const events = trail.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { type: string; userId: string });
      expect(events.map((event) => event.type)).toEqual(
        expect.arrayContaining(['user.registered', 'login.succeeded', 'user.disabled', 'user.enabled', 'user.deleted']),
      );
      expect(events[0].type).toBe('user.deleted');
      expect(events.every((event) => event.userId === id)).toBe(true);
      expect(trail.stdout).not.toContain(email);
      const onlyDisabled = cli('events:list', '--type', 'user.disabled', '--since', '2020-01-01T00:00:00Z');
      expect(
        onlyDisabled.stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line).type),
      ).toEqual(expect.arrayContaining(['user.disabled']));
      expect(
        new Set(
          onlyDisabled.stdout
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line).type),
        ),
      ).toEqual(new Set(['user.disabled']));
      expect(cli('events:list', '--type', 'nope').code).toBe(2);
      expect(cli('events:list', '--since', 'yesterday').code).toBe(2);
    } finally {
      await t.close();
    }
  });

  it('users:disable, users:enable and users:delete refuse bad arguments (2) before opening anything', () => {
    const dataDir = freshDataDir();
    const cli = (...args: string[]) => run('node', ['dist/cli.js', ...args], { DATA_DIR: dataDir });
    const noReason = cli('users:disable', '--id', '0b8e4d4e-3b1e-4c63-9b1e-2f1f6f0c9a11');
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/reason is required/);
    expect(noReason.stderr).toMatch(/users:disable --id ID --reason R/);
    const past = cli('users:disable', '--id', '0b8e4d4e-3b1e-4c63-9b1e-2f1f6f0c9a11', '--reason', 'r', '--until', '2000-01-01T00:00:00Z');
    expect(past.code).toBe(2);
    expect(past.stderr).toMatch(/until must be in the future/);
    expect(cli('users:enable', '--id', 'nope').stderr).toMatch(/--id must be a user id/);
    expect(cli('users:delete').code).toBe(2);
  });

  it('refuses to start with a malformed AUTH_ROUTE_GROUPS, in one line naming it', () => {
    const result = run('node', ['dist/main.js'], { DATA_DIR: freshDataDir(), AUTH_ROUTE_GROUPS: 'web=session,api=magic', PORT: '0' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^Configuration error: AUTH_ROUTE_GROUPS: group "api" uses strategy "magic", which is not a registered Passport strategy/),
    ]);
  });

  it('refuses to start in production without secrets, or with the generated development ones', () => {
    const dataDir = freshDataDir();
    const missing = run('node', ['dist/main.js'], { DATA_DIR: dataDir, NODE_ENV: 'production', SESSION_SECRET: '', JWT_PRIVATE_KEY_FILE: '' });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^Configuration error: SESSION_SECRET: /);

    const keyFile = join(dataDir, 'prod-key.pem');
    writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const placeholder = run('node', ['dist/main.js'], {
      DATA_DIR: dataDir,
      NODE_ENV: 'production',
      SESSION_SECRET: 'change-me-to-at-least-32-random-characters',
      JWT_PRIVATE_KEY_FILE: keyFile,
    });
    expect(placeholder.code).toBe(1);
    expect(placeholder.stderr.trim()).toMatch(/^Configuration error: SESSION_SECRET: is a development default/);
  });

  // Before, the key was parsed while Nest built its modules, so a bad key printed a stack trace.
  it.each([
    ['a public key', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' })],
    ['a P-384 key', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' })],
    ['an RSA 1024 key', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' })],
    [
      'an encrypted PKCS#8 key',
      () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw' }),
    ],
    ['garbage', () => randomBytes(64)],
    ['an empty file', () => ''],
  ])('refuses to start with %s as JWT_PRIVATE_KEY_FILE, in one line naming it', (_name, contents) => {
    const dataDir = freshDataDir();
    const keyFile = join(dataDir, 'jwt-key.pem');
    writeFileSync(keyFile, contents());
    const result = run('node', ['dist/main.js'], { DATA_DIR: dataDir, JWT_PRIVATE_KEY_FILE: keyFile, PORT: '0' });
    expect(expectOneLineConfigError(result, 'JWT_PRIVATE_KEY_FILE')).toContain(keyFile);
    expect(result.stdout).not.toMatch(/listening/);
  });

  it('refuses to start in production with TRUST_PROXY=true, a guessable SESSION_SECRET or a renamed copy of the development key', () => {
    const dataDir = freshDataDir();
    const keyFile = join(dataDir, 'prod-key.pem');
    writeFileSync(keyFile, p256());
    const prod = { DATA_DIR: dataDir, NODE_ENV: 'production', SESSION_SECRET: randomBytes(48).toString('base64'), JWT_PRIVATE_KEY_FILE: keyFile, PORT: '0' };

    const trustAll = run('node', ['dist/main.js'], { ...prod, TRUST_PROXY: 'true' });
    expect(expectOneLineConfigError(trustAll, 'TRUST_PROXY')).toMatch(/number of proxy hops .* or the proxy addresses/);

    const weak = run('node', ['dist/main.js'], { ...prod, SESSION_SECRET: '0123456789'.repeat(4) });
    expect(expectOneLineConfigError(weak, 'SESSION_SECRET')).toMatch(/looks guessable/);

    // Development configuration generates DATA_DIR/dev-jwt-private-key.pem; copy it elsewhere.
    loadConfig({ DATA_DIR: dataDir });
    const copied = join(dataDir, 'jwt-production.pem');
    copyFileSync(join(dataDir, 'dev-jwt-private-key.pem'), copied);
    const devKey = run('node', ['dist/main.js'], { ...prod, JWT_PRIVATE_KEY_FILE: copied });
    expect(expectOneLineConfigError(devKey, 'JWT_PRIVATE_KEY_FILE')).toMatch(/is the generated development key/);
  });
});
