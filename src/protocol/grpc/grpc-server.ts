/**
 * The gRPC binding (A2A §10): `lf.a2a.v1.A2AService` on `@grpc/grpc-js`, over the same
 * TaskEngine as HTTP. The service definition and protobuf codec are the SDK's
 * (`A2AService` from `@a2a-js/sdk/server/grpc`); the implementation is ours because the
 * SDK's `grpcService` serves a single agent, maps errors it does not know to UNKNOWN, and
 * ignores deadlines and client cancellation.
 *
 * Several agents share the port: each card's GRPC interface carries `tenant: <agent>`
 * (or `<agent>/<tenant>` for a tenant of that agent), and the SDK client sends it in
 * every request. An empty tenant means the default agent.
 */
import { SpanKind, traceFields, Tracing } from '../../observability/tracing.js';
import type { Context } from '@opentelemetry/api';
import * as grpc from '@grpc/grpc-js';
import type { ListTasksResponse, StreamResponse, Task } from '@a2a-js/sdk';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import { encodeGrpcStatusDetails, GRPC_STATUS_DETAILS_BIN } from '@a2a-js/sdk/errors/grpc';
import { ServerCallContext } from '@a2a-js/sdk/server';
import type { Logger } from 'pino';
import type { PushConfigOperations } from '../../engine/push-config-operations.js';
import { err, GrpcStatus, toAgentdError, wireMessage, wireMetadata, type AgentdError } from '../../errors.js';
import type { HostedAgent } from '../../engine/hosted-agent.js';
import {
  ABORT_SIGNAL_STATE_KEY,
  REQUEST_ID_STATE_KEY,
  TRACE_CONTEXT_STATE_KEY,
  requestIdFrom,
} from '../../engine/call-context.js';
import type { StreamRecord, TaskEngine } from '../../engine/task-engine.js';
import { PRINCIPAL_STATE_KEY, type Principal } from '../../security/principal.js';
import { authenticateCall, type GrpcAuth, type GrpcCall } from './grpc-auth.js';
import { userOf } from '../../security/sdk-user.js';
import { principalOf } from '../../security/principal.js';
import { retryAfterOf, type RateLimitGuard } from '../../security/rate-limit.js';
import { admitCall, withRetryInfo } from './grpc-rate-limit.js';

export interface GrpcServerOptions {
  readonly engine: TaskEngine;
  readonly logger: Logger;
  readonly defaultAgent: () => HostedAgent;
  /** Largest request or response message, in bytes. */
  readonly maxMessageBytes: number;
  /** Keep-alive ping interval for idle connections (long-lived streams). */
  readonly keepaliveMs: number;
  /** Serve v0.3 gRPC clients (legacy `a2a.v1.A2AService`) for the default agent. */
  readonly compatV03: boolean;
  readonly tracing: Tracing;
  /** Told of every A2A call when it ends: its method, `ok` or the catalogue code, and its duration. */
  readonly observe?: ((method: string, status: string, seconds: number) => void) | undefined;
  /** TLS (see security/tls-server.ts); plaintext when absent. */
  readonly credentials?: grpc.ServerCredentials | undefined;
  /** Authentication from metadata (`x-api-key`, `authorization: Bearer`) or the peer certificate. */
  readonly auth?: GrpcAuth | undefined;
  /** Rate limits per client IP and principal (none configured: undefined). */
  readonly rateLimit?: RateLimitGuard | undefined;
}

/** The correlation fields of a call, for its log lines. */
function callFields(ctx: ServerCallContext): Record<string, string> {
  const requestId = ctx.state.get(REQUEST_ID_STATE_KEY);
  return {
    ...(typeof requestId === 'string' ? { request_id: requestId } : {}),
    ...traceFields(ctx.state.get(TRACE_CONTEXT_STATE_KEY) as Context | undefined),
  };
}

/** Marks a request whose bytes did not decode; the handler answers INVALID_ARGUMENT. */
const UNPARSABLE = Symbol('agentd.unparsable');

