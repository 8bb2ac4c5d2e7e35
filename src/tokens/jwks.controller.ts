import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { Public } from '../access/decorators';
import { JwksResponse } from './responses';

@Controller('.well-known')
@ApiTags('keys')
export class JwksController {
  constructor(@Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions) {}

  /**
   * Public keys for services that verify our access tokens themselves: the signing key and
   * every key of JWT_VERIFY_KEY_FILES. Verifiers may cache the document for max-age seconds, so
   * a new key must be published at least that long before it signs (see the rotation runbook).
   */
  @Public()
  @Get('jwks.json')
  @ApiOperation({ summary: 'Public keys that verify access tokens (JWKS)' })
  @ApiOkResponse({ type: JwksResponse, description: 'Cacheable for JWKS_MAX_AGE_SECONDS (Cache-Control: public, max-age)' })
  jwks(@Res({ passthrough: true }) res: Response) {
    res.setHeader('Cache-Control', `public, max-age=${this.options.jwt.jwksMaxAgeSeconds}`);
    return this.options.jwt.keys.jwks();
  }
}
