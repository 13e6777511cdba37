/**
 * Which failures of a call to another agent are worth another attempt, and how long to
 * wait before it: pure decisions over what the HTTP layer saw ({@link AttemptTrace}) and
 * the error the SDK client threw. A passing condition (the peer unreachable, overloaded,
 * draining, or slow) is retried; a refusal that would be repeated (a bad request, missing
 * credentials, an unknown task) is not.
 */
import type { IBackoff, IBackoffFactory, IRetryBackoffContext } from 'cockatiel';

/** What the HTTP layer saw during one attempt (filled by the pooled fetch). */
export interface AttemptTrace {
  /** Status of the last HTTP response. */
  status?: number;
  /** Its `Retry-After`, in milliseconds. */
  retryAfterMs?: number;
  /** The `google.rpc.ErrorInfo` reason in its error body, and whether it said `retryable`. */
  reason?: string;
  retryableFlag?: boolean;
  /** A request failed before any response (refused, reset, closed). */
  networkError?: boolean;
}

/** How an attempt failed, as the retry and breaker policies see it. */
export class AttemptFailure extends Error {
  override readonly name = 'AttemptFailure';
  constructor(
    readonly original: unknown,
    /** The attempt ran out of time (not the caller's abort). */
    readonly timedOut: boolean,
    /** The peer's `Retry-After`, when it sent one. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(timedOut ? 'attempt timed out' : String((original as Error | undefined)?.message ?? original));
  }
}

/** Socket-level failures: the peer was not reached, or dropped the connection. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** ErrorInfo reasons of passing conditions (agentd's and the A2A/gRPC ones). */
const RETRYABLE_REASONS = new Set([
  'UNAVAILABLE',
  'RESOURCE_EXHAUSTED',
  'QUEUE_FULL',
  'SHUTTING_DOWN',
  'RATE_LIMITED',
  'STORE_UNAVAILABLE',
  'PEER_UNAVAILABLE',
  'PEER_TIMEOUT',
]);

/** HTTP statuses of passing conditions. */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/** gRPC UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED. */
const RETRYABLE_GRPC = new Set([14, 8, 4]);

/** Whether the failure `error` of an attempt (with what its HTTP layer saw) may succeed if tried again. */
export function isRetryable(error: unknown, seen: AttemptTrace): boolean {
  if (seen.networkError || connectionCode(error) !== undefined) return true;
  const info =
    errorInfoOf(error) ?? (seen.reason ? { reason: seen.reason, retryable: seen.retryableFlag } : undefined);
  if (info) return info.retryable === true || RETRYABLE_REASONS.has(info.reason);
  const e = error as { transport?: unknown; status?: unknown } | null;
  if (e?.transport === 'grpc' && typeof e.status === 'number') return RETRYABLE_GRPC.has(e.status);
  if ((error as { code?: unknown } | null)?.code === 14) return true; // grpc-js before the SDK wraps it
  return seen.status !== undefined && RETRYABLE_STATUS.has(seen.status);
}

/** The code of a socket error anywhere in `error`'s cause chain. */
function connectionCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return code;
  }
  return undefined;
}

/** The ErrorInfo of a JSON-RPC error the SDK raised (`data: [ErrorInfo]`), if any. */
function errorInfoOf(error: unknown): { reason: string; retryable: boolean } | undefined {
  const data = (error as { data?: unknown } | null)?.data;
  return Array.isArray(data) ? findErrorInfo(data) : undefined;
}

/**
 * The ErrorInfo in an A2A error body: `error.details` (HTTP+JSON `google.rpc.Status`) or
 * `error.data` (JSON-RPC), or undefined.
 */
export function errorInfoInBody(body: unknown): { reason: string; retryable: boolean } | undefined {
  const error = (body as { error?: { details?: unknown; data?: unknown } } | null)?.error;
  const list = error?.details ?? error?.data;
  return Array.isArray(list) ? findErrorInfo(list) : undefined;
}

function findErrorInfo(list: readonly unknown[]): { reason: string; retryable: boolean } | undefined {
  for (const item of list) {
    const { reason, metadata } = (item ?? {}) as { reason?: unknown; metadata?: { retryable?: unknown } };
    if (typeof reason === 'string') return { reason, retryable: metadata?.retryable === 'true' };
  }
  return undefined;
}

/** `Retry-After` (delay seconds or an HTTP-date) in milliseconds from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * The delay before retry number `attempt` (1 for the first retry): `initialMs · 2^(attempt-1)`
 * capped at `maxMs`, with "equal jitter" (a random point in its upper half) so that callers
 * failing together do not retry together; never shorter than the peer's Retry-After, which
 * is honoured up to `maxMs`.
 */
export function retryDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  retryAfter: number | undefined,
  random: () => number = Math.random,
): number {
  const exp = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + random() * (exp / 2);
  return Math.round(Math.max(jittered, Math.min(retryAfter ?? 0, maxMs)));
}

/** {@link retryDelay} as a cockatiel backoff (it reads the Retry-After of the failed attempt). */
export class PeerBackoff implements IBackoffFactory<IRetryBackoffContext<unknown>> {
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  next(context: IRetryBackoffContext<unknown>): IBackoff<IRetryBackoffContext<unknown>> {
    const failed = 'error' in context.result ? context.result.error : undefined;
    const retryAfter = failed instanceof AttemptFailure ? failed.retryAfterMs : undefined;
    return {
      duration: retryDelay(context.attempt, this.initialMs, this.maxMs, retryAfter),
      next: (c) => this.next(c),
    };
  }
}