/**
 * The service with request decoders that do not throw: grpc-js answers a decoder's throw
 * with a bare INTERNAL (no ErrorInfo), while bytes that are not the method's protobuf message
 * are the caller's error. A failed decode becomes a marked request instead.
 */
function tolerantService(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(service).map(([name, def]) => [
      name,
      {
        ...def,
        requestDeserialize: (bytes: Buffer): unknown => {
          try {
            return def.requestDeserialize(bytes);
          } catch (error) {
            return { [UNPARSABLE]: error, tenant: '' };
          }
        },
      },
    ]),
  );
}

/** Messages a stream may buffer in grpc-js before the producer waits for the socket. */
const MAX_BUFFERED_MESSAGES = 512;

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;
type Streaming<Req> = grpc.handleServerStreamingCall<Req, StreamResponse>;

/** A running gRPC listener. */
export interface GrpcServer {
  readonly server: grpc.Server;
  readonly port: number;
  /** Open server streams (for leak checks and shutdown). */
  readonly openStreams: () => number;
  /** Ends every open server stream cleanly (status OK), for shutdown. */
  closeStreams(): void;
  /** `tryShutdown` within `deadlineMs`, then `forceShutdown`. */
  shutdown(deadlineMs: number): Promise<void>;
}

/** Splits a request's tenant into the agent it addresses and the tenant within it. */
export function routeTenant(tenant: string): { agent: string | undefined; tenant: string } {
  if (!tenant) return { agent: undefined, tenant: '' };
  const slash = tenant.indexOf('/');
  return slash < 0
    ? { agent: tenant, tenant: '' }
    : { agent: tenant.slice(0, slash), tenant: tenant.slice(slash + 1) };
}

/** A gRPC error carrying the catalogue code, message and `google.rpc.ErrorInfo` (A2A §10.6). */
export function toGrpcError(error: unknown): Partial<grpc.StatusObject> {
  const e: AgentdError = toAgentdError(error);
  const code = GrpcStatus[e.grpcStatus];
  const metadata = new grpc.Metadata();
  const message = wireMessage(e);
  const details = encodeGrpcStatusDetails(code, message, e.reason, wireMetadata(e));
  const retryAfter = retryAfterOf(e);
  metadata.set(
    GRPC_STATUS_DETAILS_BIN,
    retryAfter === undefined ? details : withRetryInfo(details, retryAfter),
  );
  return { code, details: message, metadata };
}

