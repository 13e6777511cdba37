/** The pure decisions of outbound calls: what is retried, how long to wait, how long a card is fresh. */
import { describe, expect, it } from 'vitest';
import { isRetryable, retryAfterMs, retryDelay } from '../../src/client/call-policy.js';
import { DEFAULT_CARD_MAX_AGE_MS, maxAgeMs } from '../../src/client/card-cache.js';

describe('call policy', () => {
  it('retries passing failures and nothing else', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(isRetryable(refused, {})).toBe(true);
    expect(isRetryable(new Error('x'), { networkError: true })).toBe(true);
    for (const status of [429, 502, 503, 504]) expect(isRetryable(new Error('x'), { status })).toBe(true);
    for (const status of [400, 401, 403, 404, 409, 500])
      expect(isRetryable(new Error('x'), { status })).toBe(false);
    const info = (reason: string, retryable = false): unknown => ({
      data: [{ reason, ...(retryable ? { metadata: { retryable: 'true' } } : {}) }],
    });
    expect(isRetryable(info('QUEUE_FULL'), {})).toBe(true);
    expect(isRetryable(info('SOMETHING_NEW', true), {})).toBe(true);
    expect(isRetryable(info('INVALID_PARAMS'), { status: 503 })).toBe(false);
    expect(isRetryable(new Error('x'), { status: 502, reason: 'AGENT_CARD_UNVERIFIED' })).toBe(false);
    expect(isRetryable({ transport: 'grpc', status: 14 }, {})).toBe(true);
    expect(isRetryable({ transport: 'grpc', status: 3 }, {})).toBe(false);
  });

  it('backs off exponentially with jitter, capped, never below Retry-After', () => {
    expect(retryDelay(1, 100, 5000, undefined, () => 0)).toBe(50);
    expect(retryDelay(1, 100, 5000, undefined, () => 1)).toBe(100);
    expect(retryDelay(3, 100, 5000, undefined, () => 1)).toBe(400);
    expect(retryDelay(10, 100, 5000, undefined, () => 1)).toBe(5000);
    expect(retryDelay(1, 100, 5000, 2000, () => 0)).toBe(2000);
    expect(retryDelay(1, 100, 5000, 60_000, () => 0)).toBe(5000);
  });

  it('reads Retry-After as seconds or a date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });

  it('keeps a card for its max-age, 60 s without one, not at all with no-cache', () => {
    expect(maxAgeMs('public, max-age=300')).toBe(300_000);
    expect(maxAgeMs(null)).toBe(DEFAULT_CARD_MAX_AGE_MS);
    expect(maxAgeMs('public')).toBe(DEFAULT_CARD_MAX_AGE_MS);
    expect(maxAgeMs('no-cache')).toBe(0);
  });
});
