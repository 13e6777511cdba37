import {
  AgentCard,
  ListTaskPushNotificationConfigsResponse,
  SendMessageRequest,
  StreamResponse,
  Task,
  TaskPushNotificationConfig,
  taskStateFromJSON,
} from '@a2a-js/sdk';
import type { ListTasksRequest, MessageFns } from '@a2a-js/sdk';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { err, invalidParams, toAgentdError, toRestErrorBody } from '../../errors.js';
import type { HostedAgent } from '../../engine/hosted-agent.js';
import { listTasksToJson, sendMessageResultToJson } from '../jsonrpc.js';
import {
  callContext,
  checkVersion,
  disconnectController,
  lastEventId,
  pumpSse,
  queryParam,
  UNSUPPORTED_BODY,
  type HttpDeps,
} from './http-context.js';
import { markA2A } from './http-metrics.js';
import { sendRestError } from './http-errors.js';
import { isV03RestRequest, V03RestRoutes } from './v03-rest-routes.js';

const A2A_JSON = 'application/a2a+json';

/** A matched REST route: its template (a bounded metric label) and path parameters. */
export interface RestMatch {
  readonly route: string;
  readonly tenant: string;
  readonly taskId: string;
  readonly configId: string;
}

/**
 * Matches the HTTP+JSON paths of A2A §11.3 (below an agent's `/rest` base), with or
 * without a leading `{tenant}` segment. Returns undefined when nothing matches.
 */
export function matchRestRoute(method: string, path: string): RestMatch | undefined {
  const segments = path.split('/').filter((s) => s !== '');
  return (
    matchSegments(method, segments, '') ??
    (segments.length > 1 ? matchSegments(method, segments.slice(1), segments[0] ?? '') : undefined)
  );
}

function matchSegments(method: string, s: string[], tenant: string): RestMatch | undefined {
  const m = (route: string, taskId = '', configId = ''): RestMatch => ({
    route: tenant ? `/{tenant}${route}` : route,
    tenant,
    taskId,
    configId,
  });
  const [a, b, c, d] = s;
  if (s.length === 1 && method === 'POST' && a === 'message:send') return m('/message:send');
  if (s.length === 1 && method === 'POST' && a === 'message:stream') return m('/message:stream');
  if (s.length === 1 && method === 'GET' && a === 'tasks') return m('/tasks');
  if (s.length === 1 && method === 'GET' && a === 'extendedAgentCard') return m('/extendedAgentCard');
  if (a !== 'tasks' || !b) return undefined;
  if (s.length === 2) {
    if (method === 'POST' && b.endsWith(':cancel'))
      return m('/tasks/{id}:cancel', b.slice(0, -':cancel'.length));
    if ((method === 'POST' || method === 'GET') && b.endsWith(':subscribe')) {
      return m('/tasks/{id}:subscribe', b.slice(0, -':subscribe'.length));
    }
    if (method === 'GET' && !b.includes(':')) return m('/tasks/{id}', b);
    return undefined;
  }
  if (c !== 'pushNotificationConfigs') return undefined;
  if (s.length === 3 && (method === 'POST' || method === 'GET'))
    return m('/tasks/{id}/pushNotificationConfigs', b);
  if (s.length === 4 && d && (method === 'GET' || method === 'DELETE')) {
    return m('/tasks/{id}/pushNotificationConfigs/{configId}', b, d);
  }
  return undefined;
}

/** The A2A method an HTTP+JSON route serves. */
function restMethod(httpMethod: string, route: string): string {
  switch (route.replace('/{tenant}', '')) {
    case '/message:send':
      return 'SendMessage';
    case '/message:stream':
      return 'SendStreamingMessage';
    case '/tasks':
      return 'ListTasks';
    case '/extendedAgentCard':
      return 'GetExtendedAgentCard';
    case '/tasks/{id}:cancel':
      return 'CancelTask';
    case '/tasks/{id}:subscribe':
      return 'SubscribeToTask';
    case '/tasks/{id}':
      return 'GetTask';
    case '/tasks/{id}/pushNotificationConfigs':
      return httpMethod === 'POST' ? 'CreateTaskPushNotificationConfig' : 'ListTaskPushNotificationConfigs';
    default:
      return httpMethod === 'DELETE' ? 'DeleteTaskPushNotificationConfig' : 'GetTaskPushNotificationConfig';
  }
}

