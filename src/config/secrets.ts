import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from './config-error';

/** Names of the secrets generated for development; production refuses them. */
export const DEV_SESSION_SECRET_FILE = 'dev-session-secret';
export const DEV_JWT_KEY_FILE = 'dev-jwt-private-key.pem';

/** Placeholders shipped in .env.example: a deployment that copied them as is must not start. */
const PLACEHOLDER_SECRETS = ['change-me-to-at-least-32-random-characters', 'development-secret'];

interface SecretInputs {
  isProduction: boolean;
  dataDir: string;
  sessionSecret?: string;
  jwtPrivateKeyFile?: string;
}

/**
 * Development: a missing secret is generated once into DATA_DIR and reused, so sessions and
 * tokens survive restarts. Production: a missing, placeholder or generated secret stops start-up.
 */
export function resolveSecrets(input: SecretInputs): { sessionSecret: string; jwtPrivateKeyPem: string } {
  const devSecretPath = join(input.dataDir, DEV_SESSION_SECRET_FILE);
  const devKeyPath = join(input.dataDir, DEV_JWT_KEY_FILE);

  if (input.isProduction) {
    if (!input.sessionSecret) {
      throw new ConfigError('SESSION_SECRET', 'is required in production');
    }
    const generated = existsSync(devSecretPath) ? readFileSync(devSecretPath, 'utf8').trim() : null;
    if (PLACEHOLDER_SECRETS.includes(input.sessionSecret) || input.sessionSecret === generated) {
      throw new ConfigError('SESSION_SECRET', 'is a development default; set a fresh random secret');
    }
    if (!input.jwtPrivateKeyFile) {
      throw new ConfigError('JWT_PRIVATE_KEY_FILE', 'is required in production');
    }
    if (resolve(input.jwtPrivateKeyFile) === devKeyPath || input.jwtPrivateKeyFile.endsWith(DEV_JWT_KEY_FILE)) {
      throw new ConfigError('JWT_PRIVATE_KEY_FILE', 'points at the generated development key');
    }
  }

  return {
    sessionSecret: input.sessionSecret ?? readOrCreate(devSecretPath, () => randomBytes(48).toString('base64url')),
    jwtPrivateKeyPem: input.jwtPrivateKeyFile
      ? readKeyFile(input.jwtPrivateKeyFile)
      : readOrCreate(devKeyPath, () =>
          generateKeyPairSync('ec', { namedCurve: 'P-256' })
            .privateKey.export({ format: 'pem', type: 'pkcs8' })
            .toString(),
        ),
  };
}

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', `cannot read ${path} (${(error as NodeJS.ErrnoException).code})`);
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
