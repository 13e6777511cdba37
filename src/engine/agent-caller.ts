import type { Context } from '@opentelemetry/api';
import {
  Role,
  type AgentCard,
  type Message,
  type SendMessageRequest,
  type StreamResponse,
  type Task,
} from '@a2a-js/sdk';
import type { Client, RequestOptions } from '@a2a-js/sdk/client';
import { BrokenCircuitError } from 'cockatiel';
import { textMessage } from '../agents/parts.js';
import { AttemptFailure, isRetryable, type AttemptTrace } from '../client/call-policy.js';
import { PeerCardCache } from '../client/card-cache.js';
import { cardUrlOf, clientFor, type CardCheck, type TransportName } from '../client/connect.js';
import { PeerConnections } from '../client/peer-connections.js';
import { PeerState, type BreakerState, type PeerPolicyOptions } from '../client/peer-state.js';
import { AgentdError, err } from '../errors.js';
import { SpanKind, Tracing } from '../observability/tracing.js';
import { Outbound } from '../security/outbound.js';

export type { BreakerState } from '../client/peer-state.js';

/** Per-call options of every {@link AgentCaller} operation. */
export interface CallOptions {
  /** The trace context to parent the client span on (the calling task's span). */
  readonly parent?: Context | undefined;
  /** Stops the call, and any retry of it, when aborted. */
  readonly signal?: AbortSignal | undefined;
  /** JSON-RPC by default. */
  readonly transport?: TransportName | undefined;
  /** How long one attempt may take (streams: until their first event); default per target. */
  readonly timeoutMs?: number | undefined;
  /**
   * More request metadata for every attempt (HTTP headers, gRPC metadata): the CLI's own
   * `--api-key`/`--token`, which it sends to the agent it names over any transport.
   */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/** What the caller reports, without depending on prom-client. */
export interface PeerObserver {
  /** A message call (SendMessage, SendStreamingMessage) ended, once per call whatever its attempts. */
  messageSent(recipient: string, delivered: boolean, seconds: number, messageType?: string): void;
  /** A call to `peer` is attempted again. */
  peerRetried?(peer: string): void;
}

/** The `outbound` settings the caller uses (see the config schema for their defaults). */
export interface CallSettings extends PeerPolicyOptions {
  readonly callTimeoutMs: number;
  readonly maxConnectionsPerPeer: number;
  /** Per-target attempt timeouts: the first entry whose `url` prefixes the call's URL applies. */
  readonly targets: ReadonlyArray<{ readonly url: string; readonly timeoutMs?: number | undefined }>;
}

export interface AgentCallerOptions {
  readonly settings: CallSettings;
  readonly tracing?: Tracing | undefined;
  readonly observer?: PeerObserver | undefined;
  /** Credentials and TLS per target agent URL. */
  readonly outbound?: Outbound | undefined;
  /** Verifies each peer's card before it is used (outbound.verifyCardsJwks). */
  readonly verifyCard?: CardCheck | undefined;
}

/** Peers (card URLs) remembered at most; beyond, the oldest idle one is forgotten. */
const MAX_PEERS = 1000;

/** A started client span (undefined when tracing is off). */
type Traced = ReturnType<Tracing['start']>;

interface Connected {
  readonly version: number;
  readonly client: Promise<Client>;
}

/**
 * Agents calling other A2A agents (`requestContext.callAgent`, workflows): the official SDK
 * client on the chosen transport, one per agent and transport, over keep-alive connection
 * pools per peer origin ({@link PeerConnections}); cards cached with their ETag
 * ({@link PeerCardCache}). Each call runs under a per-attempt timeout, retries with
 * exponential backoff and jitter for passing failures only, and a circuit breaker per peer
 * ({@link PeerState}). Each call is one client span parented on the calling task's span,
 * whose `traceparent` goes along as an HTTP header or gRPC metadata, so the call and the
 * work it causes in the other agent's process are one trace.
 */
export class AgentCaller {
  private readonly tracing: Tracing;
  private readonly outbound: Outbound;
  private readonly connections: PeerConnections;
  private readonly cards: PeerCardCache;
  private readonly peers = new Map<string, PeerState>();
  private readonly clients = new Map<string, Connected>();

  constructor(private readonly options: AgentCallerOptions) {
    this.tracing = options.tracing ?? Tracing.off;
    this.outbound = options.outbound ?? Outbound.none;
    this.connections = new PeerConnections(this.outbound, options.settings.maxConnectionsPerPeer);
    this.cards = new PeerCardCache(this.connections.fetch, options.verifyCard);
  }

