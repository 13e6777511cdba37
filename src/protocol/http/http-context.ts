/**
 * What the JSON-RPC and REST routes share: the per-request call context, the open SSE
 * stream registry, and the loop that pumps engine stream records into an SSE response.
 */
import { ServerCallContext } from '@a2a-js/sdk/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import {
  ABORT_SIGNAL_STATE_KEY,
  REQUEST_ID_STATE_KEY,
  TRACE_CONTEXT_STATE_KEY,
} from '../../engine/call-context.js';
import type { StreamRecord, TaskEngine } from '../../engine/task-engine.js';
import { PRINCIPAL_STATE_KEY } from '../../security/principal.js';
import { userOf } from '../../security/sdk-user.js';
import type { Tracing } from '../../observability/tracing.js';
import { traceContextOf } from './http-metrics.js';
import { err, invalidParams } from '../../errors.js';
import { SseStream } from './sse-stream.js';
import type { CardCache } from './card-caching.js';

/** Marker body for a request whose Content-Type we do not accept. */
export const UNSUPPORTED_BODY: unique symbol = Symbol('agentd.unsupportedBody');

/** Everything the route modules need from the server. */
export interface HttpDeps {
  readonly engine: TaskEngine;
  readonly logger: Logger;
  readonly sseKeepAliveMs: number;
  readonly compatV03: boolean;
  /** Open SSE streams, so shutdown can close them and tests can count them. */
  readonly streams: Set<SseStream>;
  readonly tracing: Tracing;
  /** ETag / Last-Modified of the agent cards served. */
  readonly cards: CardCache;
}

/**
 * A fresh call context; `signal` (streams only) lets SDK-facing code see disconnects.
 * `version` overrides the requested version (the v0.3 routes, whose clients send none).
 */
export function callContext(
  request: FastifyRequest,
  signal?: AbortSignal,
  version: string | undefined = requestedVersion(request),
): ServerCallContext {
  return new ServerCallContext({
    requestedVersion: version ?? '1.0',
    user: userOf(request.principal),
    state: new Map<string, unknown>([
      [REQUEST_ID_STATE_KEY, request.id],
      [TRACE_CONTEXT_STATE_KEY, traceContextOf(request)],
      ...(signal ? [[ABORT_SIGNAL_STATE_KEY, signal] as const] : []),
      ...(request.principal ? [[PRINCIPAL_STATE_KEY, request.principal] as const] : []),
    ]),
  });
}

/** An AbortController that fires when the client's connection closes. */
export function disconnectController(reply: FastifyReply): AbortController {
  const controller = new AbortController();
  reply.raw.on('close', () => controller.abort());
  return controller;
}

/**
 * A query parameter that may appear at most once (every A2A one): its value, or undefined.
 * A repeated parameter is the client's error, named, not an array the route trips over.
 */
export function queryParam(request: FastifyRequest, name: string): string | undefined {
  const query = request.query as Record<string, string | string[] | undefined> | undefined;
  // fastify's query object has no prototype, but be explicit: only the client's own keys count.
  const value = query && Object.hasOwn(query, name) ? query[name] : undefined;
  if (Array.isArray(value)) throw invalidParams(name, 'must be given at most once');
  return value;
}

/** The `A2A-Version` the client asked for (header, or the query parameter of A2A §3.6.1), if any. */
export function requestedVersion(request: FastifyRequest): string | undefined {
  const header = request.headers['a2a-version'];
  const query = queryParam(request, 'A2A-Version');
  const raw = typeof header === 'string' && header.trim() ? header : query;
  return raw?.trim() || undefined;
}

/**
 * Whether a requested version is A2A v0.x (what the SDK's compat layer serves). A2A §3.6.1
 * assumes 0.3 when a client sends no version; callers decide what no version means.
 */
export function isV03Version(version: string): boolean {
  return /^0(\.|$)/.test(version.trim());
}

/**
 * A2A §3.6.2: a request for a protocol version this endpoint does not speak gets
 * VersionNotSupportedError. Versions compare by `Major.Minor` (a patch number is ignored);
 * no version at all is served as the endpoint's current one.
 */
export function checkVersion(request: FastifyRequest, supported: readonly string[]): void {
  const raw = requestedVersion(request);
  if (raw === undefined) return;
  const m = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(raw);
  if (m && supported.includes(`${Number(m[1])}.${Number(m[2])}`)) return;
  throw err(
    'VERSION_NOT_SUPPORTED',
    `A2A-Version "${raw}" is not supported by this endpoint (supported: ${supported.join(', ')})`,
    { requestedVersion: raw, supportedVersions: supported.join(',') },
  );
}

/** `Last-Event-ID` as a sequence number, if the client sent one. */
export function lastEventId(request: FastifyRequest): number | undefined {
  const raw = request.headers['last-event-id'];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw invalidParams('Last-Event-ID', 'must be a non-negative integer event id');
  return n;
}

/**
 * Streams engine records as SSE. An error before the first event is thrown back to the
 * caller (it becomes a normal error response); after that it is sent as an `error` event.
 */
export async function pumpSse(
  deps: HttpDeps,
  reply: FastifyReply,
  controller: AbortController,
  records: AsyncGenerator<StreamRecord, void, undefined>,
  serialize: (record: StreamRecord) => string,
  serializeError: (error: unknown) => string,
): Promise<void> {
  const first = await records.next();
  reply.hijack();
  const sse = new SseStream(reply.raw, deps.sseKeepAliveMs, (s) => deps.streams.delete(s), controller);
  deps.streams.add(sse);
  try {
    if (!first.done) await sse.send(serialize(first.value), first.value.seq);
    while (!sse.signal.aborted) {
      const next = await records.next();
      if (next.done) break;
      await sse.send(serialize(next.value), next.value.seq);
    }
  } catch (error) {
    deps.logger.warn({ err: error }, 'stream ended with an error');
    await sse.send(serializeError(error), undefined, 'error');
  } finally {
    await records.return(undefined);
    sse.end();
  }
}
