import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CanActivate, INestApplication, Type } from '@nestjs/common';
import { GUARDS_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, getSchemaPath, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { OperationObject, ParameterObject, ResponseObject, SchemaObject, SecurityRequirementObject, SecuritySchemeObject } from '@nestjs/swagger';
import { AUTH_SWITCH_OPTIONS, AUTH_SWITCH_ROUTES, AuthSwitchOptions } from '../config/auth-switch.options';
import { AccessPolicies, AccessPolicy, FORBIDDEN_ERRORS, ForbiddenReason } from '../access/access-policy';
import { AUTH_ERRORS } from '../common/auth-errors';
import type { AuthSwitchRoutes } from '../auth/group-routes';
import { RouteGroupGuard } from '../auth/route-group.guard';
import { errorBody } from '../common/error-response';
import { AuthStrategy, isBuiltInStrategy, usesJwt } from '../config/route-groups';
import { CSRF_HEADER } from '../sessions/csrf';
import { BEARER_SCHEME, CLIENT_BASIC_SCHEME, COOKIE_SCHEME, ERROR_SCHEMA, RESPONSE_BY_STRATEGY, ResponseByStrategy } from '../common/openapi-decorators';

export const DOCS_PATH = 'docs';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** The contract's error body (src/common/error-response.ts), shared by every error answer. */
const ERROR_SCHEMA_OBJECT: SchemaObject = {
  type: 'object',
  description: 'Every error answer. `details` lists the first failure of each invalid field.',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer', description: 'The HTTP status again.', example: 400 },
    error: { type: 'string', description: "The status's reason phrase.", example: 'Bad Request' },
    message: { type: 'string', example: 'Validation failed' },
    details: { type: 'array', items: { type: 'string' }, example: ['password must be 8 to 256 characters'] },
  },
};

/** What each error means when a route does not say more, and a typical body. */
const COMMON_ERRORS: Record<number, { description: string; message: string; details?: string[] }> = {
  400: { description: 'Malformed JSON, or a field that fails validation (see details)', message: 'Validation failed', details: ['email is required'] },
  401: { description: 'Missing, invalid, expired or revoked credentials', message: 'Missing credentials' },
  403: { description: 'Authenticated but not allowed', message: 'Forbidden' },
  404: { description: 'Not found', message: 'Not found' },
  409: { description: 'Conflict', message: 'Email already registered' },
  429: { description: 'Too many attempts; retry after the Retry-After seconds', message: 'Too many failed login attempts; try again later' },
  503: { description: 'A backing store (database, Redis) is unavailable; try again shortly', message: 'A backing store is unavailable; try again shortly' },
};

/** What the document needs about one operation: the guard's own policy, and the per-strategy body. */
interface RoutePolicy {
  access: AccessPolicy;
  byStrategy?: ResponseByStrategy;
}

/** How an operation id is made from its controller and method (SwaggerDocumentOptions.operationIdFactory). */
export type OperationIdFactory = (controllerKey: string, methodKey: string, version?: string) => string;

/** `server`: AuthSwitch's own document, every error in its Error shape. `host`: a host's, whose own error bodies stay. */
type Mode = 'server' | 'host';

/**
 * Serves Swagger UI at /docs and the OpenAPI document at /docs-json. Both are plain Express
 * routes, outside Nest's guards: they need no credentials. The document is built on the first
 * request (then kept), so servers and test apps that never ask for it pay nothing at boot.
 * Helmet's default CSP needs no exception: the UI's scripts are files under /docs and only its
 * styles are inline, which that policy allows (the e2e test renders it in Chromium).
 */
/** What the document needs to know of the configuration: the session cookie and the route groups. */
export interface OpenApiSettings {
  session: { cookieName: string };
  routeGroups: ReadonlyMap<string, AuthStrategy>;
}

export function setupOpenApi(app: NestExpressApplication, config: OpenApiSettings): void {
  SwaggerModule.setup(DOCS_PATH, app, () => buildDocument(app, config), {
    raw: ['json'],
    customSiteTitle: 'AuthSwitch API',
    swaggerOptions: { persistAuthorization: false, displayRequestDuration: true },
  });
}