  /**
   * SendMessage to the agent at `agentUrl` (its base URL or card URL). A string becomes a
   * user text message; its messageId is made once per call, so every attempt resends the
   * same message (agentd answers a repeated messageId from the task it produced). A full
   * request lets the caller set `configuration` (e.g. `returnImmediately`). The older form
   * `send(url, message, parent, signal, transport)` is still accepted.
   */
  send(
    agentUrl: string,
    request: SendMessageRequest | Message | string,
    options?: CallOptions | Context,
    signal?: AbortSignal,
    transport?: TransportName,
  ): Promise<Message | Task> {
    const opts: CallOptions = isContext(options)
      ? { parent: options, signal, transport }
      : { ...options, ...(signal ? { signal } : {}), ...(transport ? { transport } : {}) };
    const params = requestOf(request);
    return this.call(agentUrl, 'SendMessage', opts, true, (client, o) => client.sendMessage(params, o));
  }

  /** GetTask on the agent at `agentUrl`. */
  getTask(
    agentUrl: string,
    taskId: string,
    options: CallOptions & { historyLength?: number } = {},
  ): Promise<Task> {
    const params = {
      tenant: '',
      id: taskId,
      ...(options.historyLength !== undefined ? { historyLength: options.historyLength } : {}),
    };
    return this.call(agentUrl, 'GetTask', options, false, (client, o) => client.getTask(params, o));
  }

  /** CancelTask on the agent at `agentUrl` (idempotent there, so safe to retry). */
  cancelTask(agentUrl: string, taskId: string, options: CallOptions = {}): Promise<Task> {
    const params = { tenant: '', id: taskId, metadata: undefined };
    return this.call(agentUrl, 'CancelTask', options, false, (client, o) => client.cancelTask(params, o));
  }

  /**
   * SendStreamingMessage: the agent's events as they come. Opening the stream (until its
   * first event) is retried like any call; a stream that fails after that is not resumed
   * here (use {@link subscribe} with the task id).
   */
  stream(
    agentUrl: string,
    request: SendMessageRequest | Message | string,
    options: CallOptions = {},
  ): AsyncGenerator<StreamResponse, void, undefined> {
    const params = requestOf(request);
    return this.streaming(agentUrl, 'SendStreamingMessage', options, (client, o) =>
      client.sendMessageStream(params, o),
    );
  }

  /** SubscribeToTask: the task's events from now on (after a broken stream, or from another process). */
  subscribe(
    agentUrl: string,
    taskId: string,
    options: CallOptions = {},
  ): AsyncGenerator<StreamResponse, void, undefined> {
    const params = { tenant: '', id: taskId };
    return this.streaming(agentUrl, 'SubscribeToTask', options, (client, o) =>
      client.resubscribeTask(params, o),
    );
  }

  /** The circuit breaker of the agent at `agentUrl` (closed for an agent never called). */
  breakerState(agentUrl: string): BreakerState {
    return this.peers.get(cardUrlOf(agentUrl))?.state ?? 'closed';
  }

  /** Calls from this process to the agent at `agentUrl` that have not ended yet. */
  inFlight(agentUrl: string): number {
    return this.peers.get(cardUrlOf(agentUrl))?.inFlight ?? 0;
  }

  /** Every peer called so far, by agent name, with its breaker state (for the breaker gauge). */
  breakerStates(): Array<{ peer: string; state: BreakerState }> {
    return [...this.peers.values()].map((p) => ({ peer: p.name, state: p.state }));
  }

  /** Closes the gRPC clients and the connection pools (at shutdown; later calls fail). */
  async close(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map(async (c) => closeClient(await c.client.catch(() => undefined))));
    await this.connections.close();
  }

  // ---------------------------------------------------------------- the call

  private async call<T>(
    agentUrl: string,
    method: string,
    options: CallOptions,
    counted: boolean,
    fn: (client: Client, o: RequestOptions) => Promise<T>,
  ): Promise<T> {
    const peer = this.peer(agentUrl);
    const release = peer.enter();
    const traced = this.span(method, peer, agentUrl, options);
    const started = performance.now();
    try {
      const result = await this.resilient(agentUrl, peer, method, options, traced, fn);
      Tracing.end(traced);
      if (counted) this.options.observer?.messageSent(peer.name, true, seconds(started), method);
      return result;
    } catch (error) {
      Tracing.end(traced, (error as Error).message);
      if (counted) this.options.observer?.messageSent(peer.name, false, seconds(started), method);
      throw error;
    } finally {
      release();
    }
  }

