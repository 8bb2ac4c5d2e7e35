import { AUDIT_EVENT_TYPES, AuditEventType, isAuditEventType } from '../audit/audit-events';
import { AuditService } from '../audit/audit.service';
import { INestApplicationContext } from '@nestjs/common';
import { isAuthError } from '../common/auth-errors';
import { plainToInstance } from 'class-transformer';
import { isUUID, validateSync } from 'class-validator';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ClientKeyError, ClientsService, normalizePublicKey, SCOPE_NAME } from '../clients/clients.service';
import { algorithmFor, publishedKey } from '../config/key-ring';
import { generatePrivateKeyPem } from '../config/secrets';
import { RegisterDto, ROLE_NAME } from '../users/dto';
import { AuthService } from '../auth/auth.service';
import { DisableUserDto, ListUsersQuery, USERS_PAGE_MAX } from '../auth/admin-users.dto';
import { AdminUsersService } from '../auth/admin-users.service';
import { SYSTEM_ACTOR } from '../audit/audit-events';

/** How the operator started this CLI: `npm run cli --` for the server, `node <script>` in a host. */
function invocation(): string {
  if (process.env.npm_lifecycle_event === 'cli') return 'npm run cli --';
  const script = process.argv[1];
  return script ? `node ${relative(process.cwd(), script) || script}` : 'cli';
}

function usage(): string {
  const cli = invocation();
  return [
    `usage: ${cli} users:create --email E --password P [--name N] [--roles admin,user]`,
    `       ${cli} users:list [--query Q]`,
    `       ${cli} users:disable --id ID --reason R [--until ISO-DATE]`,
    `       ${cli} users:enable --id ID`,
    `       ${cli} users:delete --id ID`,
    `       ${cli} clients:create --name N --scopes a,b [--public-key-file F]`,
    `       ${cli} clients:list`,
    `       ${cli} clients:revoke --client-id ID`,
    `       ${cli} keys:generate --out FILE [--alg ES256|RS256]`,
    `       ${cli} events:list [--type T] [--user-id ID] [--since ISO-8601]`,
  ].join('\n');
}

/**
 * Opens the application the commands work on: the host's own module (with AuthSwitchModule and
 * its DataSource) as an application context, so that commands reach the host's database, Redis
 * and revocation log exactly as its running instances do. Opened only once the arguments are valid.
 */
export type OpenApplication = () => Promise<INestApplicationContext>;

/**
 * AuthSwitch's operator commands (users:create|list|disable|enable|delete,
 * clients:create|list|revoke, keys:generate) for any host. Returns the process exit code: 0
 * done, 1 refused (already registered, no such user or client, a key file exists), 2 bad arguments.
 *
 *     // cli.ts of a host
 *     runOperatorCommand(process.argv.slice(2), () => NestFactory.createApplicationContext(AppModule, { logger: ['error'] }))
 *       .then((code) => process.exit(code));
 */
