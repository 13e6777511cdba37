/**
 * HTTP and A2A request metrics, and A2A server spans, for the fastify app. Every request
 * is counted when its response ends (SSE streams included), labelled with its route
 * template — never the raw URL. Routes that serve A2A mark the request with the A2A method
 * (from a bounded set), which also starts its server span (parented on the caller's
 * `traceparent`), and, when they answer with an error, its catalogue code.
 */
import type { Context } from '@opentelemetry/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { A2ATransport, AgentdMetrics } from '../../observability/metrics.js';
import { SpanKind, Tracing } from '../../observability/tracing.js';

const A2A = Symbol('agentd.a2a');

interface A2AMark {
  method: string;
  transport: A2ATransport;
  status: string | undefined;
  endpoint: string | undefined;
  span: ReturnType<Tracing['start']>;
}

/** The A2A methods of v1.0: a method name outside this set is labelled `unknown`. */
export const A2A_METHODS = new Set([
  'SendMessage',
  'SendStreamingMessage',
  'GetTask',
  'ListTasks',
  'CancelTask',
  'SubscribeToTask',
  'CreateTaskPushNotificationConfig',
  'GetTaskPushNotificationConfig',
  'ListTaskPushNotificationConfigs',
  'DeleteTaskPushNotificationConfig',
  'GetExtendedAgentCard',
]);

/**
 * v0.3 JSON-RPC method names, served through the compat layer, as the v1.0 operations they
 * are. A Map, not an object literal: the key is the client's method name, and `constructor`
 * or `__proto__` must not find `Object.prototype` members (a function as a label value
 * broke every later scrape).
 */
const V03_METHODS: ReadonlyMap<string, string> = new Map([
  ['message/send', 'SendMessage'],
  ['message/stream', 'SendStreamingMessage'],
  ['tasks/get', 'GetTask'],
  ['tasks/cancel', 'CancelTask'],
  ['tasks/resubscribe', 'SubscribeToTask'],
  ['tasks/pushNotificationConfig/set', 'CreateTaskPushNotificationConfig'],
  ['tasks/pushNotificationConfig/get', 'GetTaskPushNotificationConfig'],
  ['tasks/pushNotificationConfig/list', 'ListTaskPushNotificationConfigs'],
  ['tasks/pushNotificationConfig/delete', 'DeleteTaskPushNotificationConfig'],
  ['agent/getAuthenticatedExtendedCard', 'GetExtendedAgentCard'],
]);

/**
 * Marks the request as an A2A operation (its method, and a finer endpoint template if
 * known) and starts its server span when tracing is on.
 */
export function markA2A(
  request: FastifyRequest,
  tracing: Tracing,
  transport: A2ATransport,
  method: string,
  endpoint?: string,
): void {
  const known = A2A_METHODS.has(method) ? method : (V03_METHODS.get(method) ?? 'unknown');
  const span = tracing.enabled
    ? tracing.start(`A2A ${known}`, SpanKind.SERVER, tracing.extract(request.headers), {
        'rpc.system': 'a2a',
        'rpc.method': known,
        'a2a.transport': transport,
        'http.request.method': request.method,
        ...(endpoint || request.routeOptions.url
          ? { 'http.route': endpoint ?? request.routeOptions.url }
          : {}),
      })
    : undefined;
  (request as unknown as Record<symbol, A2AMark>)[A2A] = {
    method: known,
    transport,
    status: undefined,
    endpoint,
    span,
  };
}

/** The trace context of the request's A2A server span (undefined when not traced). */
export function traceContextOf(request: FastifyRequest): Context | undefined {
  return (request as unknown as Record<symbol, A2AMark | undefined>)[A2A]?.span?.context;
}

/** Records the catalogue code an A2A request was answered with. */
export function markA2AError(request: FastifyRequest, code: string): void {
  const mark = (request as unknown as Record<symbol, A2AMark | undefined>)[A2A];
  if (mark) mark.status = code;
}

/**
 * Watches a request until its response ends, then records its metrics (when on) and ends
 * its A2A server span (when tracing). Called from the app's one `onRequest` hook.
 */
export function observeRequest(
  metrics: AgentdMetrics | undefined,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const started = performance.now();
  reply.raw.once('close', () => {
    const seconds = (performance.now() - started) / 1000;
    const mark = (request as unknown as Record<symbol, A2AMark | undefined>)[A2A];
    const endpoint = mark?.endpoint ?? request.routeOptions.url ?? 'unmatched';
    const status = reply.raw.statusCode;
    metrics?.httpRequest(request.method, endpoint, status, seconds);
    if (mark) {
      const outcome = mark.status ?? (status < 400 ? 'ok' : `HTTP_${status}`);
      metrics?.a2aRequest(mark.method, mark.transport, outcome, seconds);
      mark.span?.span.setAttribute('http.response.status_code', status);
      Tracing.end(mark.span, outcome === 'ok' ? undefined : outcome);
    }
  });
}
