import { applyDecorators, SetMetadata, Type } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { errorBody } from './error-response';
import type { AuthStrategy, BuiltInStrategy } from '../config/route-groups';

/** Names of the security schemes and of the shared error schema in the document. */
export const COOKIE_SCHEME = 'cookie';
export const BEARER_SCHEME = 'bearer';
/** HTTP Basic with the client id and secret, at the token endpoint (RFC 6749 client_secret_basic). */
export const CLIENT_BASIC_SCHEME = 'client_secret_basic';
export const ERROR_SCHEMA = 'Error';

/** Read by the document's post-processing pass (see openapi.ts). */
export const RESPONSE_BY_STRATEGY = 'authswitch:openapi:response-by-strategy';

export interface ResponseByStrategy {
  status: number;
  types: Partial<Record<BuiltInStrategy, Type>>;
}

/**
 * The credentials a strategy accepts, as OpenAPI security requirements: `jwt` a Bearer token,
 * `session` the session cookie, `any` either one (two requirements: alternatives). An
 * application's own Passport strategy is not described; its group's tag says so instead.
 */
export function ApiStrategySecurity(strategy: AuthStrategy): ClassDecorator & MethodDecorator {
  switch (strategy) {
    case 'jwt':
      return ApiBearerAuth(BEARER_SCHEME);
    case 'session':
      return ApiCookieAuth(COOKIE_SCHEME);
    case 'any':
      return applyDecorators(ApiBearerAuth(BEARER_SCHEME), ApiCookieAuth(COOKIE_SCHEME));
    default:
      return applyDecorators();
  }
}

/**
 * An error answer in the contract's shape (`Error`), for answers particular to one route;
 * `message` is what the route really says, shown as the example.
 */
export function ApiErrorResponse(status: number, description: string, message?: string): MethodDecorator & ClassDecorator {
  const example = message === undefined ? {} : { example: errorBody(status, message) };
  return ApiResponse({ status, description, schema: { $ref: getSchemaPath(ERROR_SCHEMA) }, ...example });
}

/**
 * A success body that depends on the strategy of the group the route is mounted in. Handlers
 * shared by every group cannot carry per-group metadata (the function is the same), so the
 * route shows all the alternatives, and the document's post-processing keeps the group's one.
 */
export function ApiResponseByStrategy(status: number, description: string, types: ResponseByStrategy['types']): MethodDecorator {
  const models = Object.values(types).filter((type): type is Type => type !== undefined);
  const metadata: ResponseByStrategy = { status, types };
  return applyDecorators(
    ApiExtraModels(...models),
    ApiResponse({ status, description, schema: { oneOf: models.map((type) => ({ $ref: getSchemaPath(type) })) } }),
    SetMetadata(RESPONSE_BY_STRATEGY, metadata),
  );
}
