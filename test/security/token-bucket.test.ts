import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFull, retryAfterSeconds, takeToken, type BucketState } from '../../src/security/token-bucket.js';
import { MemoryRateLimiter } from '../../src/store/memory/memory-rate-limiter.js';

const limitArb = fc.record({
  ratePerSecond: fc.double({ min: 0.1, max: 200, noNaN: true }),
  burst: fc.integer({ min: 1, max: 50 }),
});
/** Request times: non-decreasing, in ms, with bursts of simultaneous requests. */
const timesArb = fc
  .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 3000 })), {
    minLength: 1,
    maxLength: 150,
  })
  .map((gaps) => {
    let t = 1_700_000_000_000;
    return gaps.map((g) => (t += g));
  });

describe('token bucket arithmetic', () => {
  it('never admits more than burst + rate × t in any window of length t', () => {
    fc.assert(
      fc.property(limitArb, timesArb, (limit, times) => {
        let state: BucketState | undefined;
        const admitted = times.map((t) => {
          const r = takeToken(state, limit, t);
          state = r.state;
          return r.allowed;
        });
        for (let i = 0; i < times.length; i++) {
          let count = 0;
          for (let j = i; j < times.length; j++) {
            if (admitted[j]) count++;
            const window = ((times[j] as number) - (times[i] as number)) / 1000;
            expect(count).toBeLessThanOrEqual(limit.burst + limit.ratePerSecond * window + 1e-9);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('admits a full burst at once, refuses the next, and admits again once Retry-After has passed', () => {
    fc.assert(
      fc.property(limitArb, (limit) => {
        const t0 = 5_000;
        let state: BucketState | undefined;
        for (let i = 0; i < limit.burst; i++) {
          const r = takeToken(state, limit, t0);
          expect(r.allowed).toBe(true);
          state = r.state;
        }
        const refused = takeToken(state, limit, t0);
        expect(refused.allowed).toBe(false);
        expect(refused.retryAfterMs).toBeCloseTo(1000 / limit.ratePerSecond, 6);
        expect(takeToken(refused.state, limit, t0 + refused.retryAfterMs * 0.9).allowed).toBe(false);
        expect(takeToken(refused.state, limit, t0 + refused.retryAfterMs + 1e-6).allowed).toBe(true);
      }),
    );
  });

  it('refills nothing when the clock goes backwards', () => {
    const limit = { ratePerSecond: 10, burst: 1 };
    const first = takeToken(undefined, limit, 10_000);
    const earlier = takeToken(first.state, limit, 2_000);
    expect(earlier.allowed).toBe(false);
    expect(earlier.state.atMs).toBe(10_000);
  });

  it('knows when an idle bucket is full again', () => {
    const limit = { ratePerSecond: 2, burst: 4 };
    const r = takeToken(takeToken(undefined, limit, 0).state, limit, 0);
    expect(isFull(r.state, limit, 999)).toBe(false);
    expect(isFull(r.state, limit, 1000)).toBe(true);
  });

  it('rounds Retry-After up to whole seconds, at least one', () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
    expect(retryAfterSeconds(0)).toBe(1);
  });
});

describe('in-process buckets', () => {
  it('keep at most maxBuckets, forgetting the least recently used', () => {
    let now = 0;
    const limiter = new MemoryRateLimiter(3, () => now);
    const limit = { ratePerSecond: 1, burst: 1 };
    expect(limiter.takeNow('a', limit).allowed).toBe(true);
    expect(limiter.takeNow('b', limit).allowed).toBe(true);
    expect(limiter.takeNow('c', limit).allowed).toBe(true);
    expect(limiter.takeNow('a', limit).allowed).toBe(false); // a is now the most recent
    expect(limiter.takeNow('d', limit).allowed).toBe(true); // evicts b
    expect(limiter.size).toBe(3);
    expect(limiter.takeNow('a', limit).allowed).toBe(false); // a was kept
    expect(limiter.takeNow('b', limit).allowed).toBe(true); // b was forgotten: full again
    for (let i = 0; i < 1000; i++) limiter.takeNow(`k${i}`, limit);
    expect(limiter.size).toBe(3);
    now += 1000;
    expect(limiter.takeNow('k999', limit).allowed).toBe(true);
  });
});
