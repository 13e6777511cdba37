/**
 * What the caller keeps per remote agent (keyed by its card URL): the retry policy and the
 * circuit breaker its calls run under, the calls in flight to it from this process, and its
 * name for metric labels and error messages. The breaker counts only failures the retry
 * policy would retry (the peer unreachable, overloaded or slow): a peer that answers "bad
 * request" is alive.
 */
import {
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  retry,
  wrap,
  type CircuitBreakerPolicy,
  type IPolicy,
} from 'cockatiel';
import { AttemptFailure, PeerBackoff } from './call-policy.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** The resilience settings (`outbound.retry`, `outbound.breaker`). */
export interface PeerPolicyOptions {
  readonly retry: { readonly attempts: number; readonly initialDelayMs: number; readonly maxDelayMs: number };
  readonly breaker: { readonly threshold: number; readonly halfOpenAfterMs: number };
}

const retryable = handleWhen((e) => e instanceof AttemptFailure);

export class PeerState {
  /** Retries around the breaker: each attempt counts toward opening it. */
  readonly policy: IPolicy;
  /** The remote agent's name once its card is known; until then its host. */
  name: string;
  private inFlightCount = 0;
  private readonly breaker: CircuitBreakerPolicy;
  private openedAt: number | undefined;

  constructor(
    /** The agent's card URL. */
    readonly key: string,
    private readonly options: PeerPolicyOptions,
    onRetry: (peer: PeerState) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.name = new URL(key).host;
    this.breaker = circuitBreaker(retryable, {
      halfOpenAfter: options.breaker.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.breaker.threshold),
    });
    this.breaker.onBreak(() => (this.openedAt = this.now()));
    this.breaker.onReset(() => (this.openedAt = undefined));
    const retrying = retry(retryable, {
      maxAttempts: options.retry.attempts - 1,
      backoff: new PeerBackoff(options.retry.initialDelayMs, options.retry.maxDelayMs),
    });
    retrying.onRetry(() => onRetry(this));
    this.policy = wrap(retrying, this.breaker);
  }

  /**
   * Closed (calls go through), open (they fail fast) or half-open: the open time has passed,
   * so the next call is let through as a trial (its success closes the breaker).
   */
  get state(): BreakerState {
    const state = this.breaker.state;
    if (state === CircuitState.Closed) return 'closed';
    if (state === CircuitState.HalfOpen) return 'half-open';
    const retryAt = this.retryAt;
    return retryAt !== undefined && this.now() >= retryAt ? 'half-open' : 'open';
  }

  /** When an open breaker lets a trial call through (epoch ms), or undefined when not open. */
  get retryAt(): number | undefined {
    return this.openedAt === undefined ? undefined : this.openedAt + this.options.breaker.halfOpenAfterMs;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Counts a call in flight until the returned release is called (once; later calls do nothing). */
  enter(): () => void {
    this.inFlightCount++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlightCount--;
    };
  }
}
