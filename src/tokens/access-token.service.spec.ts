import { JwtModule, JwtService, JwtSecretRequestType } from '@nestjs/jwt';
import { Test } from '@nestjs/testing';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTH_SWITCH_OPTIONS } from '../config/auth-switch.options';
import { AppConfig, loadConfig } from '../server/app-config';
import { ConfigError } from '../config/config-error';
import { AccessTokenService, InvalidAccessTokenError } from './access-token.service';
import { UnknownSigningKeyError } from '../config/key-ring';

function pem(type: 'ec' | 'rsa', options: object = {}): string {
  const { privateKey } = generateKeyPairSync(type as 'ec', options as { namedCurve: string });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}
const p256 = () => pem('ec', { namedCurve: 'P-256' });
const rsa = () => pem('rsa', { modulusLength: 2048 });

const made: string[] = [];
afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function keyFile(contents: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'authswitch-keys-'));
  made.push(dir);
  const file = join(dir, 'key.pem');
  writeFileSync(file, contents, { mode: 0o600 });
  return file;
}

/** The configuration an operator gets by pointing JWT_PRIVATE_KEY_FILE (and the verify keys) at files. */
function configWith(privateKeyPem: string, env: Record<string, string> = {}, verifyKeys: string[] = []): AppConfig {
  const file = keyFile(privateKeyPem);
  const verifyFiles = verifyKeys.map(keyFile).join(',');
  return loadConfig({ DATA_DIR: join(file, '..'), JWT_PRIVATE_KEY_FILE: file, JWT_VERIFY_KEY_FILES: verifyFiles, ...env });
}

/** AccessTokenService with the JwtService the TokensModule configures, as the app builds it. */
async function serviceFor(config: AppConfig) {
  const { jwt } = config;
  const moduleRef = await Test.createTestingModule({
    imports: [
      JwtModule.register({
        secretOrKeyProvider: (type: JwtSecretRequestType, token: string | object | Buffer) =>
          type === JwtSecretRequestType.SIGN ? jwt.keys.signing.privateKey : jwt.keys.keyForToken(String(token)).publicKey,
        signOptions: { algorithm: jwt.keys.signing.algorithm, keyid: jwt.keys.signing.kid, issuer: jwt.issuer, audience: jwt.audience },
        verifyOptions: { algorithms: jwt.keys.algorithms, issuer: jwt.issuer, audience: jwt.audience, clockTolerance: jwt.clockToleranceSeconds },
      }),
    ],
    providers: [AccessTokenService, { provide: AUTH_SWITCH_OPTIONS, useValue: config }],
  }).compile();
  return { keys: jwt.keys, tokens: moduleRef.get(AccessTokenService), jwtService: moduleRef.get(JwtService) };
}

const subject = { id: '0d6c1a52-5d43-4a39-9d7e-3f3b1f3a1c11', email: 'a@example.test', name: 'A', roles: ['user'] };
const now = () => Math.floor(Date.now() / 1000);

describe('KeyRing', () => {
  it.each([
    ['P-256', p256(), 'ES256', { kty: 'EC', crv: 'P-256' }],
    ['RSA 2048', rsa(), 'RS256', { kty: 'RSA' }],
  ])('derives the algorithm from a %s key and publishes only the public half', (_name, key, alg, shape) => {
    const { keys } = configWith(key).jwt;
    expect(keys.signing.algorithm).toBe(alg);
    const [jwk] = keys.jwks().keys;
    expect(jwk).toMatchObject({ ...shape, alg, use: 'sig', kid: keys.signing.kid });
    expect(jwk).not.toHaveProperty('d');
    expect(keys.signing.kid).toMatch(/^[A-Za-z0-9_-]{43}$/); // base64url SHA-256 thumbprint
  });

  it('uses the RFC 7638 thumbprint as kid (the value jose computes)', async () => {
    const { calculateJwkThumbprint } = await import('jose');
    const { keys } = configWith(p256()).jwt;
    const { kid: _kid, alg: _alg, use: _use, ...bare } = keys.signing.jwk;
    expect(await calculateJwkThumbprint(bare as unknown as Parameters<typeof calculateJwkThumbprint>[0], 'sha256')).toBe(keys.signing.kid);
  });

  it('publishes the verify keys next to the signing key, once each, from public or private PEM files', () => {
    const next = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const nextPublic = next.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const previous = p256();
    const signing = p256();
    const { keys } = configWith(signing, {}, [nextPublic, previous, signing]).jwt;
    expect(keys.keys).toHaveLength(3);
    expect(keys.jwks().keys.map((key) => key.alg)).toEqual(['ES256', 'RS256', 'ES256']);
    expect(keys.algorithms).toEqual(['ES256', 'RS256']);
    expect(keys.jwks().keys.every((key) => !('d' in key))).toBe(true);
  });

  it('refuses bad verify keys with one line naming JWT_VERIFY_KEY_FILES', () => {
    expect(() => configWith(p256(), {}, ['not a key'])).toThrow(/^JWT_VERIFY_KEY_FILES: .* is not a PEM public or private key$/);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(() => configWith(p256(), {}, [p384])).toThrow(ConfigError);
    // Two keys in one file: the second would be ignored without a word.
    const two = [p256(), rsa()].join('');
    expect(() => configWith(p256(), {}, [two])).toThrow(/holds 2 PEM blocks; give one key per file/);
  });

  it("finds a token's key by kid and refuses an unknown kid or an alg that is not the key's", () => {
    const { keys } = configWith(p256()).jwt;
    const header = (value: object) => `${Buffer.from(JSON.stringify(value)).toString('base64url')}.e30.sig`;
    expect(keys.keyForToken(header({ alg: 'ES256', kid: keys.signing.kid })).publicKey).toBe(keys.signing.publicKey);
    expect(() => keys.keyForToken(header({ alg: 'ES256', kid: 'someone-else' }))).toThrow(UnknownSigningKeyError);
    expect(() => keys.keyForToken(header({ alg: 'RS256', kid: keys.signing.kid }))).toThrow(UnknownSigningKeyError);
    expect(() => keys.keyForToken(header({ alg: 'HS256', kid: keys.signing.kid }))).toThrow(UnknownSigningKeyError);
    expect(() => keys.keyForToken(header({ alg: 'ES256' }))).toThrow(UnknownSigningKeyError);
    expect(() => keys.keyForToken('garbage')).toThrow(UnknownSigningKeyError);
  });
});

