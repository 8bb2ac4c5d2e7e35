import { Inject, Injectable } from '@nestjs/common';
import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, JWK } from 'jose';
import { AppConfig } from '../config/app-config';
import { ConfigError } from '../config/config-error';
import { APP_CONFIG } from '../config/config.module';

export type SigningAlgorithm = 'ES256' | 'RS256' | 'EdDSA';

/** The algorithm follows from the key's type, so a key can never be used with the wrong one. */
function algorithmFor(key: KeyObject): SigningAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  if (type === 'ed25519') return 'EdDSA';
  throw new ConfigError('JWT_PRIVATE_KEY_FILE', 'must be a P-256, RSA (2048 bits or more) or Ed25519 private key in PKCS#8 PEM');
}

/**
 * The access-token signing key, parsed once into KeyObjects at boot (parsing a PEM per
 * request costs more than the signature check itself).
 */
@Injectable()
export class SigningKeyService {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly algorithm: SigningAlgorithm;
  private kidValue = '';
  private jwk: JWK = { kty: '' };

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    try {
      this.privateKey = createPrivateKey({ key: config.jwt.privateKeyPem, format: 'pem' });
    } catch {
      throw new ConfigError('JWT_PRIVATE_KEY_FILE', 'is not a readable PEM private key');
    }
    this.publicKey = createPublicKey(this.privateKey);
    this.algorithm = algorithmFor(this.privateKey);
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
