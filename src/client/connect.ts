import { AgentCard } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { Outbound, type OutboundCall } from '../security/outbound.js';
import { CARD_FETCH_HEADERS } from './card-fetch.js';
import { authHeaders, authInterceptor, type ClientCredentials } from './auth.js';

/** Checks a fetched card (its JSON as received) before it is used; throws to refuse it. */
export type CardCheck = (cardJson: unknown, cardUrl: string) => Promise<void>;

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

/**
 * Fetches and decodes an agent card (asking for v1.0); throws a readable error when it is
 * not one. A v0.3 card (an agent that predates v1.0) is translated by the SDK's compat layer
 * into a v1.0 card whose interfaces say `protocolVersion` 0.3, so {@link connect} talks to
 * it over the v0.3 wire format.
 */
export async function fetchCard(
  url: string,
  outbound: Outbound = Outbound.none,
  credentials?: ClientCredentials,
): Promise<{ url: string; card: AgentCard; raw: unknown }> {
  const cardUrl = cardUrlOf(url);
  let res: Response;
  try {
    res = await outbound
      .for(cardUrl)
      .fetch(cardUrl, { headers: { ...CARD_FETCH_HEADERS, ...authHeaders(credentials) } });
  } catch (error) {
    throw unreachable(cardUrl, error);
  }
  return { url: cardUrl, ...(await cardOfResponse(res, cardUrl)) };
}

/** The error for a card fetch that got no answer; the original stays as `cause` (the retry policy reads it). */
export function unreachable(cardUrl: string, error: unknown): Error {
  return new Error(`cannot reach ${cardUrl}: ${(error as Error).cause ?? (error as Error).message}`, {
    cause: error,
  });
}

/** Decodes and checks the card in a card response (`res.ok` or not); throws a readable error. */
export async function cardOfResponse(
  res: Response,
  cardUrl: string,
): Promise<{ card: AgentCard; raw: unknown }> {
  if (!res.ok) {
    const message = await errorMessageOf(res);
    const what = `GET ${cardUrl} answered HTTP ${res.status}`;
    throw new Error(message ? `${message} (${what})` : what);
  }
  const raw: unknown = await res.json().catch(() => {
    throw new Error(`${cardUrl} did not return JSON`);
  });
  const legacy = await legacyCard(raw).catch((error: unknown) => {
    throw new Error(`${cardUrl} is not a valid A2A v0.3 agent card: ${(error as Error).message}`);
  });
  const card = legacy ?? AgentCard.fromJSON(raw);
  const problems: string[] = [];
  if (!card.name) problems.push('name is missing');
  if (card.supportedInterfaces.length === 0)
    problems.push('supportedInterfaces is empty (no way to reach the agent)');
  if (!card.version) problems.push('version is missing');
  if (problems.length > 0)
    throw new Error(
      `${cardUrl} is not a valid A2A ${legacy ? 'v0.3' : 'v1.0'} agent card: ${problems.join('; ')}`,
    );
  return { card, raw };
}

/** The v1.0 form of a v0.3 card, or undefined when `raw` is not one (a v1.0 or superset card). */
async function legacyCard(raw: unknown): Promise<AgentCard | undefined> {
  const interfaces = (raw as { supportedInterfaces?: unknown } | null)?.supportedInterfaces;
  if (Array.isArray(interfaces) && interfaces.length > 0) return undefined;
  const { isLegacyAgentCard, parseLegacyAgentCard } = await import('@a2a-js/sdk/compat/v0_3/client');
  return isLegacyAgentCard(raw) ? parseLegacyAgentCard(raw) : undefined;
}

/** Protocol versions agentd's client speaks: v1.x, and v0.3 through the SDK's compat transports. */
function spoken(version: string): boolean {
  const v = version || '1.0';
  return v.startsWith('1.') || v === '1' || v.startsWith('0.3');
}

/**
 * gRPC channel credentials for an agent reached at `agentUrl` whose card names
 * `grpcAddress`: TLS when the agent is served over https:// (a server with TLS on serves
 * gRPC over TLS only), with the configured CA and client certificate. The target's
 * credential headers go along as call credentials only over TLS (gRPC sends no credentials
 * in the clear) and only to the host of `agentUrl` (a card cannot redirect them elsewhere).
 */
