import { AgentdError } from '../../errors.js';

/**
 * Wraps a port object so every promise it returns turns a Redis connection failure into
 * the catalogue's retryable STORE_UNAVAILABLE (HTTP 503, gRPC UNAVAILABLE) instead of an
 * internal error. Catalogue errors (e.g. TASK_CONFLICT) pass through unchanged.
 */
export function guardUnavailable<T extends object>(port: T): T {
  return new Proxy(port, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        return result instanceof Promise
          ? result.catch((error: unknown) => Promise.reject(toStoreError(error)))
          : result;
      };
    },
  });
}

/** A Redis failure as the catalogue's STORE_UNAVAILABLE; catalogue errors unchanged. */
export function toStoreError(error: unknown): unknown {
  if (error instanceof AgentdError) return error;
  return new AgentdError(
    'STORE_UNAVAILABLE',
    `The state store (Redis) is unavailable: ${(error as Error)?.message ?? String(error)}; retry later`,
    undefined,
    { cause: error },
  );
}
