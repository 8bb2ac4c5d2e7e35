import { Controller, Get, Header } from '@nestjs/common';
import { Public } from '../auth/decorators';
import { SigningKeyService } from './signing-key.service';

@Controller('.well-known')
export class JwksController {
  constructor(private readonly keys: SigningKeyService) {}

  /** Public keys for services that verify our access tokens themselves. */
  @Public()
  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=300')
  jwks() {
    return this.keys.jwks();
  }
}