  private async *streaming(
    agentUrl: string,
    method: string,
    options: CallOptions,
    open: (client: Client, o: RequestOptions) => AsyncGenerator<StreamResponse, void, undefined>,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    const peer = this.peer(agentUrl);
    const release = peer.enter();
    const traced = this.span(method, peer, agentUrl, options);
    const started = performance.now();
    const counted = method === 'SendStreamingMessage';
    let iterator: AsyncGenerator<StreamResponse, void, undefined> | undefined;
    try {
      const opened = await this.resilient(agentUrl, peer, method, options, traced, async (client, o) => {
        const it = open(client, o);
        try {
          return { it, first: await it.next() };
        } catch (error) {
          await it.return().catch(() => {});
          throw error;
        }
      });
      iterator = opened.it;
      for (let next = opened.first; !next.done; next = await iterator.next()) yield next.value;
      Tracing.end(traced);
      if (counted) this.options.observer?.messageSent(peer.name, true, seconds(started), method);
    } catch (error) {
      Tracing.end(traced, (error as Error).message);
      if (counted) this.options.observer?.messageSent(peer.name, false, seconds(started), method);
      throw error;
    } finally {
      // A consumer that stops early ends the SDK's stream (it cancels the request).
      await iterator?.return().catch(() => {});
      release();
    }
  }

  /**
   * Runs `fn` under the peer's retry policy and breaker, each attempt with its own timeout
   * and a client for the peer's current card; turns what is left of a failure into a
   * catalogue error (PEER_TIMEOUT, PEER_UNAVAILABLE) or the peer's own refusal.
   */
  private async resilient<T>(
    agentUrl: string,
    peer: PeerState,
    method: string,
    options: CallOptions,
    traced: Traced,
    fn: (client: Client, o: RequestOptions) => Promise<T>,
  ): Promise<T> {
    const user = options.signal;
    const timeoutMs = options.timeoutMs ?? this.timeoutFor(agentUrl);
    const headers: Record<string, string> = { ...options.metadata };
    this.tracing.inject(traced?.context, headers);
    let attempts = 0;
    const attempt = async (): Promise<T> => {
      if (user?.aborted) throw abortReason(user);
      attempts++;
      const timer = new AbortController();
      const timeout = setTimeout(() => timer.abort(), timeoutMs);
      const signal = user ? AbortSignal.any([user, timer.signal]) : timer.signal;
      const seen: AttemptTrace = {};
      try {
        // Raced against the signal too: a card fetch that hangs is bounded by the same timeout.
        return await untilAborted(
          signal,
          PeerConnections.attempt.run(seen, async () => {
            const client = await this.clientOf(agentUrl, peer, options.transport ?? 'jsonrpc', traced);
            return fn(client, { serviceParameters: headers, signal });
          }),
        );
      } catch (error) {
        if (user?.aborted) throw error;
        if (timer.signal.aborted) throw new AttemptFailure(error, true, undefined);
        if (isRetryable(error, seen)) throw new AttemptFailure(error, false, seen.retryAfterMs);
        throw error;
      } finally {
        clearTimeout(timeout);
      }
    };
    try {
      return await untilAborted(user, peer.policy.execute(attempt, user));
    } catch (error) {
      throw this.failure(peer, method, error, timeoutMs, attempts);
    }
  }

  private failure(
    peer: PeerState,
    method: string,
    error: unknown,
    timeoutMs: number,
    attempts: number,
  ): unknown {
    const agent = peer.name;
    const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
    if (error instanceof BrokenCircuitError) {
      const retryAt = peer.retryAt ?? Date.now();
      const { threshold } = this.options.settings.breaker;
      return err(
        'PEER_UNAVAILABLE',
        `Agent "${agent}" (${peer.key}) is not called: its circuit breaker is open after ${threshold} ` +
          `failures in a row; it will be tried again at ${new Date(retryAt).toISOString()} ` +
          `(in ${Math.max(0, Math.ceil((retryAt - Date.now()) / 1000))} s)`,
        { agent, breaker: 'open' },
      );
    }
    if (!(error instanceof AttemptFailure)) return error;
    if (error.timedOut)
      return new AgentdError(
        'PEER_TIMEOUT',
        `Agent "${agent}" (${peer.key}) did not answer ${method} within ${timeoutMs} ms (${tries})`,
        { agent },
        { cause: error.original },
      );
    return new AgentdError(
      'PEER_UNAVAILABLE',
      `Agent "${agent}" (${peer.key}) is unavailable (${tries}): ${(error.original as Error | undefined)?.message ?? String(error.original)}`,
      { agent },
      { cause: error.original },
    );
  }

