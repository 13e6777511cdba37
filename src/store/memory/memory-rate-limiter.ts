import { takeToken, type BucketLimit, type BucketState } from '../../security/token-bucket.js';
import type { RateDecision, RateLimiter } from '../ports.js';

/**
 * Token buckets in this process. At most `maxBuckets` are kept: a Map in use order, the least
 * recently used evicted first. A bucket idle long enough to be full is the same as no bucket,
 * so eviction only ever forgets buckets that went quiet for longest; under a flood of new keys
 * a forgotten key starts again with a full bucket.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, BucketState>();

  constructor(
    private readonly maxBuckets: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Buckets held now (for tests of the bound). */
  get size(): number {
    return this.buckets.size;
  }

  take(key: string, limit: BucketLimit): Promise<RateDecision> {
    return Promise.resolve(this.takeNow(key, limit));
  }

  /** The synchronous take behind {@link take}. */
  takeNow(key: string, limit: BucketLimit): RateDecision {
    const previous = this.buckets.get(key);
    const result = takeToken(previous, limit, this.now());
    if (previous) this.buckets.delete(key);
    this.buckets.set(key, result.state);
    if (this.buckets.size > this.maxBuckets) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return { allowed: result.allowed, retryAfterMs: result.retryAfterMs };
  }
}
