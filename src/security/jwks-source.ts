/**
 * An issuer's JSON Web Key Set, fetched over HTTP and kept: an unknown `kid` refetches it
 * at most once per cooldown (so key rotation at the issuer works without a restart, and a
 * flood of forged `kid`s cannot turn into a flood of fetches), and a set older than
 * MAX_AGE_MS is refetched on the next use. `onChange` hears of every set that differs from
 * the one before, so caches of tokens verified with old keys can be dropped.
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';

/** A key set older than this is refetched (keys removed at the issuer stop working by then). */
const MAX_AGE_MS = 10 * 60_000;
const FETCH_TIMEOUT_MS = 5000;
/** After a failed fetch, the next one waits this long (requests meanwhile fail at once). */
const FAILED_RETRY_MS = 1000;

export class JwksSource {
  private keys: JWTVerifyGetKey | undefined;
  private raw = '';
  private fetchedAt = -Infinity;
  private inflight: Promise<boolean> | undefined;
  private lastError: Error | undefined;

  constructor(
    /** The JWKS URL (may need OIDC discovery first, hence a function). */
    private readonly url: () => Promise<string>,
    private readonly cooldownMs: number,
    private readonly logger: Logger,
    private readonly onChange: () => void,
  ) {}

  /** The current key set, fetched on first use and when stale. */
  async current(): Promise<JWTVerifyGetKey> {
    if (!this.keys || Date.now() - this.fetchedAt > MAX_AGE_MS) {
      // While the issuer is unreachable, requests fail fast instead of each causing a fetch.
      if (this.lastError && Date.now() - this.fetchedAt < FAILED_RETRY_MS) {
        if (!this.keys) throw this.lastError;
      } else {
        try {
          await this.refetch();
          this.lastError = undefined;
        } catch (error) {
          this.lastError = error as Error;
          // A stale set keeps serving while the issuer is down; no set at all cannot.
          if (!this.keys) throw error;
        }
      }
    }
    if (!this.keys) throw new Error('no JWKS');
    return this.keys;
  }

  /**
   * A token named a key the set lacks: refetch, unless the last fetch is younger than the
   * cooldown. Resolves whether the set changed.
   */
  async unknownKid(): Promise<boolean> {
    if (this.inflight) return this.inflight;
    if (Date.now() - this.fetchedAt < this.cooldownMs) return false;
    return this.refetch();
  }

  private refetch(): Promise<boolean> {
    this.inflight ??= this.fetchOnce().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async fetchOnce(): Promise<boolean> {
    const url = await this.url();
    this.fetchedAt = Date.now();
    const res = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`JWKS ${url} answered HTTP ${res.status}`);
    const text = await res.text();
    const jwks = JSON.parse(text) as JSONWebKeySet;
    if (!Array.isArray(jwks.keys)) throw new Error(`JWKS ${url} has no "keys" array`);
    const changed = text !== this.raw;
    if (changed) {
      this.keys = createLocalJWKSet(jwks);
      const first = this.raw === '';
      this.raw = text;
      this.logger.info({ jwks_url: url, keys: jwks.keys.length }, first ? 'JWKS loaded' : 'JWKS changed');
      if (!first) this.onChange();
    }
    return changed;
  }
}

/** The `jwks_uri` of an OpenID Connect issuer, from its discovery document. */
export async function discoverJwksUrl(issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const res = await fetch(url, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`OIDC discovery ${url} answered HTTP ${res.status}`);
  const doc = (await res.json()) as { jwks_uri?: unknown };
  if (typeof doc.jwks_uri !== 'string') throw new Error(`OIDC discovery ${url} names no jwks_uri`);
  return doc.jwks_uri;
}
