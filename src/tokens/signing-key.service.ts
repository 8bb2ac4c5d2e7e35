import { Inject, Injectable } from '@nestjs/common';
import { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, JWK } from 'jose';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import type { SigningAlgorithm } from '../config/secrets';

export type { SigningAlgorithm };

/**
 * The access-token signing key. The configuration has already parsed and checked it (a bad key
 * stops start-up with one line, before Nest boots); this service only publishes it.
 */
@Injectable()
export class SigningKeyService {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly algorithm: SigningAlgorithm;
  private kidValue = '';
  private jwk: JWK = { kty: '' };

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.privateKey = config.jwt.privateKey;
    this.publicKey = config.jwt.publicKey;
    this.algorithm = config.jwt.algorithm;
  }

  async onModuleInit(): Promise<void> {
    const publicJwk = await exportJWK(this.publicKey);
    this.kidValue = await calculateJwkThumbprint(publicJwk, 'sha256');
    this.jwk = { ...publicJwk, kid: this.kidValue, alg: this.algorithm, use: 'sig' };
  }

  /** RFC 7638 thumbprint of the public key. */
  get kid(): string {
    return this.kidValue;
  }

  /** The JWKS document: public keys only. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.jwk] };
  }
}
