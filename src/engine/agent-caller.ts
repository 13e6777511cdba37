import type { Context } from '@opentelemetry/api';
import { Role, type AgentCard, type Message, type SendMessageRequest, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { textMessage } from '../agents/parts.js';
import { connect, type CardCheck, type TransportName } from '../client/connect.js';
import { SpanKind, Tracing } from '../observability/tracing.js';
import { Outbound } from '../security/outbound.js';

/** Told of each outbound A2A message: the recipient agent's name, and how it went. */
export type SentObserver = (recipient: string, delivered: boolean, seconds: number) => void;

/**
 * Agents calling other A2A agents (`requestContext.callAgent`): the official SDK client on
 * the chosen transport (JSON-RPC by default), one per agent URL and transport, kept for
 * reuse, with the `outbound` credentials and TLS settings of its URL. Each call is a client span parented on the calling task's server span, whose
 * `traceparent` goes along as an HTTP header or gRPC metadata, so the call and the work it
 * causes in the other agent's process are one trace.
 */
export class AgentCaller {
  private readonly clients = new Map<string, Promise<{ client: Client; card: AgentCard }>>();

  constructor(
    private readonly tracing: Tracing,
    private readonly sent?: SentObserver,
    /** Credentials and TLS per target agent URL. */
    private readonly outbound: Outbound = Outbound.none,
    /** Verifies each peer's card before it is used (outbound.verifyCardsJwks). */
    private readonly verifyCard?: CardCheck,
  ) {}

  async send(
    agentUrl: string,
    message: Message | string,
    parent: Context | undefined,
    signal?: AbortSignal,
    transport: TransportName = 'jsonrpc',
  ): Promise<Message | Task> {
    const key = `${transport} ${agentUrl}`;
    let connected = this.clients.get(key);
    if (!connected) {
      connected = connect(agentUrl, transport, this.outbound, this.verifyCard);
      this.clients.set(key, connected);
      connected.catch(() => this.clients.delete(key)); // a failed lookup is retried next time
    }
    const { client, card } = await connected;
    const request: SendMessageRequest = {
      tenant: '',
      message:
        typeof message === 'string'
          ? textMessage(Role.ROLE_USER, message, { contextId: '', taskId: '' })
          : message,
      configuration: undefined,
      metadata: undefined,
    };
    const traced = this.tracing.start('A2A SendMessage', SpanKind.CLIENT, parent, {
      'rpc.system': 'a2a',
      'rpc.method': 'SendMessage',
      'a2a.recipient': card.name,
      'a2a.transport': transport,
      'server.address': agentUrl,
    });
    const headers: Record<string, string> = {};
    this.tracing.inject(traced?.context, headers);
    const started = performance.now();
    try {
      const result = await client.sendMessage(request, {
        serviceParameters: headers,
        ...(signal ? { signal } : {}),
      });
      Tracing.end(traced);
      this.sent?.(card.name, true, (performance.now() - started) / 1000);
      return result;
    } catch (error) {
      Tracing.end(traced, (error as Error).message);
      this.sent?.(card.name, false, (performance.now() - started) / 1000);
      throw error;
    }
  }
}