/**
 * `/a2a/:agent/rest/*`: the HTTP+JSON binding, including tenant-prefixed paths; v0.3
 * requests (see {@link isV03RestRequest}) go to the SDK's v0.3 REST handler, returned so
 * shutdown can end its streams.
 */
export function registerRestRoutes(app: FastifyInstance, deps: HttpDeps): V03RestRoutes {
  const v03 = new V03RestRoutes(deps);
  app.route<{ Params: { agent: string; '*': string } }>({
    method: ['GET', 'POST', 'DELETE'],
    url: '/a2a/:agent/rest/*',
    handler: async (request, reply) => {
      if (isV03RestRequest(request, request.params['*'])) {
        return v03.serve(request.params.agent, request.params['*'], request, reply);
      }
      try {
        const agent = deps.engine.agent(request.params.agent);
        const match = matchRestRoute(request.method, request.params['*']);
        if (!match) {
          throw err('ROUTE_NOT_FOUND', `No HTTP+JSON route for ${request.method} /${request.params['*']}`, {
            path: request.params['*'],
          });
        }
        markA2A(
          request,
          deps.tracing,
          'rest',
          restMethod(request.method, match.route),
          `/a2a/:agent/rest${match.route}`,
        );
        checkVersion(request, ['1.0']);
        return await handle(deps, agent, match, request, reply);
      } catch (error) {
        return sendRestError(deps.logger, reply, error);
      }
    },
  });
  return v03;
}

