import { ApiProperty, IntersectionType } from '@nestjs/swagger';

/*
 * The success bodies of the AuthSwitch routes, for the OpenAPI document only: handlers return
 * plain objects. The Swagger CLI plugin reads the fields and comments below at build time
 * (nest build); @ApiProperty is written only where the type alone says too little.
 */

/** A user as the API shows it; never the password hash or the credential version. */
export class UserResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'email', example: 'ada@example.com' })
  email: string;

  /** Display name; empty when none was given at registration. */
  name: string;

  /** Role names, such as `admin`. */
  @ApiProperty({ example: ['user'] })
  roles: string[];
}

/** `GET /{group}/me`: the user, and whether they have confirmed their address. */
export class MeResponse extends UserResponse {
  /** True once the link mailed at registration (or a resent one) has been followed. */
  emailVerified: boolean;
}

/** The session's CSRF token, to send back in `X-CSRF-Token` on every unsafe request. */
export class CsrfTokenResponse {
  /** Send it in the `X-CSRF-Token` header of POST, PUT, PATCH and DELETE requests. */
  csrfToken: string;
}

/** Login in a `session` group: the session cookie is set; the CSRF token comes in the body. */
export class SessionLoginResponse extends CsrfTokenResponse {
  user: UserResponse;
}

/** Login or refresh in a `jwt` group: a Bearer access token and a one-time refresh token. */
export class TokenPairResponse {
  /** A signed JWT (ES256 or RS256, see /.well-known/jwks.json); send it as `Authorization: Bearer …`. */
  access_token: string;

  /** Opaque and single-use: each refresh answers a new pair, and replaying a spent one revokes its family. */
  refresh_token: string;

  @ApiProperty({ enum: ['Bearer'] })
  token_type: 'Bearer';

  @ApiProperty({ type: 'integer', description: 'Lifetime of the access token in seconds.', example: 900 })
  expires_in: number;
}

/** Login in an `any` group: both a session (cookie and CSRF token) and a token pair. */
export class AnyLoginResponse extends IntersectionType(SessionLoginResponse, TokenPairResponse) {}

/** One sign-in of the user: a web session, or a refresh-token family (a JWT client's login). */
export class DeviceResponse {
  /** An opaque handle for `DELETE /auth/sessions/{id}`; never a session id or a token. */
  @ApiProperty({ example: 'Qm9vbGVhbkZpZWxkc0FyZQ' })
  id: string;

  @ApiProperty({ enum: ['session', 'refresh'], description: '`session`: a web session (cookie); `refresh`: a refresh-token family and its access tokens.' })
  kind: 'session' | 'refresh';

  /** True for the sign-in this request was made with. */
  current: boolean;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time', description: 'The last use, recorded at most about once a minute; the creation time when never used since.' })
  lastUsedAt: string;

  /** The client address the sign-in came from. */
  ip: string;

  /** The User-Agent it came with (at most 200 characters). */
  userAgent: string;
}

/** `GET /{group}/me` with a client token. */
export class ClientMeResponse {
  client_id: string;
  /** The token's scopes, space-separated. */
  scope: string;
}
