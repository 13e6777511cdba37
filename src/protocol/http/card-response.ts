import { AgentCard } from '@a2a-js/sdk';
import type { A2ARequestHandler } from '@a2a-js/sdk/server';
import { ServerCallContext } from '@a2a-js/sdk/server';
import { isV03Version } from './http-context.js';

/** The JSON bodies one card is served as, computed once per card object. */
interface CardBodies {
  /** The A2A v1.0 card. */
  readonly v1: string;
  /** The v1.0 card with the v0.3 fields added; the v1.0 card when the card has no v0.3 interface. */
  readonly superset: string;
}

const bodies = new WeakMap<AgentCard, Promise<CardBodies>>();

/**
 * Whether a card request asks for the v1.0 card: `A2A-Version` (header or query parameter,
 * A2A §3.6.1) of 1.0 or later. No version, or a 0.x one, is a v0.3 client (the spec assumes
 * 0.3 for an empty header), which gets the superset card.
 */
export function wantsV1Card(requestedVersion: string | undefined): boolean {
  return requestedVersion !== undefined && !isV03Version(requestedVersion);
}

/**
 * The JSON body of an agent-card response, chosen the way the SDK's own card handler
 * chooses (`agentCardHandler` with `legacyCompat`): a client that asks for v1.0 gets the
 * v1.0 card; a client that sends no version (every v0.3 client) gets a card a v0.3 client
 * can read: the v1.0 card with the v0.3 fields of the SDK's translation added (`url`,
 * `preferredTransport`, `protocolVersion`, `additionalInterfaces`,
 * `supportsAuthenticatedExtendedCard`, `security`, and the v0.3 members of nested objects,
 * see {@link fill}). Unlike the SDK, which answers with the v0.3 card plus
 * `supportedInterfaces`, every v1.0 value is kept as it is, so the superset stays a valid
 * v1.0 card (`capabilities.extendedAgentCard` and v1.0 security schemes survive for v1.0
 * clients that send no version). The response varies on `A2A-Version`.
 */
export function agentCardJson(card: AgentCard, requestedVersion: string | undefined): Promise<string> {
  let entry = bodies.get(card);
  if (!entry) {
    entry = cardBodies(card);
    bodies.set(card, entry);
  }
  return entry.then((b) => (wantsV1Card(requestedVersion) ? b.v1 : b.superset));
}

async function cardBodies(card: AgentCard): Promise<CardBodies> {
  const v1Json = AgentCard.toJSON(card) as Record<string, unknown>;
  const v1 = JSON.stringify(v1Json);
  const legacy = await legacyCard(card);
  return { v1, superset: legacy ? JSON.stringify(fill(v1Json, legacy)) : v1 };
}

/**
 * `primary` with what only `extra` has added, recursively: objects gain the keys they lack,
 * arrays of the same length are filled element by element, and every value `primary` has
 * wins. So the superset keeps each v1.0 value and gains the v0.3 ones: top-level `url`,
 * a skill's `description` that v1.0 JSON omits when empty, a security scheme's `type`
 * beside its v1.0 one-of member.
 */
function fill(primary: unknown, extra: unknown): unknown {
  if (Array.isArray(primary) && Array.isArray(extra) && primary.length === extra.length) {
    return primary.map((value, i) => fill(value, extra[i]));
  }
  if (!isObject(primary) || !isObject(extra)) return primary;
  const out: Record<string, unknown> = { ...primary };
  for (const [key, value] of Object.entries(extra))
    out[key] = key in primary ? fill(primary[key], value) : value;
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The SDK's v0.3 translation of a card, or undefined when the card lists no v0.3 interface
 * (v0.3 compatibility off). The translator (`toCompatAgentCard`) is internal to the SDK;
 * the v0.3 REST handler's extended-card operation is its public door, so it is asked to
 * translate this card. The compat layer loads on the first card request.
 */
async function legacyCard(card: AgentCard): Promise<Record<string, unknown> | undefined> {
  if (!card.supportedInterfaces.some((i) => i.protocolVersion.startsWith('0.'))) return undefined;
  const { LegacyRestTransportHandler } = await import('@a2a-js/sdk/compat/v0_3/server');
  const source: Pick<A2ARequestHandler, 'getAuthenticatedExtendedAgentCard'> = {
    getAuthenticatedExtendedAgentCard: () => Promise.resolve(card),
  };
  const translated = await new LegacyRestTransportHandler(
    source as A2ARequestHandler,
  ).getAuthenticatedExtendedAgentCard(new ServerCallContext());
  return translated as unknown as Record<string, unknown>;
}
