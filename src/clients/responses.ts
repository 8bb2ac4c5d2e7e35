import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** The parameters of POST /oauth/token (form fields or JSON members). */
export class ClientCredentialsRequest {
  @ApiProperty({ enum: ['client_credentials'] })
  grant_type: string;

  @ApiPropertyOptional({ description: 'Space-separated; a subset of the client’s scopes (all of them when absent).', example: 'reports:read' })
  scope?: string;

  @ApiPropertyOptional({ description: 'client_secret_post, or optional with a client assertion' })
  client_id?: string;

  @ApiPropertyOptional({ description: 'client_secret_post' })
  client_secret?: string;

  @ApiPropertyOptional({ enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'], description: 'private_key_jwt' })
  client_assertion_type?: string;

  @ApiPropertyOptional({ description: 'private_key_jwt: a JWT signed with the client’s key (ES256 or RS256)' })
  client_assertion?: string;
}

/** A machine client's access token. */
export class ClientTokenResponse {
  /** A signed JWT with `sub` = `client_id`, `scope`, and no roles; send it as `Authorization: Bearer …`. */
  access_token: string;

  @ApiProperty({ enum: ['Bearer'] })
  token_type: 'Bearer';

  @ApiProperty({ type: 'integer', example: 900 })
  expires_in: number;

  /** The scopes granted, space-separated. */
  scope: string;
}

/** An RFC 6749 §5.2 error, in the API's usual shape. */
export class OAuthErrorResponse {
  @ApiProperty({ type: 'integer', example: 401 })
  statusCode: number;

  @ApiProperty({ enum: ['invalid_request', 'invalid_client', 'invalid_grant', 'invalid_scope', 'unsupported_grant_type'] })
  error: string;

  message: string;

  /** The same text as `message`, under the name OAuth clients read. */
  error_description: string;
}