  /** The SDK client for the peer's current card (a new one when the card changed). */
  private async clientOf(
    agentUrl: string,
    peer: PeerState,
    transport: TransportName,
    traced: Traced,
  ): Promise<Client> {
    const cached = await this.cards.get(agentUrl);
    peer.name = cached.card.name;
    traced?.span.setAttribute('a2a.recipient', cached.card.name);
    const key = `${transport} ${cached.cardUrl}`;
    const known = this.clients.get(key);
    if (known?.version === cached.version) return known.client;
    const client = this.newClient(agentUrl, cached.card, transport);
    this.clients.set(key, { version: cached.version, client });
    client.catch(() => {
      if (this.clients.get(key)?.client === client) this.clients.delete(key);
    });
    if (known) void known.client.then(closeClient, () => {});
    return client;
  }

  private newClient(agentUrl: string, card: AgentCard, transport: TransportName): Promise<Client> {
    return clientFor(agentUrl, card, transport, this.connections.fetch, this.outbound);
  }

  private peer(agentUrl: string): PeerState {
    const key = cardUrlOf(agentUrl);
    let peer = this.peers.get(key);
    if (!peer) {
      if (this.peers.size >= MAX_PEERS) this.forgetIdlePeer();
      peer = new PeerState(key, this.options.settings, (p) => this.options.observer?.peerRetried?.(p.name));
      const name = this.cards.nameOf(key);
      if (name) peer.name = name;
      this.peers.set(key, peer);
    }
    return peer;
  }

  /**
   * Forgets the oldest peer with no call in flight and a closed breaker (its card and
   * clients too): agents may call URLs they are given, so what is kept per URL is bounded.
   */
  private forgetIdlePeer(): void {
    for (const [key, peer] of this.peers) {
      if (peer.inFlight > 0 || peer.state !== 'closed') continue;
      this.peers.delete(key);
      this.cards.forget(key);
      for (const [clientKey, connected] of this.clients)
        if (clientKey.endsWith(` ${key}`)) {
          this.clients.delete(clientKey);
          void connected.client.then(closeClient, () => {});
        }
      return;
    }
  }

  private span(method: string, peer: PeerState, agentUrl: string, options: CallOptions): Traced {
    return this.tracing.start(`A2A ${method}`, SpanKind.CLIENT, options.parent, {
      'rpc.system': 'a2a',
      'rpc.method': method,
      'a2a.recipient': peer.name,
      'a2a.transport': options.transport ?? 'jsonrpc',
      'server.address': agentUrl,
    });
  }

  private timeoutFor(agentUrl: string): number {
    const { targets, callTimeoutMs } = this.options.settings;
    return targets.find((t) => agentUrl.startsWith(t.url))?.timeoutMs ?? callTimeoutMs;
  }
}

/** The request for a message call; a string or bare message is wrapped, its messageId fixed now. */
function requestOf(request: SendMessageRequest | Message | string): SendMessageRequest {
  if (typeof request === 'string')
    return {
      tenant: '',
      message: textMessage(Role.ROLE_USER, request, { contextId: '', taskId: '' }),
      configuration: undefined,
      metadata: undefined,
    };
  if ('messageId' in request)
    return { tenant: '', message: request, configuration: undefined, metadata: undefined };
  return request;
}

/** An OpenTelemetry Context (the older `send` form), as opposed to call options. */
function isContext(value: CallOptions | Context | undefined): value is Context {
  return typeof (value as Context | undefined)?.getValue === 'function';
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The call was aborted', 'AbortError');
}

/**
 * `promise`, or the abort reason as soon as `signal` aborts: the retry policy would otherwise
 * finish its backoff delay before noticing. The abandoned promise's outcome is ignored.
 */
function untilAborted<T>(signal: AbortSignal | undefined, promise: Promise<T>): Promise<T> {
  if (!signal) return promise;
  promise.catch(() => {});
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Closes a gRPC client's channel (HTTP clients hold nothing: their pools are closed apart). */
function closeClient(client: Client | undefined): void {
  (client?.transport as { grpcClient?: { close(): void } } | undefined)?.grpcClient?.close();
}

function seconds(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}