/** Builds the service and starts listening on `host:port` (0 picks a free port). */
export async function startGrpcServer(
  options: GrpcServerOptions,
  host: string,
  port: number,
): Promise<GrpcServer> {
  const { engine, logger } = options;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
    'grpc.keepalive_time_ms': options.keepaliveMs,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    // Streams per connection: one client cannot hold more than this many calls open at once.
    'grpc.max_concurrent_streams': 1000,
    // A connection with no call for 5 min gets GOAWAY (clients reconnect on their next call),
    // so idle clients do not hold sockets forever; open streams are calls and keep theirs.
    'grpc.max_connection_idle_ms': 300_000,
    // Channelz traces every call (~5 % of a unary call's CPU in our profile) and agentd does not serve it.
    'grpc.enable_channelz': 0,
  });
  const active = new Set<() => void>();
  const auth = options.auth?.authenticator.enabled ? options.auth : undefined;
  /** The caller (undefined in the open mode); throws UNAUTHENTICATED. */
  const authenticate = (call: GrpcCall): Principal | Promise<Principal> | undefined =>
    auth && authenticateCall(auth, call);
  const rateLimit = options.rateLimit;
  /** The rate-limit check of a resolved call: after its agent and principal are known. */
  const admit = (
    call: { getPeer(): string; metadata: grpc.Metadata },
    agent: HostedAgent,
    ctx: ServerCallContext,
  ): Promise<void> | undefined =>
    rateLimit ? admitCall(rateLimit, call, agent.name, principalOf(ctx)) : undefined;
  /** A call refused before it resolved (bad tenant, bad bytes, failed authentication) still counts for its address. */
  const refusedCall = (call: { getPeer(): string; metadata: grpc.Metadata }): Promise<void> | undefined =>
    rateLimit ? admitCall(rateLimit, call, undefined, undefined) : undefined;

  /** Resolves the agent and a call context; the tenant is rewritten to the agent-local one. */
  const resolve = async <T extends { tenant: string }>(
    call: { request: T; metadata: grpc.Metadata },
    signal: AbortSignal | undefined,
    traced: ReturnType<Tracing['start']>,
  ): Promise<{ agent: HostedAgent; ctx: ServerCallContext; params: T }> => {
    const pending = authenticate(call as unknown as GrpcCall);
    const principal = pending instanceof Promise ? await pending : pending;
    if (UNPARSABLE in call.request) {
      throw err('PARSE_ERROR', 'The request is not a valid protobuf message for this method', {
        problem: String((call.request[UNPARSABLE] as Error | undefined)?.message ?? 'undecodable'),
      });
    }
    const route = routeTenant(call.request.tenant);
    const agent = route.agent === undefined ? options.defaultAgent() : engine.agent(route.agent);
    const version = call.metadata.get('a2a-version')[0];
    if (version !== undefined && !/^1(\.\d+)*$/.test(String(version))) {
      throw err(
        'VERSION_NOT_SUPPORTED',
        `A2A-Version "${String(version)}" is not supported over gRPC (supported: 1.0)`,
      );
    }
    const ctx = new ServerCallContext({
      requestedVersion: '1.0',
      tenant: route.tenant || undefined,
      user: userOf(principal),
      state: new Map<string, unknown>([
        [REQUEST_ID_STATE_KEY, requestIdFrom(call.metadata.get('x-request-id')[0])],
        [TRACE_CONTEXT_STATE_KEY, traced?.context],
        ...(signal ? [[ABORT_SIGNAL_STATE_KEY, signal] as const] : []),
        ...(principal ? [[PRINCIPAL_STATE_KEY, principal] as const] : []),
      ]),
    });
    return { agent, ctx, params: { ...call.request, tenant: route.tenant } };
  };

  /** The call's server span, parented on the caller's `traceparent` metadata (tracing on). */
  const startSpan = (method: string, metadata: grpc.Metadata): ReturnType<Tracing['start']> =>
    options.tracing.enabled
      ? options.tracing.start(`A2A ${method}`, SpanKind.SERVER, options.tracing.extract(metadata.getMap()), {
          'rpc.system': 'a2a',
          'rpc.method': method,
          'a2a.transport': 'grpc',
        })
      : undefined;

  const unary =
    <Req extends { tenant: string }, Res>(
      method: string,
      run: (
        agent: HostedAgent,
        params: Req,
        ctx: ServerCallContext,
        call: grpc.ServerUnaryCall<Req, Res>,
      ) => Promise<Res>,
    ): Unary<Req, Res> =>
    (call, callback) => {
      const started = performance.now();
      const traced = startSpan(method, call.metadata);
      const done = (status: string): void => {
        options.observe?.(method, status, (performance.now() - started) / 1000);
        Tracing.end(traced, status === 'ok' ? undefined : status);
      };
      let resolved: Awaited<ReturnType<typeof resolve<Req>>> | undefined;
      resolve(call, undefined, traced)
        .then(
          async (r) => {
            resolved = r;
            await admit(call, r.agent, r.ctx);
            return run(r.agent, r.params, r.ctx, call);
          },
          // A call refused before it resolved (failed authentication, unknown tenant) still counts for its address.
          async (error: unknown) => {
            await refusedCall(call);
            throw error;
          },
        )
        .then(
          (result) => {
            done('ok');
            callback(null, result);
          },
          (error: unknown) => {
            const e = toAgentdError(error);
            if (e.code === 'INTERNAL') {
              logger.error(
                { err: error, method, ...(resolved ? callFields(resolved.ctx) : {}) },
                'gRPC call failed',
              );
            }
            done(e.code);
            callback(toGrpcError(e));
          },
        );
    };

  const streaming =
    <Req extends { tenant: string }>(
      method: string,
      open: (
        agent: HostedAgent,
        params: Req,
        ctx: ServerCallContext,
        signal: AbortSignal,
      ) => AsyncGenerator<StreamRecord>,
    ): Streaming<Req> =>
    (call) => {
      const started = performance.now();
      const traced = startSpan(method, call.metadata);
      let status = 'ok';
      const controller = new AbortController();
      const onCancel = (): void => {
        if (controller.signal.aborted) return;
        logger.info(
          { method, reason: endedByDeadline(call) ? 'deadline exceeded' : 'client cancelled' },
          'gRPC stream ended by the client',
        );
        controller.abort();
      };
      call.on('cancelled', onCancel);
      let closedByServer = false;
      const closeFromServer = (): void => {
        closedByServer = true;
        controller.abort();
      };
      active.add(closeFromServer);
      void (async () => {
        let records: AsyncGenerator<StreamRecord> | undefined;
        try {
          let resolved;
          try {
            resolved = await resolve(call, controller.signal, traced);
          } catch (error) {
            await refusedCall(call);
            throw error;
          }
          const { agent, ctx, params } = resolved;
          await admit(call, agent, ctx);
          records = open(agent, params, ctx, controller.signal);
          for (let next = await records.next(); !next.done; next = await records.next()) {
            if (controller.signal.aborted) break;
            // Wait for the socket only past a bounded backlog: waiting on every full objectMode
            // buffer (16 messages) cost a third of streaming throughput.
            if (!call.write(next.value.event) && call.writableLength >= MAX_BUFFERED_MESSAGES) {
              await drained(call, controller.signal);
            }
          }
          if (!controller.signal.aborted || closedByServer) call.end();
        } catch (error) {
          if (closedByServer) call.end();
          else if (!controller.signal.aborted) {
            const e = toAgentdError(error);
            status = e.code;
            if (e.code === 'INTERNAL')
              logger.error({ err: error, method, ...traceFields(traced?.context) }, 'gRPC stream failed');
            call.emit('error', toGrpcError(e));
          }
        } finally {
          await records?.return(undefined);
          controller.abort();
          call.off('cancelled', onCancel);
          active.delete(closeFromServer);
          options.observe?.(method, status, (performance.now() - started) / 1000);
          Tracing.end(traced, status === 'ok' ? undefined : status);
        }
      })();
    };

  const implementation: grpc.UntypedServiceImplementation = {
    sendMessage: unary(
      'SendMessage',
      async (agent, params: Parameters<TaskEngine['sendMessage']>[1], ctx, call) => {
        const blocking = !params.configuration?.returnImmediately;
        // A blocking call's deadline or cancellation is the client giving up on the task: cancel it.
        let taskId: string | undefined;
        const onCancel = (): void => {
          logger.warn(
            {
              method: 'SendMessage',
              task_id: taskId,
              reason: endedByDeadline(call) ? 'deadline exceeded' : 'client cancelled',
            },
            'gRPC call ended before the task finished; canceling the task it started',
          );
          if (taskId)
            void engine
              .cancelTask(agent, { id: taskId, tenant: params.tenant, metadata: undefined }, ctx)
              .catch(() => {});
        };
        if (blocking) call.on('cancelled', onCancel);
        try {
          const result = await engine.sendMessage(agent, params, ctx, (id) => {
            taskId = id;
            if (call.cancelled) onCancel();
          });
          return 'messageId' in result
            ? { payload: { $case: 'message', value: result } }
            : { payload: { $case: 'task', value: result } };
        } finally {
          call.off('cancelled', onCancel);
        }
      },
    ),
    sendStreamingMessage: streaming('SendStreamingMessage', (agent, params, ctx, signal) =>
      engine.sendMessageStream(agent, params as Parameters<TaskEngine['sendMessageStream']>[1], ctx, signal),
    ),
    subscribeToTask: streaming('SubscribeToTask', (agent, params, ctx, signal) =>
      engine.subscribe(agent, params as Parameters<TaskEngine['subscribe']>[1], ctx, { signal }),
    ),
    getTask: unary('GetTask', (agent, params: Parameters<TaskEngine['getTask']>[1], ctx) =>
      engine.getTask(agent, params, ctx),
    ),
    listTasks: unary('ListTasks', async (agent, params: Parameters<TaskEngine['listTasks']>[1], ctx) =>
      withoutArtifacts(await engine.listTasks(agent, params, ctx), params.includeArtifacts ?? false),
    ),
    cancelTask: unary('CancelTask', (agent, params: Parameters<TaskEngine['cancelTask']>[1], ctx) =>
      engine.cancelTask(agent, params, ctx),
    ),
    createTaskPushNotificationConfig: unary(
      'CreateTaskPushNotificationConfig',
      (agent, params: Parameters<PushConfigOperations['create']>[1], ctx) =>
        engine.pushConfigs.create(agent, params, ctx),
    ),
    getTaskPushNotificationConfig: unary(
      'GetTaskPushNotificationConfig',
      (agent, params: Parameters<PushConfigOperations['get']>[1], ctx) =>
        engine.pushConfigs.get(agent, params, ctx),
    ),
    listTaskPushNotificationConfigs: unary(
      'ListTaskPushNotificationConfigs',
      (agent, params: Parameters<PushConfigOperations['list']>[1], ctx) =>
        engine.pushConfigs.list(agent, params, ctx),
    ),
    deleteTaskPushNotificationConfig: unary(
      'DeleteTaskPushNotificationConfig',
      async (agent, params: Parameters<PushConfigOperations['delete']>[1], ctx) => {
        await engine.pushConfigs.delete(agent, params, ctx);
        return {};
      },
    ),
    getExtendedAgentCard: unary(
      'GetExtendedAgentCard',
      async (agent: HostedAgent, _params: { tenant: string }) => engine.extendedCard(agent),
    ),
  };
  server.addService(tolerantService(A2AService), implementation);

  if (options.compatV03) {
    const { addLegacyService } = await import('./grpc-legacy.js');
    await addLegacyService(server, {
      engine,
      defaultAgent: options.defaultAgent(),
      auth,
      rateLimit,
      toGrpcError,
    });
  }

  const boundPort = await new Promise<number>((resolvePort, reject) =>
    server.bindAsync(
      `${host}:${port}`,
      options.credentials ?? grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolvePort(bound)),
    ),
  );

  return {
    server,
    port: boundPort,
    openStreams: () => active.size,
    closeStreams: () => {
      for (const close of [...active]) close();
    },
    shutdown: (deadlineMs) =>
      new Promise<void>((done) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          done();
        }, deadlineMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          done();
        });
      }),
  };
}

/** ListTasks leaves artifacts out unless asked (A2A §3.1.4); an empty repeated field is absent on the wire. */
function withoutArtifacts(res: ListTasksResponse, includeArtifacts: boolean): ListTasksResponse {
  if (includeArtifacts) return res;
  return { ...res, tasks: res.tasks.map((t: Task) => (t.artifacts.length ? { ...t, artifacts: [] } : t)) };
}

/**
 * A client's own deadline timer fires a moment before ours (ours starts when its headers
 * arrive), and the RST_STREAM it then sends looks exactly like a cancel. A cancel that comes
 * this close to the deadline is the deadline.
 */
const DEADLINE_SLACK_MS = 50;

/** Whether a call that just ended early was ended by its deadline rather than by the client. */
function endedByDeadline(call: { getDeadline(): grpc.Deadline }): boolean {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  return at - Date.now() <= DEADLINE_SLACK_MS;
}

function drained(call: grpc.ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.on('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
