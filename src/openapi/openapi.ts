import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication, Type } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, getSchemaPath, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { OperationObject, ParameterObject, ResponseObject, SchemaObject, SecurityRequirementObject } from '@nestjs/swagger';
import { IS_PUBLIC, REQUIRED_ROLES, ROUTE_GROUP } from '../access/decorators';
import { errorBody } from '../common/error-response';
import { AuthStrategy, isBuiltInStrategy, usesJwt, usesSessions } from '../config/route-groups';
import { CSRF_HEADER } from '../sessions/csrf';
import { BEARER_SCHEME, COOKIE_SCHEME, ERROR_SCHEMA, RESPONSE_BY_STRATEGY, ResponseByStrategy } from './decorators';

export const DOCS_PATH = 'docs';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const SAFE_METHODS = new Set(['get', 'head', 'options', 'trace']);

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
  403: { description: 'Lacking a required role, or (session credentials) a missing or wrong X-CSRF-Token', message: 'Missing or invalid CSRF token' },
  404: { description: 'Not found', message: 'Not found' },
  409: { description: 'Conflict', message: 'Email already registered' },
  429: { description: 'Too many attempts; retry after the Retry-After seconds', message: 'Too many failed login attempts; try again later' },
  503: { description: 'A backing store (database, Redis) is unavailable; try again shortly', message: 'A backing store is unavailable; try again shortly' },
};

/** What the guard knows about one handler: the same decorators, read the same way. */
interface RoutePolicy {
  isPublic: boolean;
  strategy: AuthStrategy;
  roles: string[];
  byStrategy?: ResponseByStrategy;
}

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
    .setVersion(packageVersion())
    .addCookieAuth(
      cookie,
      {
        type: 'apiKey',
        in: 'cookie',
        name: cookie,
        description:
          `The session cookie \`${cookie}\`, set by the login of a session (or any) group. ` +
          'Unsafe methods (POST, PUT, PATCH, DELETE) must also send the session\'s CSRF token in the `X-CSRF-Token` header ' +
          '(from the login answer or GET /<group>/auth/csrf); without it they answer 403.',
      },
      COOKIE_SCHEME,
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'An access token from the login or refresh of a jwt (or any) group: `Authorization: Bearer <access_token>`. A user\'s token is valid only in the group it was issued for; ' +
          'a machine client\'s token (POST /oauth/token) in every jwt and any group, on routes open to clients.',
      },
      BEARER_SCHEME,
    )
    .addBasicAuth({ type: 'http', scheme: 'basic', description: 'client_secret_basic: the client id and secret (POST /oauth/token only).' }, 'client_secret_basic');
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
  finishDocument(document, routePolicies(app, config.routeGroups));
  return document;
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

/** Reads the decorators the guard acts on, per operation id, from every controller of the app. */
function routePolicies(app: INestApplication, groups: ReadonlyMap<string, AuthStrategy>): Map<string, RoutePolicy> {
  const reflector = new Reflector();
  const scanner = new MetadataScanner();
  const policies = new Map<string, RoutePolicy>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (typeof controller !== 'function') continue;
      for (const name of scanner.getAllMethodNames(controller.prototype)) {
        const handler = controller.prototype[name] as (...args: unknown[]) => unknown;
        if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
        const targets = [handler, controller];
        const group = reflector.getAllAndOverride<string | undefined>(ROUTE_GROUP, targets);
        policies.set(operationId(controller.name, name), {
          isPublic: reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) ?? false,
          // As in the guard: no group means either credential.
          strategy: group === undefined ? 'any' : (groups.get(group) ?? 'any'),
          roles: reflector.getAllAndOverride<string[]>(REQUIRED_ROLES, targets) ?? [],
          byStrategy: reflector.get<ResponseByStrategy | undefined>(RESPONSE_BY_STRATEGY, handler),
        });
      }
    }
  }
  return policies;
}

/**
 * What the decorators cannot express: a shared handler's answer in this group, no security on
 * public routes, the CSRF header, and the errors every route of a kind can answer.
 */
function finishDocument(document: OpenAPIObject, policies: Map<string, RoutePolicy>): void {
  document.components ??= {};
  document.components.schemas = { ...document.components.schemas, [ERROR_SCHEMA]: ERROR_SCHEMA_OBJECT };
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const policy = operation.operationId ? policies.get(operation.operationId) : undefined;
      if (policy) applyPolicy(operation, method, policy);
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) >= 400) withErrorBody(response as ResponseObject, Number(status));
      }
    }
  }
}

function applyPolicy(operation: OperationObject, method: (typeof METHODS)[number], policy: RoutePolicy): void {
  const { strategy } = policy;
  const byStrategy = policy.byStrategy;
  const chosen = byStrategy && isBuiltInStrategy(strategy) ? byStrategy.types[strategy] : undefined;
  const success = byStrategy && (operation.responses[byStrategy.status] as ResponseObject | undefined);
  if (chosen && success?.content) {
    for (const media of Object.values(success.content)) media.schema = { $ref: getSchemaPath(chosen) };
  }

  const csrf = !policy.isPublic && usesSessions(strategy) && !SAFE_METHODS.has(method);
  if (policy.isPublic) {
    // Controller-level security reaches every handler; a public one takes no credentials.
    delete operation.security;
  } else if (!operation.security?.length) {
    operation.security = securityFor(strategy);
    if (!isBuiltInStrategy(strategy)) {
      operation.description = [operation.description, `Authenticated by the application's Passport strategy "${strategy}".`].filter(Boolean).join('\n\n');
    }
  }
  if (csrf) addCsrfHeader(operation, strategy === 'session');

  const hasBody = operation.requestBody !== undefined;
  const hasPathParameters = (operation.parameters ?? []).some((parameter) => (parameter as ParameterObject).in === 'path');
  const errors: number[] = [];
  if (hasBody || hasPathParameters) errors.push(400);
  if (!policy.isPublic) errors.push(401);
  if (!policy.isPublic && (policy.roles.length > 0 || csrf)) errors.push(403);
  // Credentials are checked against a store (sessions, revocations), and bodies are handled
  // with one (users, counters, refresh tokens): either can answer 503 when it is down.
  if (!policy.isPublic || hasBody) errors.push(503);
  for (const status of errors) {
    const description = status === 403 ? forbiddenDescription(policy, csrf) : COMMON_ERRORS[status].description;
    operation.responses[status] ??= { description };
  }
}

function securityFor(strategy: AuthStrategy): SecurityRequirementObject[] | undefined {
  if (!isBuiltInStrategy(strategy)) return undefined;
  const requirements: SecurityRequirementObject[] = [];
  if (usesJwt(strategy)) requirements.push({ [BEARER_SCHEME]: [] });
  if (usesSessions(strategy)) requirements.push({ [COOKIE_SCHEME]: [] });
  return requirements;
}

function forbiddenDescription(policy: RoutePolicy, csrf: boolean): string {
  const reasons: string[] = [];
  if (policy.roles.length > 0) reasons.push(`the user lacks the role ${policy.roles.join(' or ')}`);
  if (csrf) reasons.push('session credentials came without the right X-CSRF-Token');
  return `Forbidden: ${reasons.join(', or ')}`;
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
