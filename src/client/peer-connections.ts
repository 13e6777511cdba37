/**
 * Keep-alive connection pools for calls to other agents over HTTP (JSON-RPC, HTTP+JSON and
 * card fetches): one undici `Agent` per peer origin, at most `maxConnections` sockets each,
 * carrying the TLS settings {@link Outbound} resolves for that origin (so a private CA or
 * client certificate applies as it would without pooling). Each response is noted in the
 * current attempt's {@link AttemptTrace} so the retry policy sees statuses, Retry-After and
 * error bodies whichever SDK transport made the request.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Agent } from 'undici';
import type { Outbound, OutboundTls } from '../security/outbound.js';
import { errorInfoInBody, retryAfterMs, type AttemptTrace } from './call-policy.js';

interface Pool {
  readonly tls: OutboundTls;
  readonly agent: Agent;
}

export class PeerConnections {
  /** The trace of the attempt in progress (set around each attempt by the caller). */
  static readonly attempt = new AsyncLocalStorage<AttemptTrace>();
  private readonly pools = new Map<string, Pool[]>();
  private closed = false;

  constructor(
    private readonly outbound: Outbound,
    private readonly maxConnections: number,
  ) {}

  /** `fetch` for any peer URL: the target's credentials, through the pool of its origin. */
  readonly fetch = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    const call = this.outbound.for(url, await this.poolFor(url));
    const seen = PeerConnections.attempt.getStore();
    let res: Response;
    try {
      res = await call.fetch(input, init);
    } catch (error) {
      if (seen && !init?.signal?.aborted) seen.networkError = true;
      throw error;
    }
    if (seen) await note(seen, res);
    return res;
  }) as typeof fetch;

  /** How many origins have a pool (for tests and stats). */
  get size(): number {
    return [...this.pools.values()].reduce((n, list) => n + list.length, 0);
  }

  /** Closes every pool: their idle sockets at once, busy ones when their response ends. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()].flat();
    this.pools.clear();
    await Promise.all(all.map((p) => p.agent.close()));
  }

  /** Closes the pools of the longest-known origin (requests in flight on them still finish). */
  private closeOldest(): void {
    const [origin, list] = this.pools.entries().next().value ?? [];
    if (origin === undefined) return;
    this.pools.delete(origin);
    for (const p of list ?? []) void p.agent.close().catch(() => {});
  }

  private async poolFor(url: string): Promise<Agent> {
    if (this.closed) throw new Error('outbound connections are closed (the server is shutting down)');
    const { origin } = new URL(url);
    const tls = this.outbound.tlsFor(url);
    const list = this.pools.get(origin) ?? [];
    // Two targets under one origin may carry different client certificates: a pool each.
    const found = list.find((p) => p.tls === tls);
    if (found) return found.agent;
    const { Agent } = await import('undici');
    const again = (this.pools.get(origin) ?? []).find((p) => p.tls === tls);
    if (again) return again.agent;
    const agent = new Agent({
      connections: this.maxConnections,
      connect: {
        ...(tls.ca ? { ca: [...tls.ca] } : {}),
        ...(tls.cert ? { cert: tls.cert } : {}),
        ...(tls.key ? { key: tls.key } : {}),
      },
    });
    if (!this.pools.has(origin) && this.pools.size >= MAX_ORIGINS) this.closeOldest();
    this.pools.set(origin, [...(this.pools.get(origin) ?? []), { tls, agent }]);
    return agent;
  }
}

/** Peer origins with a pool at most: agents may call URLs they are given. */
const MAX_ORIGINS = 256;

/** Notes status, Retry-After and the ErrorInfo of an error answer (its body read from a clone). */
async function note(seen: AttemptTrace, res: Response): Promise<void> {
  seen.status = res.status;
  const after = retryAfterMs(res.headers.get('retry-after'));
  if (after !== undefined) seen.retryAfterMs = after;
  if (res.status < 400 || !(res.headers.get('content-type') ?? '').includes('json')) return;
  const body: unknown = await res
    .clone()
    .json()
    .catch(() => undefined);
  const info = errorInfoInBody(body);
  if (info) {
    seen.reason = info.reason;
    seen.retryableFlag = info.retryable;
  }
}
