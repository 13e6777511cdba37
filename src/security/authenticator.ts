/**
 * Authentication for every transport: API keys, bearer JWTs and mTLS at once. Transports
 * hand over what the request carried ({@link Credentials}); the answer is the caller's
 * {@link Principal} or UNAUTHENTICATED. A request presenting a credential is judged on it
 * (a wrong API key fails even with a good certificate); with none, a verified client
 * certificate authenticates. The common cases (API key, a JWT seen before) answer
 * synchronously.
 */
import type { Logger } from 'pino';
import { describeSecret, readSecret } from '../config/secrets.js';
import { err } from '../errors.js';
import { ApiKeyStore, type ApiKeyEntry } from './api-keys.js';
import { AuthConfigError, type AuthConfig, type TlsConfig } from './auth-config.js';
import { JwtVerifier } from './jwt-verifier.js';
import { principalFromPeer } from './mtls.js';
import type { PeerIdentity, Principal } from './principal.js';

/** What a request carried. */
export interface Credentials {
  /** `X-API-Key` header / `x-api-key` metadata. */
  readonly apiKey?: string | undefined;
  /** `Authorization` header / metadata. */
  readonly authorization?: string | undefined;
  /** The verified client certificate (mTLS). */
  readonly peer?: PeerIdentity | undefined;
}

/** Which schemes are on. */
export interface AuthSchemes {
  readonly apiKey: boolean;
  readonly jwt: boolean;
  readonly mtls: boolean;
}

export { AuthConfigError };

const BEARER = /^Bearer[ \t]+([^ \t].*)$/i;

export class Authenticator {
  private readonly principals = new WeakMap<ApiKeyEntry, Principal>();
  readonly schemes: AuthSchemes;

  constructor(
    private readonly auth: AuthConfig,
    private readonly apiKeys: ApiKeyStore | undefined,
    private readonly jwt: JwtVerifier | undefined,
    mtlsAvailable: boolean,
  ) {
    this.schemes = {
      apiKey: apiKeys?.configuredAny ?? false,
      jwt: jwt?.enabled ?? false,
      mtls: mtlsAvailable && auth.mtls.enabled,
    };
  }

  /**
   * Builds the authenticator from the config, reading secrets and the key file now. Throws
   * {@link AuthConfigError} when `auth.required` is set and no scheme is configured.
   */
  static create(options: {
    readonly auth: AuthConfig;
    readonly tls: TlsConfig;
    readonly baseDir: string;
    readonly env: NodeJS.ProcessEnv;
    readonly logger: Logger;
  }): Authenticator {
    const { auth, tls, baseDir, env, logger } = options;
    const keys = ApiKeyStore.fromConfig(auth, baseDir, env, logger);
    const secret = auth.jwt.secret === undefined ? undefined : readSecret(auth.jwt.secret, baseDir, env);
    if (auth.jwt.secret !== undefined && secret === undefined)
      logger.warn(
        `auth.jwt.secret: ${describeSecret(auth.jwt.secret)} is not set; HS256 tokens are not accepted`,
      );
    const jwt = new JwtVerifier(auth.jwt, secret, auth.adminScope, logger);
    const authenticator = new Authenticator(auth, keys, jwt, tls.clientCaFile !== undefined);
    if (auth.required && !authenticator.enabled) {
      keys.close();
      throw new AuthConfigError(
        'auth.required is true but no authentication scheme is configured: set API_KEY or auth.apiKeys / ' +
          'auth.apiKeysFile (API keys), JWT_SECRET or JWT_JWKS_URL (bearer JWTs), or tls.clientCaFile (mTLS)',
      );
    }
    return authenticator;
  }

  /** Whether any scheme is on (off: the open mode, every caller is ANONYMOUS). */
  get enabled(): boolean {
    return this.schemes.apiKey || this.schemes.jwt || this.schemes.mtls;
  }

  /** The scope that passes every authorization check. */
  get adminScope(): string {
    return this.auth.adminScope;
  }

  /** The caller's principal, or throws UNAUTHENTICATED saying what was wrong. */
  authenticate(credentials: Credentials): Principal | Promise<Principal> {
    const { apiKey, authorization, peer } = credentials;
    if (apiKey !== undefined) {
      const entry = this.schemes.apiKey ? this.apiKeys?.lookup(apiKey) : undefined;
      if (!entry)
        throw err(
          'UNAUTHENTICATED',
          this.schemes.apiKey ? 'The API key is not valid' : 'API keys are not accepted by this server',
          {
            scheme: 'apiKey',
          },
        );
      return this.principalOfKey(entry);
    }
    if (authorization !== undefined) {
      const token = BEARER.exec(authorization)?.[1]?.trim();
      if (token === undefined)
        throw err('UNAUTHENTICATED', 'Only "Authorization: Bearer <token>" is accepted', {
          scheme: 'bearer',
        });
      const jwt = this.schemes.jwt ? this.jwt : undefined;
      if (!jwt)
        throw err('UNAUTHENTICATED', 'Bearer tokens are not accepted by this server', { scheme: 'bearer' });
      return jwt.cached(token) ?? jwt.verify(token);
    }
    if (peer !== undefined && this.schemes.mtls) {
      const principal = principalFromPeer(peer, this.auth.mtls, this.auth.adminScope);
      if (principal) return principal;
      throw err('UNAUTHENTICATED', 'The client certificate names no subject or SAN to authenticate as', {
        scheme: 'mtls',
      });
    }
    throw err('UNAUTHENTICATED');
  }

  /** `WWW-Authenticate` challenges for a 401 (RFC 9110 §11.6.1), one per scheme that is on. */
  challenges(error?: 'insufficient_scope'): string[] {
    const out: string[] = [];
    if (this.schemes.jwt)
      out.push(error ? `Bearer realm="agentd", error="${error}"` : 'Bearer realm="agentd"');
    if (this.schemes.apiKey) out.push('ApiKey realm="agentd", header="X-API-Key"');
    return out;
  }

  /** Stops watching the key file. */
  close(): void {
    this.apiKeys?.close();
  }

  private principalOfKey(entry: ApiKeyEntry): Principal {
    let p = this.principals.get(entry);
    if (!p) {
      const scopes = new Set(entry.scopes);
      p = Object.freeze({
        id: entry.principal,
        scheme: 'apiKey',
        scopes,
        admin: scopes.has(this.auth.adminScope) || scopes.has('*'),
      });
      this.principals.set(entry, p);
    }
    return p;
  }
}

/** Whether a bind address is reachable only from this machine. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** The one startup warning of an open server (no scheme) that listens beyond loopback. */
export function warnIfOpen(authenticator: Authenticator, host: string, logger: Logger): void {
  if (authenticator.enabled || isLoopback(host)) return;
  logger.warn(
    { host },
    `authentication is OFF and agentd listens on ${host}: anyone who can reach it may call every agent. ` +
      'Turn it on with API_KEY, JWT_SECRET or JWT_JWKS_URL (or the auth section of the config; see docs/security.md), ' +
      'or bind to 127.0.0.1 with --host',
  );
}