/** The whole document: Nest's scan, then the pass that applies what the decorators cannot say. */
export function buildDocument(app: INestApplication, config: OpenApiSettings): OpenAPIObject {
  const cookie = config.session.cookieName;
  const builder = new DocumentBuilder()
    .setTitle('AuthSwitch')
    .setDescription(
      'Authentication whose route groups each use sessions, JWTs or both (AUTH_ROUTE_GROUPS). ' +
        'Every error answers in the `Error` shape. Public routes need no credentials.',
    )
    .setVersion(packageVersion());
  for (const [name, scheme] of Object.entries(securitySchemes(cookie))) builder.addSecurity(name, scheme);
  for (const [group, strategy] of config.routeGroups) builder.addTag(group, groupDescription(group, strategy));
  builder
    .addTag('account', 'Registration and signing out everywhere; authenticated routes take either credential.')
    .addTag('oauth', 'Machine clients: the client-credentials grant (RFC 6749 §4.4) with a secret or a signed assertion (RFC 7523).')
    .addTag('keys', 'Public keys for services that verify access tokens themselves.')
    .addTag('health', 'Liveness and readiness.');

  const document = SwaggerModule.createDocument(app, builder.build(), {
    // The default, spelled out: routePolicies() finds operations by this id.
    operationIdFactory: operationId,
  });
  finishDocument(document, routePolicies(app, operationId), 'server');
  return document;
}

/**
 * For a host's own document (SwaggerModule.createDocument of an application that imports
 * AuthSwitchModule): gives AuthSwitch's routes and the host's guarded routes the security, CSRF
 * header and 401/403 answers of the policy RouteGroupGuard enforces (public routes need no
 * credentials, grouped routes those of their group's strategy), and defines the security
 * schemes and the Error schema they reference. Routes RouteGroupGuard does not guard (no global
 * guard and no @UseGuards(RouteGroupGuard)) keep what the host declared. Pass the
 * operationIdFactory the document was made with, if any. Returns the same document.
 */
export function applyAuthSwitchSecurity(
  document: OpenAPIObject,
  app: INestApplication,
  options: { operationIdFactory?: OperationIdFactory } = {},
): OpenAPIObject {
  const settings = app.get<AuthSwitchOptions>(AUTH_SWITCH_OPTIONS, { strict: false });
  const schemes = securitySchemes(settings.session.cookieName);
  document.components ??= {};
  document.components.securitySchemes = { ...schemes, ...document.components.securitySchemes };
  finishDocument(document, routePolicies(app, options.operationIdFactory ?? operationId), 'host');
  return document;
}

/** The schemes AuthSwitch's requirements name: the session cookie, Bearer JWTs, and the token endpoint's Basic. */
function securitySchemes(cookie: string): Record<string, SecuritySchemeObject> {
  return {
    [COOKIE_SCHEME]: {
      type: 'apiKey',
      in: 'cookie',
      name: cookie,
      description:
        `The session cookie \`${cookie}\`, set by the login of a session (or any) group. ` +
        "Unsafe methods (POST, PUT, PATCH, DELETE) must also send the session's CSRF token in the `X-CSRF-Token` header " +
        '(from the login answer or GET /<group>/auth/csrf); without it they answer 403.',
    },
    [BEARER_SCHEME]: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        "An access token from the login or refresh of a jwt (or any) group: `Authorization: Bearer <access_token>`. A user's token is valid only in the group it was issued for; " +
        "a machine client's token (POST /oauth/token) in every jwt and any group, on routes open to clients (`@Scopes` or `@AllowClients`; elsewhere 403).",
    },
    [CLIENT_BASIC_SCHEME]: { type: 'http', scheme: 'basic', description: 'client_secret_basic: the client id and secret (POST /oauth/token only).' },
  };
}

function operationId(controllerKey: string, methodKey: string): string {
  return `${controllerKey}_${methodKey}`;
}

