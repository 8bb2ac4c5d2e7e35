import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { algorithmFor, KeyRing, PublishedKey, publishedKey, SigningKey } from './key-ring';
import { ConfigError } from './config-error';

/** Names of the secrets generated for development; production refuses them. */
export const DEV_SESSION_SECRET_FILE = 'dev-session-secret';
export const DEV_JWT_KEY_FILE = 'dev-jwt-private-key.pem';

/** Placeholders shipped in .env.example: a deployment that copied them as is must not start. */
const PLACEHOLDER_SECRETS = ['change-me-to-at-least-32-random-characters', 'development-secret'];

/** The estimated entropy a production SESSION_SECRET needs (the strength of a 128-bit key). */
export const MIN_SESSION_SECRET_BITS = 128;

export type { SigningAlgorithm } from './key-ring';

interface SecretInputs {
  isProduction: boolean;
  dataDir: string;
  sessionSecret?: string;
  jwtPrivateKeyFile?: string;
  /** Keys that are accepted and published but never sign (the next key, previous keys). */
  jwtVerifyKeyFiles?: string[];
}

/**
 * Production refuses a session secret that is missing, a shipped placeholder, the one generated
 * for development, or guessable: anyone who can guess it can forge session cookies.
 */
export function assertProductionSessionSecret(sessionSecret: string | undefined, dataDir: string): void {
  if (!sessionSecret) {
    throw new ConfigError('SESSION_SECRET', 'is required in production');
  }
  const generated = existsSync(join(dataDir, DEV_SESSION_SECRET_FILE)) ? readFileSync(join(dataDir, DEV_SESSION_SECRET_FILE), 'utf8').trim() : null;
  if (PLACEHOLDER_SECRETS.includes(sessionSecret) || sessionSecret === generated) {
    throw new ConfigError('SESSION_SECRET', 'is a development default; set a fresh random secret');
  }
  // Length alone says nothing: 32 copies of one letter pass a length check and can be guessed at once.
  const bits = estimateEntropyBits(sessionSecret);
  if (bits < MIN_SESSION_SECRET_BITS) {
    throw new ConfigError(
      'SESSION_SECRET',
      `looks guessable (about ${Math.floor(bits)} bits of entropy, ${MIN_SESSION_SECRET_BITS} needed); ` + 'generate one with: openssl rand -base64 48',
    );
  }
}

/**
 * Development: a missing secret is generated once into DATA_DIR and reused, so sessions and
 * tokens survive restarts. Production: a missing, placeholder, guessable or generated secret
 * stops start-up.
 */
export function resolveSecrets(input: SecretInputs): { sessionSecret: string; keyRing: KeyRing; signingKeyPem: string } {
  const devSecretPath = join(input.dataDir, DEV_SESSION_SECRET_FILE);
  const devKeyPath = join(input.dataDir, DEV_JWT_KEY_FILE);

  if (input.isProduction) {
    assertProductionSessionSecret(input.sessionSecret, input.dataDir);
    if (!input.jwtPrivateKeyFile) {
      throw new ConfigError('JWT_PRIVATE_KEY_FILE', 'is required in production');
    }
  }

  const signingKeyPem = input.jwtPrivateKeyFile
    ? readKeyFile(input.jwtPrivateKeyFile, 'JWT_PRIVATE_KEY_FILE')
    : readOrCreate(devKeyPath, () => generatePrivateKeyPem('ES256'));
  const jwtKey = parseSigningKey(signingKeyPem, input.jwtPrivateKeyFile ?? devKeyPath);
  const verifyKeys = (input.jwtVerifyKeyFiles ?? []).map((file) => parseVerifyKey(readKeyFile(file, 'JWT_VERIFY_KEY_FILES'), file));

  // The development key sits unprotected in DATA_DIR; a copy under another name is still that
  // key, so compare the public keys, not the paths.
  if (input.isProduction && existsSync(devKeyPath)) {
    const devFingerprint = fingerprintOfKeyFile(devKeyPath);
    if (devFingerprint !== null && devFingerprint === publicKeyFingerprint(jwtKey.publicKey)) {
      throw new ConfigError('JWT_PRIVATE_KEY_FILE', `is the generated development key (same public key as ${devKeyPath}); use a key of its own`);
    }
    // A verify key is trusted as much as the signing key: whoever holds the development key
    // (readable in DATA_DIR) could sign tokens with it.
    const devVerifyKey = verifyKeys.find((key) => publicKeyFingerprint(key.publicKey) === devFingerprint);
    if (devFingerprint !== null && devVerifyKey) {
      throw new ConfigError(
        'JWT_VERIFY_KEY_FILES',
        `lists the generated development key (same public key as ${devKeyPath}); production must not accept tokens it signed`,
      );
    }
  }

  return {
    sessionSecret: input.sessionSecret ?? readOrCreate(devSecretPath, () => randomBytes(48).toString('base64url')),
    keyRing: new KeyRing(jwtKey, verifyKeys),
    signingKeyPem,
  };
}

