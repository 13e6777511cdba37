/**
 * What transports put into the SDK's `ServerCallContext` for the engine, and how the
 * engine reads it back: the caller's abort signal, request id and trace context.
 */
import type { ServerCallContext } from '@a2a-js/sdk/server';
import { randomUUID } from 'node:crypto';

/** Key under which transports put an AbortSignal in `ServerCallContext.state`. */
export const ABORT_SIGNAL_STATE_KEY = 'agentd.abortSignal';
/** Key under which transports put the trace context of the request's server span. */
export const TRACE_CONTEXT_STATE_KEY = 'agentd.traceContext';
/** Key under which transports put the request id (`x-request-id`, or one made up) in `ServerCallContext.state`. */
export const REQUEST_ID_STATE_KEY = 'agentd.requestId';

/** A client's `x-request-id` when it is a sane token (it lands in logs), else a new one. */
export function requestIdFrom(header: unknown): string {
  return typeof header === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : randomUUID();
}

/** The caller's abort signal, when its transport gave one. */
export function signalOf(ctx: ServerCallContext): AbortSignal | undefined {
  const s = ctx.state.get(ABORT_SIGNAL_STATE_KEY);
  return s instanceof AbortSignal ? s : undefined;
}

/** The tenant a request addresses: its own field, else the one its transport resolved. */
export function tenantOf(paramsTenant: string, ctx: ServerCallContext): string {
  return paramsTenant || ctx.tenant || '';
}

/** A controller that also aborts when `parent` does. */
export function linkedController(parent: AbortSignal | undefined): AbortController {
  const controller = new AbortController();
  if (parent) {
    if (parent.aborted) controller.abort();
    else
      parent.addEventListener('abort', () => controller.abort(), { once: true, signal: controller.signal });
  }
  return controller;
}