export async function grpcChannelCredentials(
  agentUrl: string,
  call: OutboundCall,
  grpcAddress?: string,
): Promise<ChannelCredentials> {
  const grpc = await import('@grpc/grpc-js');
  const { tls } = call;
  if (!agentUrl.startsWith('https:')) return grpc.credentials.createInsecure();
  const sameHost = grpcAddress !== undefined && hostOf(grpcAddress) === new URL(agentUrl).hostname;
  const headers = sameHost ? call.headers : {};
  const ssl = grpc.credentials.createSsl(
    tls.ca ? Buffer.from(tls.ca.join('\n')) : null,
    tls.key ?? null,
    tls.cert ?? null,
  );
  const names = Object.entries(headers);
  if (names.length === 0) return ssl;
  return grpc.credentials.combineChannelCredentials(
    ssl,
    grpc.credentials.createFromMetadataGenerator((_params, callback) => {
      const metadata = new grpc.Metadata();
      for (const [name, value] of names) metadata.set(name, value);
      callback(null, metadata);
    }),
  );
}

/**
 * An official SDK client for the agent at `url`, on the chosen transport, speaking v1.0 or,
 * to an agent whose card offers that transport only as v0.3, v0.3. Fails clearly when the
 * card does not offer that transport. `outbound` supplies the target's credentials and TLS
 * settings (matched on `url`).
 */
export async function connect(
  url: string,
  transport: TransportName,
  outbound: Outbound = Outbound.none,
  verifyCard?: CardCheck,
  credentials?: ClientCredentials,
): Promise<{ client: Client; card: AgentCard }> {
  const { card, raw, url: cardUrl } = await fetchCard(url, outbound, credentials);
  await verifyCard?.(raw, cardUrl);
  // Each request gets the credentials of its own URL: a card that lists endpoints on another
  // host does not receive the credentials meant for this one.
  const fetchImpl = ((input: string | URL | Request, init?: RequestInit) =>
    outbound.for(input instanceof Request ? input.url : String(input)).fetch(input, init)) as typeof fetch;
  return { client: await clientFor(url, card, transport, fetchImpl, outbound, credentials), card };
}

/**
 * The SDK client for an agent whose card is known, on `transport`; HTTP requests go through
 * `fetchImpl` (which adds each URL's credentials), gRPC gets `outbound`'s channel credentials.
 */
export async function clientFor(
  url: string,
  card: AgentCard,
  transport: TransportName,
  fetchImpl: typeof fetch,
  outbound: Outbound = Outbound.none,
  credentials?: ClientCredentials,
): Promise<Client> {
  const binding = TRANSPORTS[transport];
  if (!card.supportedInterfaces.some((i) => i.protocolBinding === binding && spoken(i.protocolVersion))) {
    const offered = [...new Set(card.supportedInterfaces.map((i) => i.protocolBinding))].join(', ');
    throw new Error(`agent "${card.name}" does not offer ${binding} (its card lists: ${offered})`);
  }
  // Loaded on demand: `agentd serve` never needs the client side (grpc-js alone is ~9 MB of RSS).
  const { ClientFactory, ClientFactoryOptions, JsonRpcTransportFactory, RestTransportFactory } =
    await import('@a2a-js/sdk/client');
  const { GrpcTransportFactory } = await import('@a2a-js/sdk/client/grpc');
  // With legacyCompat the factories pick the SDK's v0.3 transports for an interface the
  // card says is v0.3, and the v1.0 ones otherwise (v1.0 wins when a card lists both).
  const legacyCompat = { enabled: true };
  const grpcAddress = card.supportedInterfaces.find((i) => i.protocolBinding === 'GRPC')?.url;
  const grpcChannelCredentialsForUrl =
    transport === 'grpc' ? await grpcChannelCredentials(url, outbound.for(url), grpcAddress) : undefined;
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [
        new JsonRpcTransportFactory({ legacyCompat, fetchImpl }),
        new RestTransportFactory({ legacyCompat, fetchImpl }),
        new GrpcTransportFactory({
          legacyCompat,
          ...(grpcChannelCredentialsForUrl ? { grpcChannelCredentials: grpcChannelCredentialsForUrl } : {}),
        }),
      ],
      preferredTransports: [binding],
      ...(credentials?.apiKey || credentials?.token
        ? { clientConfig: { interceptors: [authInterceptor(credentials)] } }
        : {}),
    }),
  );
  return factory.createFromAgentCard(card);
}

/** The host of a gRPC target (`host:port`, `[v6]:port`, `dns:host:port`), lower-cased. */
function hostOf(address: string): string {
  const bare = address.replace(/^dns:(\/\/[^/]*\/)?/, '');
  const v6 = /^\[([^\]]+)\]/.exec(bare);
  return (v6 ? `[${v6[1]}]` : (bare.split(':')[0] ?? '')).toLowerCase();
}