function groupDescription(group: string, strategy: AuthStrategy): string {
  const prefix = `Routes under /${group}`;
  switch (strategy) {
    case 'session':
      return `${prefix}: a server-side session. Sign in for the \`cookie\` credential; send X-CSRF-Token on unsafe methods.`;
    case 'jwt':
      return `${prefix}: stateless JWTs. Sign in for a token pair, send the \`bearer\` credential, renew with /${group}/auth/refresh.`;
    case 'any':
      return `${prefix}: either credential. Login answers a session and a token pair; send the \`bearer\` or the \`cookie\` credential.`;
    default:
      return `${prefix}: authenticated by the application's Passport strategy "${strategy}", which this document does not describe.`;
  }
}

/**
 * The guard's policy of every route RouteGroupGuard guards, per operation id: every controller
 * where the guard is global, else those that bind it (AuthSwitch's own do).
 */
function routePolicies(app: INestApplication, makeOperationId: OperationIdFactory): Map<string, RoutePolicy> {
  const routes = app.get<AuthSwitchRoutes>(AUTH_SWITCH_ROUTES, { strict: false });
  const reflector = new Reflector();
  const access = new AccessPolicies(reflector, routes.groups);
  const scanner = new MetadataScanner();
  const policies = new Map<string, RoutePolicy>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (typeof controller !== 'function') continue;
      for (const name of scanner.getAllMethodNames(controller.prototype)) {
        const handler = controller.prototype[name] as (...args: unknown[]) => unknown;
        if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
        if (!routes.globalGuard && !bindsGuard(controller) && !bindsGuard(handler)) continue;
        policies.set(makeOperationId(controller.name, name), {
          access: access.of(handler, controller),
          byStrategy: reflector.get<ResponseByStrategy | undefined>(RESPONSE_BY_STRATEGY, handler),
        });
      }
    }
  }
  return policies;
}

function bindsGuard(target: object): boolean {
  const guards = (Reflect.getMetadata(GUARDS_METADATA, target) ?? []) as Array<Type<CanActivate> | CanActivate>;
  return guards.some((guard) => guard === RouteGroupGuard || guard instanceof RouteGroupGuard);
}

/**
 * What the decorators cannot express: a shared handler's answer in this group, no security on
 * public routes, the CSRF header, and the errors every route of a kind can answer.
 */
function finishDocument(document: OpenAPIObject, policies: Map<string, RoutePolicy>, mode: Mode): void {
  document.components ??= {};
  document.components.schemas = { ...document.components.schemas, [ERROR_SCHEMA]: ERROR_SCHEMA_OBJECT };
  const globalSecurity = (document.security ?? []).length > 0;
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const policy = operation.operationId ? policies.get(operation.operationId) : undefined;
      if (policy) applyPolicy(operation, method, policy, globalSecurity);
      for (const [status, response] of Object.entries(operation.responses)) {
        // A host's own error answers keep the body it declared.
        if (Number(status) >= 400 && (mode === 'server' || !(response as ResponseObject).content)) withErrorBody(response as ResponseObject, Number(status));
      }
    }
  }
}

