import { Body, Controller, Headers, HttpCode, Post, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../access/decorators';
import { RouteGroupGuard } from '../auth/route-group.guard';
import { ApiErrorResponse, CLIENT_BASIC_SCHEME } from '../common/openapi-decorators';
import { OAuthExceptionFilter } from './oauth-error';
import { OAuthService } from './oauth.service';
import { ClientCredentialsRequest, ClientTokenResponse, OAuthErrorResponse } from './responses';

/** The OAuth 2.0 token endpoint, for machine clients (client credentials only). */
@Controller('oauth')
@UseGuards(RouteGroupGuard)
@UseFilters(OAuthExceptionFilter)
@ApiTags('oauth')
export class OAuthController {
  constructor(private readonly oauth: OAuthService) {}

  @Public()
  @Post('token')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Client credentials grant: a scoped access token for a machine client',
    description:
      'Form-encoded (RFC 6749) or JSON. The client authenticates with HTTP Basic (client_secret_basic), with client_id and client_secret in the body (client_secret_post), or with a JWT it signs with its key (private_key_jwt, RFC 7523: iss = sub = client id, aud = this URL or the issuer, exp at most 5 minutes ahead, a jti used once). No refresh token.',
  })
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody({ type: ClientCredentialsRequest })
  // Basic, or the credentials in the body (`{}`: no scheme of the document's).
  @ApiBasicAuth(CLIENT_BASIC_SCHEME)
  @ApiSecurity({})
  @ApiOkResponse({ type: ClientTokenResponse, description: 'An access token (never cached)' })
  @ApiResponse({ type: OAuthErrorResponse, status: 400, description: 'invalid_request, invalid_scope or unsupported_grant_type (RFC 6749 §5.2)' })
  @ApiResponse({
    type: OAuthErrorResponse,
    status: 401,
    description: 'invalid_client: unknown or revoked client, a client_id not of the shape the CLI issues, wrong secret, bad or replayed assertion',
  })
  @ApiErrorResponse(429, 'Too many failed authentications from this address; see Retry-After', 'Too many failed client authentications; try again later')
  async token(
    @Body() body: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    const fields = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    return this.oauth.token(fields, authorization, req.ip ?? '');
  }
}
