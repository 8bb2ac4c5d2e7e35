import { AuditService } from '../audit/audit.service';
import { Inject, Injectable } from '@nestjs/common';
import { decode, JwtPayload, verify } from 'jsonwebtoken';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { PublicAddress } from '../common/public-address';
import { LoginRateLimiter } from '../auth/login-rate-limiter';
import { AccessTokenService } from '../tokens/access-token.service';
import { Client } from './client.entity';
import { CLIENT_ID, ClientsService } from './clients.service';
import { OAuthError } from './oauth-error';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** RFC 7523 asks for a short-lived assertion; one valid for longer is refused outright. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/** A jti as it is stored: printable ASCII, at most 128 characters (no NUL for PostgreSQL to choke on). */
const PRINTABLE_JTI = /^[\x21-\x7E]{1,128}$/;

export interface ClientTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/** How the client proved who it is, and the id it claims before that is checked. */
type ClientCredentials =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string }
  | { method: 'private_key_jwt'; clientId: string; assertion: string };

/**
 * The client-credentials grant (RFC 6749 §4.4) with three ways for a client to authenticate:
 * HTTP Basic, id and secret in the body, or a JWT it signs with its own key (RFC 7523).
 */
@Injectable()
export class OAuthService {
  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions,
    private readonly publicAddress: PublicAddress,
    private readonly clients: ClientsService,
    private readonly accessTokens: AccessTokenService,
    private readonly limiter: LoginRateLimiter,
    private readonly audit: AuditService,
  ) {}

  /** The audiences a client assertion may name: this token endpoint, or the issuer. */
  get assertionAudiences(): string[] {
    return [`${this.publicAddress.url}/oauth/token`, this.options.jwt.issuer];
  }

  async token(body: Record<string, unknown>, authorization: string | undefined, address: string): Promise<ClientTokenResponse> {
    const grantType = parameter(body, 'grant_type');
    if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is required');
    if (grantType !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'Only grant_type=client_credentials is supported');
    const credentials = readCredentials(body, authorization);
    const basic = credentials.method === 'client_secret_basic';

    // An id the CLI cannot have issued is refused before anything is counted or looked up.
    if (!CLIENT_ID.test(credentials.clientId)) throw new OAuthError('invalid_client', 'Client authentication failed', basic);
    // Counted before anything is checked, per address (never per client: its id is no secret,
    // and failures sent from elsewhere must not lock it out); a success gives the point back,
    // so only failures count, and a burst cannot outrun the check.
    const attempt = await this.limiter.takeClientAttempt(address);
    const client = await this.authenticate(credentials);
    if (!client) {
      // Refused clients change nothing: the event is written after the answer.
      this.audit.recordLater({
        type: 'client.auth_failed',
        actor: { kind: 'client', id: credentials.clientId },
        origin: { ip: address },
        details: { method: credentials.method },
      });
      throw new OAuthError('invalid_client', 'Client authentication failed', basic);
    }
    await this.limiter.forgiveLogin(attempt);

    const scopes = grantedScopes(parameter(body, 'scope'), client.scopes);
    const { token } = this.accessTokens.signForClient(client.id, scopes, Math.floor(Date.now() / 1000));
    // Revoked while this request was under way (clients:revoke commits between our read and now):
    // read the row once more, so that no token leaves after a revocation has committed, even
    // before this instance has heard of it.
    if (!(await this.clients.findActive(client.id))) {
      throw new OAuthError('invalid_client', 'Client authentication failed', basic);
    }
    this.audit.recordLater({ type: 'client.token_issued', actor: { kind: 'client', id: client.id }, origin: { ip: address }, details: { scopes } });
    return { access_token: token, token_type: 'Bearer', expires_in: this.accessTokens.ttlSeconds, scope: scopes.join(' ') };
  }

  /** The client if the credentials prove it, else null (unknown, revoked, wrong secret or assertion). */
  private async authenticate(credentials: ClientCredentials): Promise<Client | null> {
    const client = await this.clients.findActive(credentials.clientId);
    if (credentials.method !== 'private_key_jwt') {
      // Compared even for an unknown client (against nothing), so both take the same time.
      return this.clients.secretMatches(client, credentials.secret) ? client : null;
    }
    const key = client ? this.clients.assertionKey(client) : null;
    if (!client || !key) return null;
    let claims: JwtPayload;
    try {
      claims = verify(credentials.assertion, key.key, {
        algorithms: [key.algorithm],
        issuer: client.id,
        subject: client.id,
        audience: this.assertionAudiences as [string, ...string[]],
        clockTolerance: this.options.jwt.clockToleranceSeconds,
      }) as JwtPayload;
    } catch {
      return null;
    }
    const now = Date.now() / 1000;
    const { exp, jti } = claims;
    // exp is required, and at most five minutes ahead: a long-lived assertion is a password by another name.
    if (typeof exp !== 'number' || exp > now + MAX_ASSERTION_LIFETIME_SECONDS + this.options.jwt.clockToleranceSeconds) return null;
    if (typeof jti !== 'string' || !PRINTABLE_JTI.test(jti)) return null;
    // Each assertion once, across instances: the database's primary key decides.
    // exp is a NumericDate, which may be fractional (RFC 7519 §2); the column holds whole
    // milliseconds, rounded up so that the jti is kept at least as long as the assertion lives.
    const expiresAt = Math.ceil((exp + this.options.jwt.clockToleranceSeconds) * 1000);
    return (await this.clients.useAssertion(client.id, jti, expiresAt)) ? client : null;
  }
}