/** A new unencrypted PKCS#8 PEM private key for the algorithm (what `keys:generate` writes). */
export function generatePrivateKeyPem(algorithm: 'ES256' | 'RS256'): string {
  const pair = algorithm === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/**
 * Parses a PEM private key and derives the JWT algorithm from it, so a key can never be used
 * with the wrong algorithm. Every refusal is one line naming JWT_PRIVATE_KEY_FILE.
 */
export function parseSigningKey(pem: string, source: string): SigningKey {
  const fail = (reason: string): never => {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', `${source} ${reason}`);
  };
  if (pem.trim() === '') fail('is empty');
  // Refused rather than prompted for: the server starts unattended, and a passphrase kept next
  // to the key would protect nothing.
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(pem)) {
    fail('is an encrypted private key; give an unencrypted PKCS#8 key and protect the file with permissions');
  }
  if (/-----BEGIN (RSA )?PUBLIC KEY-----|-----BEGIN CERTIFICATE-----/.test(pem)) {
    fail('holds a public key or certificate; it must hold the private key');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    return fail('is not a PEM private key');
  }
  const algorithm = algorithmFor(privateKey);
  if (!algorithm) {
    return fail(`holds a ${describeKey(privateKey)} key; use a P-256 (ES256) or RSA of 2048 bits or more (RS256) private key`);
  }
  return { ...publishedKey(createPublicKey(privateKey), algorithm), privateKey };
}

/**
 * A key of JWT_VERIFY_KEY_FILES: a PEM public key (SPKI) or private key (PKCS#8), of which only
 * the public part is kept. The same key types as the signing key; one line naming the variable
 * for anything else.
 */
export function parseVerifyKey(pem: string, source: string): PublishedKey {
  const fail = (reason: string): never => {
    throw new ConfigError('JWT_VERIFY_KEY_FILES', `${source} ${reason}`);
  };
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(pem)) fail('is an encrypted private key; give the public key instead');
  // One key per file: a second PEM block would be silently ignored by the parser.
  const blocks = pem.match(/-----BEGIN [A-Z ]+-----/g)?.length ?? 0;
  if (blocks > 1) fail(`holds ${blocks} PEM blocks; give one key per file (list several files, comma-separated)`);
  let publicKey: KeyObject;
  try {
    publicKey = /PRIVATE KEY-----/.test(pem) ? createPublicKey(createPrivateKey({ key: pem, format: 'pem' })) : createPublicKey({ key: pem, format: 'pem' });
  } catch {
    return fail('is not a PEM public or private key');
  }
  const algorithm = algorithmFor(publicKey);
  if (!algorithm) return fail(`holds a ${describeKey(publicKey)} key; use a P-256 (ES256) or RSA of 2048 bits or more (RS256) key`);
  return publishedKey(publicKey, algorithm);
}

/** SHA-256 of the public key's SPKI DER: the same for every copy and encoding of a key pair. */
export function publicKeyFingerprint(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('hex');
}

/**
 * A rough upper bound on a secret's entropy: Shannon entropy per character, times the length.
 * It is taken over the characters and over the steps between neighbouring characters, and the
 * lower of the two counts, so both repetition ("aaaa", "abab") and runs ("0123", "abcd") score low.
 */
export function estimateEntropyBits(secret: string): number {
  const chars = [...secret];
  if (chars.length < 2) return 0;
  const codes = chars.map((char) => char.codePointAt(0) ?? 0);
  const steps = codes.slice(1).map((code, index) => code - codes[index]);
  return Math.min(shannonBitsPerSymbol(codes), shannonBitsPerSymbol(steps)) * chars.length;
}

function shannonBitsPerSymbol(symbols: number[]): number {
  const counts = new Map<number, number>();
  for (const symbol of symbols) counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / symbols.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return `EC ${details?.namedCurve ?? 'unknown curve'}`;
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    return `${key.asymmetricKeyType.toUpperCase()} ${details?.modulusLength ?? '?'}-bit`;
  }
  return key.asymmetricKeyType ?? 'unknown';
}

function fingerprintOfKeyFile(path: string): string | null {
  try {
    return publicKeyFingerprint(createPublicKey(createPrivateKey({ key: readFileSync(path, 'utf8'), format: 'pem' })));
  } catch {
    return null; // an unreadable development key cannot be the one configured
  }
}

function readKeyFile(path: string, variable: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(variable, `cannot read ${path} (${(error as NodeJS.ErrnoException).code})`);
  }
}

function readOrCreate(path: string, create: () => string): string {
  if (existsSync(path)) {
    return readFileSync(path, 'utf8').trim();
  }
  mkdirSync(resolve(path, '..'), { recursive: true, mode: 0o700 });
  const value = create().trim();
  // wx: never overwrite a secret another process wrote a moment ago.
  try {
    writeFileSync(path, value + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8').trim();
    throw error;
  }
  return value;
}
