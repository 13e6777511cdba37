/**
 * HTTP and A2A request metrics for the fastify app. Every request is counted when its
 * response ends (SSE streams included), labelled with its route template — never the raw
 * URL. Routes that serve A2A mark the request with the A2A method (from a bounded set)
 * and, when they answer with an error, its catalogue code.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { A2ATransport, AgentdMetrics } from '../../observability/metrics.js';

const A2A = Symbol('agentd.a2a');

interface A2AMark {
  method: string;
  transport: A2ATransport;
  status: string | undefined;
  endpoint: string | undefined;
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

/** Marks the request as an A2A operation (its method, and a finer endpoint template if known). */
export function markA2A(
  request: FastifyRequest,
  transport: A2ATransport,
  method: string,
  endpoint?: string,
): void {
  (request as unknown as Record<symbol, A2AMark>)[A2A] = {
    method: A2A_METHODS.has(method) ? method : 'unknown',
    transport,
    status: undefined,
    endpoint,
  };
}

/** Records the catalogue code an A2A request was answered with. */
export function markA2AError(request: FastifyRequest, code: string): void {
  const mark = (request as unknown as Record<symbol, A2AMark | undefined>)[A2A];
  if (mark) mark.status = code;
}

export function installHttpMetrics(app: FastifyInstance, metrics: AgentdMetrics): void {
  app.addHook('onRequest', (request, reply, done) => {
    const started = performance.now();
    reply.raw.once('close', () => {
      const seconds = (performance.now() - started) / 1000;
      const mark = (request as unknown as Record<symbol, A2AMark | undefined>)[A2A];
      const endpoint = mark?.endpoint ?? request.routeOptions.url ?? 'unmatched';
      const status = reply.raw.statusCode;
      metrics.httpRequest(request.method, endpoint, status, seconds);
      if (mark) {
        const outcome = mark.status ?? (status < 400 ? 'ok' : `HTTP_${status}`);
        metrics.a2aRequest(mark.method, mark.transport, outcome, seconds);
      }
    });
    done();
  });
}