/** A single-valued string parameter; a repeated or non-string one is a malformed request (RFC 6749 §3.2). */
function parameter(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new OAuthError('invalid_request', `${name} must be given once, as a string`);
  if (value.length > 8192 || value.includes('\u0000')) throw new OAuthError('invalid_request', `${name} is malformed`);
  return value;
}

/** Exactly one authentication method (RFC 6749 §2.3), and the client id it claims. */
function readCredentials(body: Record<string, unknown>, authorization: string | undefined): ClientCredentials {
  const basic = typeof authorization === 'string' && /^basic /i.test(authorization) ? authorization.slice(6).trim() : undefined;
  const clientId = parameter(body, 'client_id');
  const secret = parameter(body, 'client_secret');
  const assertionType = parameter(body, 'client_assertion_type');
  const assertion = parameter(body, 'client_assertion');
  const methods = [basic !== undefined, secret !== undefined, assertionType !== undefined || assertion !== undefined].filter(Boolean).length;
  if (methods > 1) throw new OAuthError('invalid_request', 'Use exactly one client authentication method');
  if (methods === 0) throw new OAuthError('invalid_client', 'Client authentication is required', true);

  if (basic !== undefined) {
    const pair = decodeBasic(basic);
    if (!pair) throw new OAuthError('invalid_client', 'Malformed HTTP Basic credentials', true);
    if (clientId !== undefined && clientId !== pair.id) throw new OAuthError('invalid_request', 'client_id differs from the HTTP Basic user');
    return { method: 'client_secret_basic', clientId: pair.id, secret: pair.secret };
  }
  if (secret !== undefined) {
    if (clientId === undefined) throw new OAuthError('invalid_request', 'client_id is required with client_secret');
    return { method: 'client_secret_post', clientId, secret };
  }
  if (assertionType !== JWT_BEARER_ASSERTION) throw new OAuthError('invalid_request', `client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
  if (!assertion) throw new OAuthError('invalid_request', 'client_assertion is required');
  // The id the assertion claims; its signature, iss, sub and aud are checked with that client's key.
  let claimed: JwtPayload | null = null;
  try {
    claimed = decode(assertion, { json: true });
  } catch {
    // A payload that is not JSON: no claim to read, the same answer as any bad assertion.
  }
  const issuer = typeof claimed?.iss === 'string' ? claimed.iss : undefined;
  if (!issuer) throw new OAuthError('invalid_client', 'Client authentication failed');
  if (clientId !== undefined && clientId !== issuer) throw new OAuthError('invalid_client', 'Client authentication failed');
  return { method: 'private_key_jwt', clientId: issuer, assertion };
}

/** RFC 6749 §2.3.1: id and secret are form-encoded, then joined by a colon, then base64. */
function decodeBasic(encoded: string): { id: string; secret: string } | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  try {
    const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}

/** The scopes asked for (all of the client's when none are), each one the client's own. */
function grantedScopes(requested: string | undefined, allowed: readonly string[]): string[] {
  if (requested === undefined || requested.trim() === '') return [...allowed];
  const asked = [...new Set(requested.split(' ').filter(Boolean))];
  const unknown = asked.filter((scope) => !allowed.includes(scope));
  if (unknown.length > 0) throw new OAuthError('invalid_scope', `Scope not allowed for this client: ${unknown.join(' ').slice(0, 200)}`);
  return asked;
}
