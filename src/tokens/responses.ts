import { ApiProperty } from '@nestjs/swagger';

/** One public signing key (RFC 7517); EC keys carry `crv`, `x`, `y`, RSA keys `n`, `e`. */
export class JsonWebKeyResponse {
  /** The key's RFC 7638 thumbprint; access tokens name it in their header. */
  kid: string;

  @ApiProperty({ enum: ['EC', 'RSA'] })
  kty: string;

  @ApiProperty({ enum: ['ES256', 'RS256'] })
  alg: string;

  @ApiProperty({ enum: ['sig'] })
  use: string;

  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

/** The keys access tokens may be signed with: the signing key and every verify-only key. */
export class JwksResponse {
  keys: JsonWebKeyResponse[];
}
