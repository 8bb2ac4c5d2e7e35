import 'reflect-metadata';
import { ConflictException, Global, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AUTH_SWITCH_OPTIONS } from './auth-switch/auth-switch.options';
import { AppConfig } from './config/app-config';
import { AppConfigModule, loadConfigFromEnvironment } from './config/config.module';
import { generatePrivateKeyPem } from './config/secrets';
import { DatabaseModule } from './database/database.module';
import { algorithmFor, publishedKey } from './tokens/key-ring';
import { RegisterDto, ROLE_NAME } from './users/dto';
import { UsersModule } from './users/users.module';
import { UsersService } from './users/users.service';

const USAGE = [
  'usage: npm run cli -- users:create --email E --password P [--name N] [--roles admin,user]',
  '       npm run cli -- keys:generate --out FILE [--alg ES256|RS256]',
].join('\n');

/** Operator commands, on the same configuration and database as the server. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'users:create') return createUser(rest);
  if (command === 'keys:generate') return generateKey(rest);
  console.error(USAGE);
  return 2;
}

async function createUser(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' }, roles: { type: 'string' } },
    strict: true,
  });
  const input = plainToInstance(RegisterDto, { email: values.email, password: values.password, name: values.name });
  const problems = validateSync(input).flatMap((error) => Object.values(error.constraints ?? {}));
  const roles = (values.roles ?? 'user').split(',').map((role) => role.trim()).filter(Boolean);
  const badRole = roles.find((role) => !ROLE_NAME.test(role));
  if (badRole) problems.push(`invalid role "${badRole}"`);
  if (problems.length > 0) {
    console.error(`${problems.join('; ')}\n${USAGE}`);
    return 2;
  }

  const config = loadConfigFromEnvironment();
  const app = await NestFactory.createApplicationContext(cliModule(config), { logger: ['error'] });
  try {
    // The operator typed the address and vouches for it: no verification mail, no lock-out.
    const user = await app.get(UsersService).create({ email: input.email, password: input.password, name: input.name, roles, emailVerified: true });
    console.log(user.id);
    return 0;
  } catch (error) {
    if (error instanceof ConflictException) {
      console.error(`error: ${input.email} is already registered`);
      return 1;
    }
    throw error;
  } finally {
    await app.close();
  }
}

/** The database and the users module, with the options the users module reads. */
function cliModule(config: AppConfig) {
  @Global()
  @Module({ providers: [{ provide: AUTH_SWITCH_OPTIONS, useValue: config }], exports: [AUTH_SWITCH_OPTIONS] })
  class CliOptionsModule {}
  @Module({ imports: [AppConfigModule.forRoot(config), CliOptionsModule, DatabaseModule, UsersModule] })
  class CliModule {}
  return CliModule;
}

/**
 * Writes a new signing key for a rotation: an unencrypted PKCS#8 PEM, readable by its owner only
 * (0600), never over an existing file. Prints the key's kid, as the JWKS will show it.
 */
function generateKey(args: string[]): number {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, alg: { type: 'string' } }, strict: true });
  const algorithm = (values.alg ?? 'ES256').toUpperCase();
  if (!values.out || (algorithm !== 'ES256' && algorithm !== 'RS256')) {
    console.error(`${values.out ? `unsupported --alg ${values.alg}` : '--out is required'}\n${USAGE}`);
    return 2;
  }
  const out = resolve(values.out);
  if (existsSync(out)) {
    console.error(`error: ${out} already exists; a key is never overwritten`);
    return 1;
  }
  const pem = generatePrivateKeyPem(algorithm);
  mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
  writeFileSync(out, pem, { mode: 0o600, flag: 'wx' });
  const publicKey = createPublicKey(createPrivateKey(pem));
  console.log(publishedKey(publicKey, algorithmFor(publicKey)!).kid);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
