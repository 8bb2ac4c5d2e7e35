import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig, loadConfig } from '../config/app-config';
import { ConfigError } from '../config/config-error';
import { AccessTokenService, InvalidAccessTokenError } from './access-token.service';
import { SigningKeyService } from './signing-key.service';

function pem(type: 'ec' | 'rsa' | 'ed25519', options: object = {}): string {
  const { privateKey } = generateKeyPairSync(type as 'ec', options as { namedCurve: string });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

const made: string[] = [];
afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** The configuration an operator gets by pointing JWT_PRIVATE_KEY_FILE at this key. */
function configWith(privateKeyPem: string, env: Record<string, string> = {}): AppConfig {
  const dir = mkdtempSync(join(tmpdir(), 'authswitch-keys-'));
  made.push(dir);
  const keyFile = join(dir, 'jwt-key.pem');
  writeFileSync(keyFile, privateKeyPem, { mode: 0o600 });
  return loadConfig({ DATA_DIR: dir, JWT_PRIVATE_KEY_FILE: keyFile, ...env });
}

async function serviceFor(config: AppConfig) {
  const keys = new SigningKeyService(config);
  await keys.onModuleInit();
  return { keys, tokens: new AccessTokenService(config, keys) };
}

const subject = { id: '0d6c1a52-5d43-4a39-9d7e-3f3b1f3a1c11', email: 'a@example.test', name: 'A', roles: ['user'] };
const now = () => Math.floor(Date.now() / 1000);

describe('SigningKeyService', () => {
  it.each([
    ['P-256', pem('ec', { namedCurve: 'P-256' }), 'ES256', { kty: 'EC', crv: 'P-256' }],
    ['RSA 2048', pem('rsa', { modulusLength: 2048 }), 'RS256', { kty: 'RSA' }],
    ['Ed25519', pem('ed25519'), 'EdDSA', { kty: 'OKP', crv: 'Ed25519' }],
  ])('derives the algorithm from a %s key and publishes only the public half', async (_name, key, alg, shape) => {
    const { keys } = await serviceFor(configWith(key));
    expect(keys.algorithm).toBe(alg);
    const [jwk] = keys.jwks().keys;
    expect(jwk).toMatchObject({ ...shape, alg, use: 'sig', kid: keys.kid });
    expect(jwk).not.toHaveProperty('d');
    expect(keys.kid).toMatch(/^[A-Za-z0-9_-]{43}$/); // base64url SHA-256 thumbprint
  });

  it('never sees a key it cannot sign with: loading the configuration refuses it first', () => {
    expect(() => configWith(pem('ec', { namedCurve: 'P-384' }))).toThrow(ConfigError);
    expect(() => configWith(pem('rsa', { modulusLength: 1024 }))).toThrow(ConfigError);
    expect(() => configWith('not a key')).toThrow(/JWT_PRIVATE_KEY_FILE/);
  });

  it('uses the key objects parsed by the configuration, without parsing again', () => {
    const config = configWith(pem('ed25519'));
    const keys = new SigningKeyService(config);
    expect(keys.privateKey).toBe(config.jwt.privateKey);
    expect(keys.publicKey).toBe(config.jwt.publicKey);
    expect(keys.algorithm).toBe('EdDSA');
  });
});

describe('AccessTokenService', () => {
  afterEach(() => jest.restoreAllMocks());

  it.each([
    ['ES256', pem('ec', { namedCurve: 'P-256' })],
    ['RS256', pem('rsa', { modulusLength: 2048 })],
    ['EdDSA', pem('ed25519')],
  ])('signs and verifies %s tokens with every required claim', async (alg, key) => {
    const { tokens, keys } = await serviceFor(configWith(key));
    const issuedAt = now();
    const { token, claims } = await tokens.sign(subject, issuedAt);
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
    expect(header).toEqual({ alg, kid: keys.kid, typ: 'JWT' });
    await expect(tokens.verify(token)).resolves.toEqual(claims);
    expect(claims).toMatchObject({ sub: subject.id, iat: issuedAt, exp: issuedAt + 900, roles: ['user'] });
  });

  it('refuses a token signed by another deployment with the same algorithm', async () => {
    const ours = await serviceFor(configWith(pem('ec', { namedCurve: 'P-256' })));
    const theirs = await serviceFor(configWith(pem('ec', { namedCurve: 'P-256' })));
    const { token } = await theirs.tokens.sign(subject, now());
    await expect(ours.tokens.verify(token)).rejects.toBeInstanceOf(InvalidAccessTokenError);
  });

  it('refuses a token for another audience or issuer of the same key', async () => {
    const key = pem('ec', { namedCurve: 'P-256' });
    const verifier = await serviceFor(configWith(key));
    const otherAudience = await serviceFor(configWith(key, { JWT_AUDIENCE: 'billing' }));
    const otherIssuer = await serviceFor(configWith(key, { JWT_ISSUER: 'elsewhere' }));
    await expect(verifier.tokens.verify((await otherAudience.tokens.sign(subject, now())).token)).rejects.toThrow(InvalidAccessTokenError);
    await expect(verifier.tokens.verify((await otherIssuer.tokens.sign(subject, now())).token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('still enforces expiry for a token it has already verified and cached', async () => {
    const { tokens } = await serviceFor(configWith(pem('ec', { namedCurve: 'P-256' }), { ACCESS_TOKEN_TTL_SECONDS: '60', JWT_CLOCK_TOLERANCE_SECONDS: '0' }));
    const { token } = await tokens.sign(subject, now());
    await tokens.verify(token); // now cached
    const later = Date.now() + 61_000;
    jest.spyOn(Date, 'now').mockReturnValue(later);
    await expect(tokens.verify(token)).rejects.toThrow('token expired');
  });
});
