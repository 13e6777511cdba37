import { AgentCard } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';

/** Transports the CLI can use, by their command-line names. */
export const TRANSPORTS = { jsonrpc: 'JSONRPC', rest: 'HTTP+JSON', grpc: 'GRPC' } as const;
export type TransportName = keyof typeof TRANSPORTS;

/**
 * Where to fetch an agent card from a user-supplied URL: a URL ending in `.json` is the
 * card itself; anything else is an agent (or server) base URL with the card at
 * `/.well-known/agent-card.json` below it.
 */
export function cardUrlOf(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new Error(`an agent URL starts with http:// or https:// (got "${url}")`);
  if (u.pathname.endsWith('.json')) return u.href;
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}/.well-known/agent-card.json`;
}

/**
 * Headers of every agent-card request: the protocol version we speak (A2A §3.6.1), so a
 * server that serves several versions answers with the v1.0 card.
 */
export const CARD_REQUEST_HEADERS = { accept: 'application/json', 'A2A-Version': '1.0' } as const;

/**
 * The message of an error answer: `error.message` of an A2A HTTP+JSON (`google.rpc.Status`)
 * or JSON-RPC body, else a top-level `message`; undefined when the body has none.
 */
async function errorMessageOf(res: Response): Promise<string | undefined> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { error, message } = body as { error?: unknown; message?: unknown };
  const nested =
    typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  const found = typeof nested === 'string' ? nested : typeof message === 'string' ? message : undefined;
  return found?.trim() || undefined;
}

/** Fetches and decodes an agent card; throws a readable error when it is not one. */
export async function fetchCard(url: string): Promise<{ url: string; card: AgentCard; raw: unknown }> {
  const cardUrl = cardUrlOf(url);
  let res: Response;
  try {
    res = await fetch(cardUrl, { headers: CARD_REQUEST_HEADERS });
  } catch (error) {
    throw new Error(`cannot reach ${cardUrl}: ${(error as Error).cause ?? (error as Error).message}`);
  }
  if (!res.ok) {
    const message = await errorMessageOf(res);
    const what = `GET ${cardUrl} answered HTTP ${res.status}`;
    throw new Error(message ? `${message} (${what})` : what);
  }
  const raw: unknown = await res.json().catch(() => {
    throw new Error(`${cardUrl} did not return JSON`);
  });
  const card = AgentCard.fromJSON(raw);
  const problems: string[] = [];
  if (!card.name) problems.push('name is missing');
  if (card.supportedInterfaces.length === 0)
    problems.push('supportedInterfaces is empty (no way to reach the agent)');
  if (!card.version) problems.push('version is missing');
  if (problems.length > 0)
    throw new Error(`${cardUrl} is not a valid A2A v1.0 agent card: ${problems.join('; ')}`);
  return { url: cardUrl, card, raw };
}

/**
 * An official SDK client for the agent at `url`, on the chosen transport. Fails clearly
 * when the card does not offer that transport.
 */
export async function connect(
  url: string,
  transport: TransportName,
): Promise<{ client: Client; card: AgentCard }> {
  const { card } = await fetchCard(url);
  const binding = TRANSPORTS[transport];
  if (
    !card.supportedInterfaces.some(
      (i) => i.protocolBinding === binding && (i.protocolVersion || '1.0').startsWith('1'),
    )
  ) {
    const offered = [...new Set(card.supportedInterfaces.map((i) => i.protocolBinding))].join(', ');
    throw new Error(`agent "${card.name}" does not offer ${binding} (its card lists: ${offered})`);
  }
  // Loaded on demand: `agentd serve` never needs the client side (grpc-js alone is ~9 MB of RSS).
  const { ClientFactory, ClientFactoryOptions, JsonRpcTransportFactory, RestTransportFactory } =
    await import('@a2a-js/sdk/client');
  const { GrpcTransportFactory } = await import('@a2a-js/sdk/client/grpc');
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory(), new RestTransportFactory(), new GrpcTransportFactory()],
      preferredTransports: [binding],
    }),
  );
  return { client: await factory.createFromAgentCard(card), card };
}