describe('AccessTokenService', () => {
  afterEach(() => jest.restoreAllMocks());

  it.each([
    ['ES256', p256()],
    ['RS256', rsa()],
  ])('signs with JwtService and verifies %s tokens with every required claim', async (alg, key) => {
    const { tokens, keys } = await serviceFor(configWith(key));
    const issuedAt = now();
    const { token, claims } = tokens.sign(subject, issuedAt, { version: 3, familyId: 'f1', group: 'api' });
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
    expect(header).toEqual({ alg, kid: keys.signing.kid, typ: 'at+jwt' });
    await expect(tokens.verify(token)).resolves.toEqual(claims);
    expect(claims).toMatchObject({ sub: subject.id, iat: issuedAt, exp: issuedAt + 900, roles: ['user'], ver: 3, fam: 'f1', grp: 'api' });
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    expect(payload).toMatchObject({ iss: 'authswitch', aud: 'authswitch-api', jti: claims.jti });
  });

  it('verifies a token signed by a verify key (the previous key after a rotation), and refuses one whose key was retired', async () => {
    const previous = p256();
    const before = await serviceFor(configWith(previous));
    const { token } = before.tokens.sign(subject, now());
    const rotated = await serviceFor(configWith(rsa(), {}, [previous]));
    await expect(rotated.tokens.verify(token)).resolves.toMatchObject({ sub: subject.id });
    const retired = await serviceFor(configWith(rsa()));
    await expect(retired.tokens.verify(token)).rejects.toBeInstanceOf(InvalidAccessTokenError);
  });

  it('types access tokens at+jwt and refuses other JWTs signed with the same key', async () => {
    const { tokens, jwtService } = await serviceFor(configWith(p256()));
    const { token } = tokens.sign(subject, now());
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).typ).toBe('at+jwt');
    const plain = jwtService.sign({ sub: subject.id, jti: 'j', iat: now(), exp: now() + 60, email: 'a@b.test', name: 'A', roles: ['admin'] });
    await expect(tokens.verify(plain)).rejects.toThrow(/typ JWT is not at\+jwt/);
  });

  it('refuses a token signed by another deployment with the same algorithm', async () => {
    const ours = await serviceFor(configWith(p256()));
    const theirs = await serviceFor(configWith(p256()));
    await expect(ours.tokens.verify(theirs.tokens.sign(subject, now()).token)).rejects.toBeInstanceOf(InvalidAccessTokenError);
  });

  it('refuses a token for another audience or issuer of the same key', async () => {
    const key = p256();
    const verifier = await serviceFor(configWith(key));
    const otherAudience = await serviceFor(configWith(key, { JWT_AUDIENCE: 'billing' }));
    const otherIssuer = await serviceFor(configWith(key, { JWT_ISSUER: 'elsewhere' }));
    await expect(verifier.tokens.verify(otherAudience.tokens.sign(subject, now()).token)).rejects.toThrow(InvalidAccessTokenError);
    await expect(verifier.tokens.verify(otherIssuer.tokens.sign(subject, now()).token)).rejects.toThrow(InvalidAccessTokenError);
  });

  it('still enforces expiry for a token it has already verified and remembered', async () => {
    const { tokens } = await serviceFor(configWith(p256(), { ACCESS_TOKEN_TTL_SECONDS: '60', JWT_CLOCK_TOLERANCE_SECONDS: '0' }));
    const { token } = tokens.sign(subject, now());
    await tokens.verify(token); // now remembered
    expect(tokens.recall(token)).toBeDefined();
    const later = Date.now() + 61_000;
    jest.spyOn(Date, 'now').mockReturnValue(later);
    expect(() => tokens.recall(token)).toThrow('token expired');
  });

  it('remembers up to JWT_VERIFIED_CACHE_SIZE tokens, keyed by the whole token', async () => {
    const { tokens } = await serviceFor(configWith(p256(), { JWT_VERIFIED_CACHE_SIZE: '3' }));
    const signed = Array.from({ length: 4 }, () => tokens.sign(subject, now()).token);
    for (const token of signed) await tokens.verify(token);
    expect(tokens.rememberedCount).toBe(3);
    expect(tokens.recall(signed[0])).toBeUndefined(); // the least recently used went first
    expect(tokens.recall(signed[3])).toBeDefined();
    // One character changed anywhere is another token, never a hit.
    const changed = signed[3].slice(0, -2) + (signed[3].endsWith('AA') ? 'BB' : 'AA');
    expect(tokens.recall(changed)).toBeUndefined();
  });

  it('JwtService never signs or verifies with a string secret: the key ring hands it KeyObjects', async () => {
    const { jwtService, keys } = await serviceFor(configWith(p256()));
    const token = jwtService.sign({ sub: 'x' });
    expect(jwtService.verify(token)).toMatchObject({ sub: 'x', iss: 'authswitch', aud: 'authswitch-api' });
    expect(keys.signing.privateKey.type).toBe('private');
    expect(createPublicKey(keys.signing.privateKey).equals(keys.signing.publicKey)).toBe(true);
  });
});
