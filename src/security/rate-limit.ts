/**
 * Rate limits per client IP and per principal, server-wide and per agent (config
 * `rateLimits`). Every transport checks each request before any work: the client address's
 * buckets first (the agent's own, then the server-wide one), before authentication, so that
 * requests authentication refuses (guessed keys, forged tokens) are limited too; then the
 * principal's buckets (agent's, then server-wide) once authentication has named it. The first
 * bucket without a token refuses the request with RATE_LIMITED and the time until that bucket
 * has a token again; buckets before it keep the token they gave (each bucket is its own key,
 * so on Redis Cluster no script can take from all of them at once).
 *
 * When the limiter's backend cannot answer (Redis down), the request is admitted: a limit
 * that fails closed would turn a Redis outage into a full outage of every replica, while
 * the connection caps, body and header limits still bound each client. Every such admission
 * is counted (`agentd_rate_limit_store_errors_total`) and logged as a warning, at most once
 * per {@link WARN_EVERY_MS}.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { rateLimitSchema } from '../config/security-schema.js';
import { AgentdError } from '../errors.js';
import type { RateLimiter } from '../store/ports.js';
import type { Principal } from './principal.js';
import { retryAfterSeconds, type BucketLimit } from './token-bucket.js';

export type RateLimitConfig = z.infer<typeof rateLimitSchema>;

/** Which kind of bucket refused a request (the `limit` metric label and ErrorInfo metadata). */
export type LimitKind = 'ip' | 'principal';

/** Where refusals and backend failures are counted (AgentdMetrics implements it). */
export interface RateLimitObserver {
  /** A request was refused; `agent` is the agent whose own limit refused it, else ''. */
  rateLimited(limit: LimitKind, agent: string): void;
  /** The limiter's backend failed and a check let its request through (once per check). */
  rateLimitStoreError(): void;
}

/** Who sent a request and to which agent. */
export interface RateLimitSubject {
  /** The client address key (see client-ip.ts). */
  readonly ip: string;
  /** The authenticated caller; undefined or anonymous ones count per IP only. */
  readonly principal: Principal | undefined;
  /** The agent addressed, when the request names one. */
  readonly agent: string | undefined;
}

/** ErrorInfo metadata key of a RATE_LIMITED error holding `Retry-After` in seconds. */
export const RETRY_AFTER_KEY = 'retryAfterSeconds';

/** Seconds a refused client should wait before retrying, for errors that carry it. */
export function retryAfterOf(error: AgentdError): number | undefined {
  const raw = error.data?.[RETRY_AFTER_KEY];
  const seconds = raw === undefined ? Number.NaN : Number(raw);
  return Number.isInteger(seconds) && seconds > 0 ? seconds : undefined;
}

const BOTH: readonly LimitKind[] = ['ip', 'principal'];

/** At most one "limiter unavailable" warning this often. */
const WARN_EVERY_MS = 10_000;

interface Bucket {
  readonly key: string;
  readonly kind: LimitKind;
  readonly agent: string;
  readonly limit: BucketLimit;
}

export class RateLimitGuard {
  private lastWarnAt = Number.NEGATIVE_INFINITY;
  private failuresSinceWarn = 0;

  constructor(
    private readonly config: RateLimitConfig,
    private readonly limiter: RateLimiter,
    private readonly logger: Logger,
    private readonly observer: RateLimitObserver | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether any limit is configured (no limit: transports skip the check). */
  static configured(config: RateLimitConfig): boolean {
    return (
      config.perIp !== undefined ||
      config.perPrincipal !== undefined ||
      Object.values(config.agents).some((a) => a.perIp !== undefined || a.perPrincipal !== undefined)
    );
  }

  /** Whether any bucket of this kind is configured (none: transports skip that check). */
  limits(kind: LimitKind): boolean {
    const key = kind === 'ip' ? 'perIp' : 'perPrincipal';
    return (
      this.config[key] !== undefined || Object.values(this.config.agents).some((a) => a[key] !== undefined)
    );
  }

  /** Trusted proxy hops at the right of X-Forwarded-For (0: the socket's address is the client's). */
  get trustedProxies(): number {
    return this.config.trustedProxies ?? (this.config.trustProxy ? 1 : 0);
  }

  /**
   * Resolves when the request may go on; rejects with RATE_LIMITED when a bucket is empty.
   * `kinds` picks the buckets: HTTP checks the address before authentication and the
   * principal after it.
   */
  async check(subject: RateLimitSubject, kinds: readonly LimitKind[] = BOTH): Promise<void> {
    let failure: { error: unknown } | undefined;
    for (const bucket of this.bucketsFor(subject, kinds)) {
      let decision;
      try {
        decision = await this.limiter.take(bucket.key, bucket.limit);
      } catch (error) {
        failure ??= { error };
        continue;
      }
      if (decision.allowed) continue;
      this.observer?.rateLimited(bucket.kind, bucket.agent);
      const seconds = retryAfterSeconds(decision.retryAfterMs);
      const who = bucket.kind === 'ip' ? 'this client address' : 'this principal';
      throw new AgentdError(
        'RATE_LIMITED',
        `Too many requests from ${who}${bucket.agent ? ` to agent ${bucket.agent}` : ''}; retry after ${seconds} s`,
        {
          limit: bucket.kind,
          ...(bucket.agent ? { agent: bucket.agent } : {}),
          [RETRY_AFTER_KEY]: String(seconds),
        },
      );
    }
    if (failure) this.failedOpen(failure.error);
  }

  private bucketsFor(subject: RateLimitSubject, kinds: readonly LimitKind[]): Bucket[] {
    const principal = subject.principal && subject.principal.id !== '' ? subject.principal.id : undefined;
    const scopes: Array<[string, Pick<RateLimitConfig, 'perIp' | 'perPrincipal'>]> = [];
    const agent = subject.agent;
    if (agent !== undefined && Object.hasOwn(this.config.agents, agent)) {
      const limits = this.config.agents[agent];
      if (limits) scopes.push([agent, limits]);
    }
    scopes.push(['', this.config]);
    const buckets: Bucket[] = [];
    if (kinds.includes('ip')) {
      for (const [scope, { perIp }] of scopes)
        if (perIp) buckets.push({ key: `ip|${scope}|${subject.ip}`, kind: 'ip', agent: scope, limit: perIp });
    }
    if (kinds.includes('principal') && principal !== undefined) {
      for (const [scope, { perPrincipal }] of scopes)
        if (perPrincipal)
          buckets.push({
            key: `p|${scope}|${principal}`,
            kind: 'principal',
            agent: scope,
            limit: perPrincipal,
          });
    }
    return buckets;
  }

  private failedOpen(error: unknown): void {
    this.observer?.rateLimitStoreError();
    this.failuresSinceWarn++;
    const now = this.now();
    if (now - this.lastWarnAt < WARN_EVERY_MS) return;
    this.logger.warn(
      { err: error, admitted_unchecked: this.failuresSinceWarn },
      'rate limiter unavailable: admitting requests without a rate limit until it answers',
    );
    this.lastWarnAt = now;
    this.failuresSinceWarn = 0;
  }
}
