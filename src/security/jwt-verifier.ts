/**
 * Bearer JWTs: HS256 with a shared secret, or asymmetric keys from the issuer's JWKS (given,
 * or found by OIDC discovery). `exp`, `nbf`, `aud` and `iss` are checked with the configured
 * clock tolerance; the principal is the `principalClaim`, its scopes `scope` (space
 * separated) or `scp` (a list). Verified tokens are cached (see {@link TokenCache}).
 */
import {
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyOptions,
} from 'jose';
import type { Logger } from 'pino';
import { err, type AgentdError } from '../errors.js';
import type { AuthConfig } from './auth-config.js';
import { discoverJwksUrl, JwksSource } from './jwks-source.js';
import type { Principal } from './principal.js';
import { TokenCache } from './token-cache.js';

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Tokens remembered at most (count and bytes). */
export const TOKEN_CACHE_LIMITS = { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 };

export class JwtVerifier {
  private readonly secret: Uint8Array | undefined;
  private readonly jwks: JwksSource | undefined;
  private readonly options: JWTVerifyOptions;
  readonly cache = new TokenCache(TOKEN_CACHE_LIMITS);

  constructor(
    private readonly config: AuthConfig['jwt'],
    secret: string | undefined,
    private readonly adminScope: string,
    private readonly logger: Logger,
  ) {
    this.secret = secret === undefined ? undefined : new TextEncoder().encode(secret);
    const { jwksUrl, issuer, discovery } = config;
    const url =
      jwksUrl !== undefined
        ? (): Promise<string> => Promise.resolve(jwksUrl)
        : discovery && issuer !== undefined
          ? (() => {
              let found: Promise<string> | undefined;
              return (): Promise<string> =>
                (found ??= discoverJwksUrl(issuer).catch((error: unknown) => {
                  found = undefined;
                  throw error;
                }));
            })()
          : undefined;
    this.jwks = url
      ? new JwksSource(url, config.jwksCooldownSeconds * 1000, logger, () => this.cache.clear())
      : undefined;
    this.options = {
      clockTolerance: config.clockToleranceSeconds,
      ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
      ...(config.audience !== undefined ? { audience: config.audience } : {}),
    };
  }

  /** Whether any JWT can be accepted. */
  get enabled(): boolean {
    return this.secret !== undefined || this.jwks !== undefined;
  }

  get hasSecret(): boolean {
    return this.secret !== undefined;
  }

  get hasJwks(): boolean {
    return this.jwks !== undefined;
  }

  /** The principal a cached token authenticates as (synchronous fast path), else undefined. */
  cached(token: string): Principal | undefined {
    return this.cache.get(token);
  }

  /** Verifies a token, or throws UNAUTHENTICATED saying why (never echoing the token). */
  async verify(token: string): Promise<Principal> {
    const hit = this.cache.get(token);
    if (hit) return hit;
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthenticated('The bearer token is not a valid JWT');
    }
    let payload: JWTPayload;
    try {
      if (alg === 'HS256' && this.secret) {
        payload = (await jwtVerify(token, this.secret, { ...this.options, algorithms: ['HS256'] })).payload;
      } else if (this.jwks && alg !== undefined && ASYMMETRIC.includes(alg)) {
        payload = await this.verifyWithJwks(token);
      } else {
        throw unauthenticated(`The bearer token's algorithm (${alg ?? 'none'}) is not accepted here`);
      }
    } catch (error) {
      throw toUnauthenticated(error, this.logger);
    }
    const principal = this.principalOf(payload);
    this.cache.set(
      token,
      principal,
      payload.exp === undefined ? undefined : payload.exp * 1000 + this.config.clockToleranceSeconds * 1000,
    );
    return principal;
  }

  private async verifyWithJwks(token: string): Promise<JWTPayload> {
    const jwks = this.jwks as JwksSource;
    const algorithms = ASYMMETRIC;
    try {
      return (await jwtVerify(token, await jwks.current(), { ...this.options, algorithms })).payload;
    } catch (error) {
      // An unknown kid may be a key the issuer just added: refetch (at most once per cooldown).
      if (!(error instanceof joseErrors.JWKSNoMatchingKey) || !(await jwks.unknownKid())) throw error;
      return (await jwtVerify(token, await jwks.current(), { ...this.options, algorithms })).payload;
    }
  }

  private principalOf(payload: JWTPayload): Principal {
    const id = payload[this.config.principalClaim];
    if (typeof id !== 'string' || id === '')
      throw unauthenticated(`The bearer token has no "${this.config.principalClaim}" claim`);
    const scopes = new Set<string>();
    const { scope, scp } = payload as { scope?: unknown; scp?: unknown };
    if (typeof scope === 'string') for (const s of scope.split(' ')) if (s) scopes.add(s);
    if (Array.isArray(scp)) {
      for (const s of scp) if (typeof s === 'string' && s) scopes.add(s);
    } else if (typeof scp === 'string') {
      for (const s of scp.split(' ')) if (s) scopes.add(s);
    }
    return Object.freeze({
      id,
      scheme: 'jwt',
      scopes,
      admin: scopes.has('*') || scopes.has(this.adminScope),
    });
  }
}

function unauthenticated(message: string): AgentdError {
  return err('UNAUTHENTICATED', message, { scheme: 'bearer' });
}

/** What a failed verification tells the caller: why, never the token or the key. */
function toUnauthenticated(error: unknown, logger: Logger): AgentdError {
  if (error instanceof Error && 'code' in error && (error as { code?: unknown }).code === 'UNAUTHENTICATED')
    return error as AgentdError;
  if (error instanceof joseErrors.JWTExpired) return unauthenticated('The bearer token has expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const claim = error.claim;
    return claim === 'nbf'
      ? unauthenticated('The bearer token is not valid yet (nbf)')
      : unauthenticated(`The bearer token's "${claim}" claim is not accepted by this server`);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return unauthenticated("The bearer token's signature does not verify");
  if (error instanceof joseErrors.JWKSNoMatchingKey)
    return unauthenticated("The bearer token is signed with a key the issuer's JWKS does not hold");
  if (error instanceof joseErrors.JOSEAlgNotAllowed)
    return unauthenticated("The bearer token's algorithm is not accepted here");
  if (error instanceof joseErrors.JOSEError) return unauthenticated('The bearer token is not a valid JWT');
  // Fetching the issuer's keys failed: the caller cannot be authenticated now.
  logger.warn({ err: error }, 'JWT verification failed: the issuer keys could not be fetched');
  return unauthenticated("The bearer token cannot be verified: the issuer's keys are unavailable");
}