export async function runOperatorCommand(argv: string[], open: OpenApplication): Promise<number> {
  try {
    return await dispatch(argv, open);
  } catch (error) {
    // An unknown or malformed option (node:util parseArgs) is a usage error, like a missing one.
    if ((error as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(error as Error).message}\n${usage()}`);
      return 2;
    }
    throw error;
  }
}

function dispatch(argv: string[], open: OpenApplication): Promise<number> | number {
  const [command, ...rest] = argv;
  if (command === 'users:create') return createUser(rest, open);
  if (command === 'users:list') return listUsers(rest, open);
  if (command === 'users:disable') return disableUser(rest, open);
  if (command === 'users:enable') return enableUser(rest, open);
  if (command === 'users:delete') return deleteUser(rest, open);
  if (command === 'keys:generate') return generateKey(rest);
  if (command === 'clients:create') return createClient(rest, open);
  if (command === 'clients:list') return listClients(rest, open);
  if (command === 'clients:revoke') return revokeClient(rest, open);
  if (command === 'events:list') return listEvents(rest, open);
  console.error(usage());
  return 2;
}

async function withApplication<T>(open: OpenApplication, work: (app: INestApplicationContext) => Promise<T>): Promise<T> {
  const app = await open();
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}

async function createUser(args: string[], open: OpenApplication): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' }, roles: { type: 'string' } },
    strict: true,
  });
  const input = plainToInstance(RegisterDto, { email: values.email, password: values.password, name: values.name });
  const problems = validateSync(input).flatMap((error) => Object.values(error.constraints ?? {}));
  const roles = (values.roles ?? 'user')
    .split(',')
    .map((role) => role.trim())
    .filter(Boolean);
  const badRole = roles.find((role) => !ROLE_NAME.test(role));
  if (badRole) problems.push(`invalid role "${badRole}"`);
  if (problems.length > 0) {
    console.error(`${problems.join('; ')}\n${usage()}`);
    return 2;
  }

  return withApplication(open, async (app) => {
    try {
      // The operator typed the address and vouches for it: no verification mail, no lock-out.
      const user = await app.get(AuthService).createByOperator({ email: input.email, password: input.password, name: input.name, roles, emailVerified: true });
      console.log(user.id);
      return 0;
    } catch (error) {
      if (isAuthError(error, 'EMAIL_TAKEN')) {
        console.error(`error: ${input.email} is already registered`);
        return 1;
      }
      throw error;
    }
  });
}

/** The problems class-validator finds in `input` as the DTO `type` (every one, not only the first). */
function problemsOf<T extends object>(type: new () => T, input: object): { value: T; problems: string[] } {
  const value = plainToInstance(type, input);
  return { value, problems: validateSync(value).flatMap((error) => Object.values(error.constraints ?? {})) };
}

/** Prints every matching user (or all), one JSON object per line, in email order. */
async function listUsers(args: string[], open: OpenApplication): Promise<number> {
  const { values } = parseArgs({ args, options: { query: { type: 'string' } }, strict: true });
  const { problems } = problemsOf(ListUsersQuery, { query: values.query });
  if (problems.length > 0) {
    console.error(`${problems.join('; ')}\n${usage()}`);
    return 2;
  }
  return withApplication(open, async (app) => {
    const admin = app.get(AdminUsersService);
    let cursor: string | undefined;
    do {
      const page = await admin.list({ query: values.query, limit: USERS_PAGE_MAX, cursor });
      for (const user of page.users) console.log(JSON.stringify(user));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return 0;
  });
}

/** `--id` of the users:* commands: a user id (UUID v4), or the usage error. */
function userIdOf(id: string | undefined, problems: string[]): string {
  if (!id) problems.push('--id is required');
  else if (!isUUID(id, 4)) problems.push('--id must be a user id (a UUID v4)');
  return id ?? '';
}

/**
 * One administration command on one user, as the operator (actor `system`): prints what it
 * answers, 1 for an unknown user.
 */
function onUser(open: OpenApplication, id: string, work: (admin: AdminUsersService) => Promise<string>): Promise<number> {
  return withApplication(open, async (app) => {
    try {
      console.log(await work(app.get(AdminUsersService)));
      return 0;
    } catch (error) {
      if (isAuthError(error, 'USER_NOT_FOUND')) {
        console.error(`error: no user ${id}`);
        return 1;
      }
      throw error;
    }
  });
}

/** Ends every session and token of the user on every instance; sign-in answers 403 until enabled (or `--until`). */
async function disableUser(args: string[], open: OpenApplication): Promise<number> {
  const { values } = parseArgs({ args, options: { id: { type: 'string' }, reason: { type: 'string' }, until: { type: 'string' } }, strict: true });
  const { value, problems } = problemsOf(DisableUserDto, { reason: values.reason, until: values.until });
  const id = userIdOf(values.id, problems);
  if (problems.length > 0) {
    console.error(`${problems.join('; ')}\n${usage()}`);
    return 2;
  }
  return onUser(open, id, async (admin) => JSON.stringify(await admin.disable(id, value, SYSTEM_ACTOR)));
}

async function enableUser(args: string[], open: OpenApplication): Promise<number> {
  const { values } = parseArgs({ args, options: { id: { type: 'string' } }, strict: true });
  const problems: string[] = [];
  const id = userIdOf(values.id, problems);
  if (problems.length > 0) {
    console.error(`${problems.join('; ')}\n${usage()}`);
    return 2;
  }
  return onUser(open, id, async (admin) => JSON.stringify(await admin.enable(id, SYSTEM_ACTOR)));
}

/** The account and its credentials go, on every instance; its events stay (they hold no email). */
async function deleteUser(args: string[], open: OpenApplication): Promise<number> {
  const { values } = parseArgs({ args, options: { id: { type: 'string' } }, strict: true });
  const problems: string[] = [];
  const id = userIdOf(values.id, problems);
  if (problems.length > 0) {
    console.error(`${problems.join('; ')}\n${usage()}`);
    return 2;
  }
  return onUser(open, id, async (admin) => {
    await admin.delete(id, SYSTEM_ACTOR);
    return `deleted ${id}`;
  });
}

function withClients<T>(open: OpenApplication, work: (clients: ClientsService) => Promise<T>): Promise<T> {
  return withApplication(open, (app) => work(app.get(ClientsService)));
}

/** Prints `{"client_id", "client_secret"}` (no secret with a public key); the secret is never shown again. */
async function createClient(args: string[], open: OpenApplication): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { name: { type: 'string' }, scopes: { type: 'string' }, 'public-key-file': { type: 'string' } },
    strict: true,
  });
  const name = values.name?.trim() ?? '';
  const scopes = (values.scopes ?? '')
    .split(',')
    .map((scope) => scope.trim())
    .filter(Boolean);
  const problems: string[] = [];
  if (name.length === 0 || name.length > 100) problems.push('--name is required (at most 100 characters)');
  const badScope = scopes.find((scope) => !SCOPE_NAME.test(scope));
  if (badScope !== undefined) problems.push(`invalid scope "${badScope}" (printable ASCII without spaces, quotes, backslashes or commas)`);
  let publicKeyPem: string | undefined;
  if (values['public-key-file'] !== undefined) {
    try {
      publicKeyPem = normalizePublicKey(readFileSync(values['public-key-file'], 'utf8'));
    } catch (error) {
      problems.push(`--public-key-file: ${error instanceof ClientKeyError ? error.message : (error as Error).message}`);
    }
  }
  if (problems.length > 0) {
    console.error(`${problems.join('; ')}\n${usage()}`);
    return 2;
  }
  const created = await withClients(open, (clients) => clients.create({ name, scopes, publicKeyPem }));
  console.log(JSON.stringify({ client_id: created.clientId, ...(created.secret ? { client_secret: created.secret } : {}) }));
  return 0;
}

/** One JSON array: id, name, scopes, authentication method, created and revoked times. */
async function listClients(args: string[], open: OpenApplication): Promise<number> {
  parseArgs({ args, options: {}, strict: true });
  console.log(JSON.stringify(await withClients(open, (clients) => clients.list()), null, 2));
  return 0;
}

/** Ends the client everywhere: the running servers refuse its tokens within one sync interval. */
async function revokeClient(args: string[], open: OpenApplication): Promise<number> {
  const { values } = parseArgs({ args, options: { 'client-id': { type: 'string' } }, strict: true });
  const clientId = values['client-id'];
  if (!clientId) {
    console.error(`--client-id is required\n${usage()}`);
    return 2;
  }
  if (!(await withClients(open, (clients) => clients.revoke(clientId)))) {
    console.error(`error: no active client ${clientId}`);
    return 1;
  }
  console.log(`revoked ${clientId}`);
  return 0;
}

/**
 * Writes a new signing key for a rotation: an unencrypted PKCS#8 PEM, readable by its owner only
 * (0600), never over an existing file. Prints the key's kid, as the JWKS will show it.
 */
function generateKey(args: string[]): number {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, alg: { type: 'string' } }, strict: true });
  const algorithm = (values.alg ?? 'ES256').toUpperCase();
  if (!values.out || (algorithm !== 'ES256' && algorithm !== 'RS256')) {
    console.error(`${values.out ? `unsupported --alg ${values.alg}` : '--out is required'}\n${usage()}`);
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

/** Prints the audit trail, newest first, one JSON object per line (every page). */
async function listEvents(args: string[], open: OpenApplication): Promise<number> {
  const { values } = parseArgs({ args, options: { type: { type: 'string' }, 'user-id': { type: 'string' }, since: { type: 'string' } }, strict: true });
  const problems: string[] = [];
  if (values.type !== undefined && !isAuditEventType(values.type))
    problems.push(`unknown event type "${values.type}" (one of ${AUDIT_EVENT_TYPES.join(', ')})`);
  const since = values.since === undefined ? undefined : Date.parse(values.since);
  if (since !== undefined && Number.isNaN(since)) problems.push('--since must be an ISO 8601 date-time');
  if (problems.length > 0) {
    console.error(`${problems.join('; ')}\n${usage()}`);
    return 2;
  }
  return withApplication(open, async (app) => {
    const audit = app.get(AuditService);
    let cursor: string | undefined;
    do {
      const page = await audit.list({ type: values.type as AuditEventType | undefined, userId: values['user-id'], since, limit: 100, cursor });
      for (const event of page.events) console.log(JSON.stringify(event));
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    return 0;
  });
}
