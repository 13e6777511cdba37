/**
 * Token-bucket arithmetic, shared by every rate-limiter backend (the Redis script does the
 * same sums in Lua). A bucket holds up to `burst` tokens and refills at `ratePerSecond`;
 * each request takes one token or is refused with the time until one is there. Over any
 * interval of length t a bucket therefore admits at most `burst + ratePerSecond * t`.
 */

/** One limit: sustained rate and burst (the config's `{ratePerSecond, burst}`). */
export interface BucketLimit {
  readonly ratePerSecond: number;
  readonly burst: number;
}

/** A bucket's state: tokens left at `atMs`. */
export interface BucketState {
  readonly tokens: number;
  readonly atMs: number;
}

/** The outcome of taking one token. */
export interface TakeResult {
  readonly allowed: boolean;
  /** When refused: milliseconds until a token is available (0 when allowed). */
  readonly retryAfterMs: number;
  readonly state: BucketState;
}

/**
 * Takes one token at `nowMs` from a bucket (`undefined`: a new, full bucket). A clock that
 * went backwards refills nothing (the bucket keeps its later time).
 */
export function takeToken(state: BucketState | undefined, limit: BucketLimit, nowMs: number): TakeResult {
  const previous = state ?? { tokens: limit.burst, atMs: nowMs };
  const atMs = Math.max(previous.atMs, nowMs);
  const tokens = Math.min(
    limit.burst,
    previous.tokens + ((atMs - previous.atMs) * limit.ratePerSecond) / 1000,
  );
  if (tokens >= 1) return { allowed: true, retryAfterMs: 0, state: { tokens: tokens - 1, atMs } };
  return {
    allowed: false,
    retryAfterMs: ((1 - tokens) * 1000) / limit.ratePerSecond,
    state: { tokens, atMs },
  };
}

/** Whether a bucket last used at `state` is full again at `nowMs` (forgetting it changes nothing). */
export function isFull(state: BucketState, limit: BucketLimit, nowMs: number): boolean {
  return state.tokens + ((nowMs - state.atMs) * limit.ratePerSecond) / 1000 >= limit.burst;
}

/** `Retry-After` in whole seconds, rounded up, at least 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}
