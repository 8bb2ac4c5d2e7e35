import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSegment } from './support/jwt';
import { freshDataDir, testEnv } from './support/environments';
import { startAppWithEnv, TestApp } from './support/test-app';

const ROOT = join(__dirname, '..');

/** `npm run cli -- keys:generate ...` through the built CLI, as an operator runs it. */
function keysGenerate(...args: string[]) {
  const result = spawnSync('node', ['dist/cli.js', 'keys:generate', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

// The rotation runbook, step by step, on one database: publish the next key, switch the signing
// key, retire the old one. Tokens keep working exactly as long as their key is configured.
describe('signing key rotation', () => {
  const dataDir = freshDataDir();
  const keyDir = freshDataDir();
  const apps: TestApp[] = [];
  const boot = async (env: Record<string, string>) => {
    const app = await startAppWithEnv(testEnv('sqlite', { DATA_DIR: dataDir, JWKS_MAX_AGE_SECONDS: '600', ...env }));
    apps.push(app);
    return app;
  };
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  const login = async (t: TestApp, user: { email: string; password: string }) => {
    const res = await t.http().post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
    return res.body.access_token as string;
  };
  const me = (t: TestApp, token: string) => t.http().get('/api/me').set('Authorization', `Bearer ${token}`);
  const jwksKids = async (t: TestApp) => {
    const res = await t.http().get('/.well-known/jwks.json').expect(200);
    expect(res.headers['cache-control']).toBe('public, max-age=600');
    return (res.body.keys as Array<{ kid: string; alg: string; use: string; d?: string }>).map((key) => {
      expect(key.use).toBe('sig');
      expect(key.d).toBeUndefined();
      return `${key.alg}:${key.kid}`;
    });
  };

  it('keys:generate writes a 0600 PKCS#8 key, prints its kid, and never overwrites a file', () => {
    const out = join(keyDir, 'spare.pem');
    const made = keysGenerate('--out', out, '--alg', 'RS256');
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(keysGenerate('--out', out).code).toBe(1);
    expect(keysGenerate('--out', join(keyDir, 'other.pem'), '--alg', 'HS256').code).toBe(2);
    expect(keysGenerate('--alg', 'ES256').code).toBe(2);
  });

  it('publishes the next key, switches to it, and retires the old one', async () => {
    const oldKey = join(keyDir, 'old.pem');
    const newKey = join(keyDir, 'new.pem');
    const oldKid = keysGenerate('--out', oldKey, '--alg', 'ES256').stdout;
    const newKid = keysGenerate('--out', newKey, '--alg', 'RS256').stdout;

    // Before: the old key signs.
    const before = await boot({ JWT_PRIVATE_KEY_FILE: oldKey });
    const user = await before.createUser();
    const oldToken = await login(before, user);
    expect(decodeSegment(oldToken, 0)).toMatchObject({ kid: oldKid, alg: 'ES256' });
    expect(await jwksKids(before)).toEqual([`ES256:${oldKid}`]);

    // 1. Publish the next key ahead of use: listed in the JWKS, signs nothing yet.
    const published = await boot({ JWT_PRIVATE_KEY_FILE: oldKey, JWT_VERIFY_KEY_FILES: newKey });
    expect(await jwksKids(published)).toEqual([`ES256:${oldKid}`, `RS256:${newKid}`]);
    expect(decodeSegment(await login(published, user), 0)).toMatchObject({ kid: oldKid });
    await me(published, oldToken).expect(200);

    // 2. Switch: the new key signs; tokens of the old key are still accepted.
    const switched = await boot({ JWT_PRIVATE_KEY_FILE: newKey, JWT_VERIFY_KEY_FILES: oldKey });
    const newToken = await login(switched, user);
    expect(decodeSegment(newToken, 0)).toMatchObject({ kid: newKid, alg: 'RS256' });
    expect(await jwksKids(switched)).toEqual([`RS256:${newKid}`, `ES256:${oldKid}`]);
    await me(switched, oldToken).expect(200);
    await me(switched, newToken).expect(200);

    // 3. Retire the old key once its tokens have expired: anything it signed is refused.
    const retired = await boot({ JWT_PRIVATE_KEY_FILE: newKey });
    expect(await jwksKids(retired)).toEqual([`RS256:${newKid}`]);
    const refused = await me(retired, oldToken).expect(401);
    expect(refused.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    await me(retired, newToken).expect(200);
  });
});
