import 'reflect-metadata';
import { ConflictException, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { parseArgs } from 'node:util';
import { AppConfigModule, loadConfigFromEnvironment } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { RegisterDto, ROLE_NAME } from './users/dto';
import { UsersModule } from './users/users.module';
import { UsersService } from './users/users.service';

const USAGE = 'usage: npm run cli -- users:create --email E --password P [--name N] [--roles admin,user]';

/** Operator commands, on the same configuration and database as the server. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'users:create') {
    console.error(USAGE);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
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
  @Module({ imports: [AppConfigModule.forRoot(config), DatabaseModule, UsersModule] })
  class CliModule {}
  const app = await NestFactory.createApplicationContext(CliModule, { logger: ['error'] });
  try {
    const user = await app.get(UsersService).create({ email: input.email, password: input.password, name: input.name, roles });
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