async function handle(
  deps: HttpDeps,
  agent: HostedAgent,
  match: RestMatch,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { engine } = deps;
  const query = (name: string): string | undefined => queryParam(request, name);
  const tenant = match.tenant;
  const send = (status: number, json: unknown): FastifyReply =>
    reply.code(status).type(A2A_JSON).send(JSON.stringify(json));
  switch (match.route.replace('/{tenant}', '')) {
    case '/message:send': {
      const params = decodeBody(SendMessageRequest, { ...jsonBody(request), tenant });
      return send(
        200,
        sendMessageResultToJson(await engine.sendMessage(agent, params, callContext(request))),
      );
    }
    case '/message:stream': {
      const params = decodeBody(SendMessageRequest, { ...jsonBody(request), tenant });
      const controller = disconnectController(reply);
      const records = engine.sendMessageStream(
        agent,
        params,
        callContext(request, controller.signal),
        controller.signal,
      );
      await pumpSse(deps, reply, controller, records, sseData, sseError);
      return reply;
    }
    case '/tasks/{id}:subscribe': {
      const controller = disconnectController(reply);
      const afterSeq = lastEventId(request);
      const records = engine.subscribe(
        agent,
        { id: match.taskId, tenant },
        callContext(request, controller.signal),
        {
          signal: controller.signal,
          ...(afterSeq !== undefined ? { afterSeq } : {}),
        },
      );
      await pumpSse(deps, reply, controller, records, sseData, sseError);
      return reply;
    }
    case '/tasks/{id}': {
      const historyLength = intParam(query('historyLength'), 'historyLength');
      const task = await engine.getTask(
        agent,
        { id: match.taskId, tenant, historyLength },
        callContext(request),
      );
      return send(200, Task.toJSON(task));
    }
    case '/tasks/{id}:cancel':
      return send(
        200,
        Task.toJSON(
          await engine.cancelTask(
            agent,
            { id: match.taskId, tenant, metadata: undefined },
            callContext(request),
          ),
        ),
      );
    case '/tasks': {
      const includeArtifacts = boolParam(query('includeArtifacts'), 'includeArtifacts');
      const status = query('status');
      const req: ListTasksRequest = {
        tenant,
        contextId: query('contextId') ?? '',
        status: status ? stateParam(status) : 0,
        pageSize: intParam(query('pageSize'), 'pageSize'),
        pageToken: query('pageToken') ?? '',
        historyLength: intParam(query('historyLength'), 'historyLength'),
        statusTimestampAfter: query('statusTimestampAfter') || undefined,
        includeArtifacts,
      };
      return send(
        200,
        listTasksToJson(await engine.listTasks(agent, req, callContext(request)), includeArtifacts ?? false),
      );
    }
    case '/tasks/{id}/pushNotificationConfigs': {
      if (request.method === 'GET') {
        const res = await engine.pushConfigs.list(
          agent,
          { taskId: match.taskId, tenant, pageSize: 0, pageToken: '' },
          callContext(request),
        );
        return send(200, ListTaskPushNotificationConfigsResponse.toJSON(res));
      }
      const config = decodeBody(TaskPushNotificationConfig, {
        ...jsonBody(request),
        taskId: match.taskId,
        tenant,
      });
      return send(
        201,
        TaskPushNotificationConfig.toJSON(
          await engine.pushConfigs.create(agent, config, callContext(request)),
        ),
      );
    }
    case '/tasks/{id}/pushNotificationConfigs/{configId}': {
      const params = { taskId: match.taskId, id: match.configId, tenant };
      if (request.method === 'DELETE') {
        await engine.pushConfigs.delete(agent, params, callContext(request));
        return reply.code(204).send();
      }
      return send(
        200,
        TaskPushNotificationConfig.toJSON(await engine.pushConfigs.get(agent, params, callContext(request))),
      );
    }
    case '/extendedAgentCard':
      // `private`: the extended card is for authenticated callers; shared caches must not keep it.
      return deps.cards.send(
        request,
        reply,
        `${agent.name}#extended`,
        JSON.stringify(AgentCard.toJSON(engine.extendedCard(agent))),
        A2A_JSON,
        'private, max-age=60',
      );
    default:
      throw err('ROUTE_NOT_FOUND');
  }
}

function sseData(record: { event: StreamResponse }): string {
  return JSON.stringify(StreamResponse.toJSON(record.event));
}

function sseError(error: unknown): string {
  return JSON.stringify(toRestErrorBody(toAgentdError(error)));
}

/** The request body as a JSON object (REST bodies are objects, A2A §11.4). */
function jsonBody(request: FastifyRequest): Record<string, unknown> {
  const body = request.body as string | typeof UNSUPPORTED_BODY | undefined;
  if (body === UNSUPPORTED_BODY) {
    throw err(
      'CONTENT_TYPE_NOT_SUPPORTED',
      `Unsupported Content-Type "${request.headers['content-type'] ?? '(none)'}"; send application/a2a+json or application/json`,
    );
  }
  if (body === undefined || body === '') throw invalidParams('body', 'is required (a JSON object)');
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw err('PARSE_ERROR', `Request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidParams('body', 'must be a JSON object');
  return value as Record<string, unknown>;
}

/** Decodes a body with the SDK's `fromJSON`; a shape it cannot read is the client's error, not a 500. */
function decodeBody<T>(fns: MessageFns<T>, body: Record<string, unknown>): T {
  try {
    return fns.fromJSON(body);
  } catch (error) {
    throw invalidParams('body', (error as Error).message);
  }
}

function intParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^-?\d+$/.test(value.trim())) throw invalidParams(name, 'must be an integer');
  return Number(value);
}

function boolParam(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw invalidParams(name, 'must be true or false');
}

function stateParam(value: string): number {
  try {
    const state = taskStateFromJSON(/^\d+$/.test(value) ? Number(value) : value);
    if (state >= 0) return state;
  } catch {
    // reported below
  }
  throw invalidParams('status', `"${value}" is not a TaskState (e.g. TASK_STATE_WORKING)`);
}
