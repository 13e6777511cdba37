/**
 * Tool calls in flight on this server's MCP endpoint, by client and JSON-RPC id. A 2025-era
 * client served statelessly cancels a call with `notifications/cancelled` on a separate
 * POST, which a fresh server instance receives that never saw the call; this registry lets
 * that notification reach the call it names.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** A registered call: aborted when a matching cancellation arrives. */
export interface CallRegistration {
  readonly signal: AbortSignal;
  release(): void;
}

export class McpCallRegistry {
  private readonly calls = new Map<string, Set<AbortController>>();

  /** Registers a call from `client` with JSON-RPC id `requestId`; release it when it ends. */
  register(client: string, requestId: string | number): CallRegistration {
    const key = callKey(client, requestId);
    const controller = new AbortController();
    let set = this.calls.get(key);
    if (!set) {
      set = new Set();
      this.calls.set(key, set);
    }
    set.add(controller);
    return {
      signal: controller.signal,
      release: () => {
        set.delete(controller);
        if (set.size === 0 && this.calls.get(key) === set) this.calls.delete(key);
      },
    };
  }

  /**
   * Aborts the call from `client` with this id. Without sessions, ids identify a call only
   * within one client, and clients are told apart by address and credentials; when that
   * matches more than one call, cancelling is ambiguous and nothing is aborted.
   */
  cancel(client: string, requestId: unknown): boolean {
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return false;
    const set = this.calls.get(callKey(client, requestId));
    if (!set || set.size !== 1) return false;
    for (const controller of set) controller.abort();
    return true;
  }
}

/**
 * Who is calling, as far as a stateless endpoint can tell: the authenticated principal, the
 * peer address, the credentials and the client software. Hashed, so no token stays in memory
 * as a key. The principal keeps callers apart whatever scheme proved them (an API key or a
 * client certificate is not in `Authorization`): one principal never cancels another's call.
 */
export function clientKey(request: FastifyRequest): string {
  const principal = request.principal ? `${request.principal.scheme}:${request.principal.id}` : '';
  const authorization = request.headers.authorization ?? '';
  const agent = request.headers['user-agent'] ?? '';
  return createHash('sha256')
    .update(`${principal}\n${request.ip}\n${authorization}\n${agent}`)
    .digest('base64url');
}

function callKey(client: string, requestId: string | number): string {
  return `${client}\n${typeof requestId}:${requestId}`;
}