function applyPolicy(operation: OperationObject, method: (typeof METHODS)[number], policy: RoutePolicy, globalSecurity: boolean): void {
  const { access } = policy;
  const strategy = access.strategy;
  // A group that is not configured: the route answers 404 whatever is sent.
  if (strategy === undefined) return;
  const byStrategy = policy.byStrategy;
  const chosen = byStrategy && isBuiltInStrategy(strategy) ? byStrategy.types[strategy] : undefined;
  const success = byStrategy && (operation.responses[byStrategy.status] as ResponseObject | undefined);
  if (chosen && success?.content) {
    for (const media of Object.values(success.content)) media.schema = { $ref: getSchemaPath(chosen) };
  }

  if (access.public) {
    // Controller-level security (a group's credentials) reaches every handler; a public one takes
    // none of them. What the route declares itself (the token endpoint's Basic) stays.
    const own = (operation.security ?? []).filter((requirement) => !(COOKIE_SCHEME in requirement) && !(BEARER_SCHEME in requirement));
    if (own.length > 0) operation.security = own;
    // Credentials the handler checks itself when it needs them: the strategy's, or none ({}).
    else if (access.optionalCredentials && isBuiltInStrategy(strategy)) operation.security = [...securityFor(strategy), {}];
    // An operation without security inherits the document's: say "none" explicitly then.
    else if (globalSecurity) operation.security = [];
    else delete operation.security;
  } else if (isBuiltInStrategy(strategy)) {
    operation.security = securityFor(strategy);
  } else if (!(operation.description ?? '').includes(`"${strategy}"`)) {
    operation.description = [operation.description, `Authenticated by the application's Passport strategy "${strategy}".`].filter(Boolean).join('\n\n');
  }
  if (access.csrf) addCsrfHeader(operation, strategy === 'session');

  const hasBody = operation.requestBody !== undefined;
  const hasPathParameters = (operation.parameters ?? []).some((parameter) => (parameter as ParameterObject).in === 'path');
  const errors: number[] = [];
  if (hasBody || hasPathParameters) errors.push(400);
  if (!access.public) errors.push(401);
  if (access.forbidden.length > 0) errors.push(403);
  // Credentials are checked against a store (sessions, revocations), and bodies are handled
  // with one (users, counters, refresh tokens): either can answer 503 when it is down.
  if (!access.public || hasBody) errors.push(503);
  for (const status of errors) {
    if (status !== 403) {
      operation.responses[status] ??= { description: COMMON_ERRORS[status].description };
      continue;
    }
    // The example is what the guard (or the session strategy) says for the first reason.
    const example = errorBody(403, AUTH_ERRORS[FORBIDDEN_ERRORS[access.forbidden[0]]].message);
    operation.responses[status] ??= {
      description: forbiddenDescription(access.forbidden),
      content: { 'application/json': { schema: { $ref: getSchemaPath(ERROR_SCHEMA) }, example } },
    };
  }
}

function securityFor(strategy: AuthStrategy): SecurityRequirementObject[] {
  const requirements: SecurityRequirementObject[] = [];
  if (usesJwt(strategy)) requirements.push({ [BEARER_SCHEME]: [] });
  if (strategy === 'session' || strategy === 'any') requirements.push({ [COOKIE_SCHEME]: [] });
  return requirements;
}

const FORBIDDEN_REASONS: Record<ForbiddenReason, string> = {
  role: 'the user lacks a required role',
  scope: "the client's token lacks a required scope",
  'clients-not-accepted': 'a machine client\'s token ("Client tokens are not accepted here")',
  'users-not-accepted': "a user's credential (the route is only open to client tokens)",
  csrf: 'session credentials came without the right X-CSRF-Token',
};

function forbiddenDescription(reasons: readonly ForbiddenReason[]): string {
  return `Forbidden: ${reasons.map((reason) => FORBIDDEN_REASONS[reason]).join(', or ')}`;
}

function addCsrfHeader(operation: OperationObject, required: boolean): void {
  const parameters = (operation.parameters ??= []);
  const name = 'X-CSRF-Token';
  if (parameters.some((parameter) => (parameter as ParameterObject).name?.toLowerCase() === CSRF_HEADER)) return;
  parameters.push({
    name,
    in: 'header',
    required,
    description: required
      ? "The session's CSRF token (from the login answer or GET auth/csrf)."
      : "With the session cookie: the session's CSRF token (from the login answer or GET auth/csrf). Not needed with a Bearer token.",
    schema: { type: 'string' },
  });
}

/** Points an error answer at the shared Error schema, with a typical body. */
function withErrorBody(response: ResponseObject, status: number): void {
  const common = COMMON_ERRORS[status];
  const content = (response.content ??= {});
  const json = (content['application/json'] ??= {});
  json.schema = { $ref: getSchemaPath(ERROR_SCHEMA) };
  json.example ??= errorBody(status, common?.message ?? response.description, common?.details);
  if (status === 429) {
    response.headers = {
      ...response.headers,
      'Retry-After': { description: 'Seconds until an attempt may succeed again', schema: { type: 'integer' } },
    };
  }
}

function packageVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
    return manifest.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
