/**
 * Signed agent cards (A2A §8.4): a JWS with detached payload over the card's canonical
 * JSON (the SDK's `canonicalizeAgentCard`: defaults removed, `signatures` excluded,
 * RFC 8785 JCS), protected header `{alg, kid, typ: "JOSE"}`. Verification trusts only the
 * key set the verifier chose: a `jku` or `jwk` in a signature's header is never used to
 * find the key.
 */
import { AgentCard, canonicalizeAgentCard, type AgentCardSignature } from '@a2a-js/sdk';
import { readFile } from 'node:fs/promises';
import { decodeProtectedHeader, flattenedVerify, importJWK, type JWK } from 'jose';
import { err } from '../errors.js';
import type { SigningKey } from './signing-key.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/**
 * Signs cards with agentd's key. Signing the same content again gives the same card, so a
 * republished but unchanged card keeps its ETag (ECDSA signatures differ on every run).
 */
export class CardSigner {
  private readonly memo = new Map<string, AgentCardSignature>();

  constructor(private readonly key: SigningKey) {}

  /** The card with this key's signature as its only `signatures` entry. */
  sign(card: AgentCard): AgentCard {
    const payload = canonicalPayload(card);
    let signature = this.memo.get(payload);
    if (!signature) {
      const protectedHeader = b64(JSON.stringify({ alg: this.key.alg, kid: this.key.kid, typ: 'JOSE' }));
      const value = this.key.sign(`${protectedHeader}.${b64(payload)}`).toString('base64url');
      signature = { protected: protectedHeader, signature: value, header: undefined };
      if (this.memo.size > 256) this.memo.clear();
      this.memo.set(payload, signature);
    }
    return { ...card, signatures: [signature] };
  }
}

/** The signed bytes of a card: the canonical JSON of its wire form, as a verifier computes it. */
function canonicalPayload(card: AgentCard): string {
  return canonicalizeAgentCard(AgentCard.toJSON(card) as AgentCard);
}

/** Why a card did not verify (the `reason` of AGENT_CARD_UNVERIFIED). */
export type CardProblem = 'unsigned' | 'unknown_kid' | 'bad_signature' | 'malformed';

/** A JSON Web Key Set the verifier trusts. */
export interface TrustedKeys {
  readonly keys: readonly JWK[];
}

/**
 * Verifies a card (its JSON as received) against the trusted keys; resolves with the `kid`
 * that verified. Throws AGENT_CARD_UNVERIFIED naming the problem: no signature, no trusted
 * key with the signature's `kid`, a signature that does not match the content (tampered),
 * or a malformed signature.
 */
export async function verifyCard(
  cardJson: unknown,
  trusted: TrustedKeys,
  source = 'the agent card',
): Promise<string> {
  const signatures = (cardJson as { signatures?: unknown } | null)?.signatures;
  if (!Array.isArray(signatures) || signatures.length === 0)
    throw unverified('unsigned', `${source} is not signed (it has no signatures)`);
  const payload = b64(canonicalizeAgentCard(cardJson as AgentCard));
  const problems: Array<[CardProblem, string]> = [];
  for (const entry of signatures as Array<Partial<AgentCardSignature>>) {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader({ protected: entry.protected ?? '' });
      kid = header.kid;
      if (!kid || !header.alg || !header.typ) throw new Error('protected header lacks alg, kid or typ');
      if (header.alg === 'none') throw new Error('alg "none" is not a signature');
    } catch (error) {
      problems.push(['malformed', `a malformed signature (${(error as Error).message})`]);
      continue;
    }
    // Only the trusted set is searched: a `jku` or `jwk` the signer put in the header is ignored.
    const candidates = trusted.keys.filter((k) => k.kid === kid);
    if (candidates.length === 0) {
      problems.push(['unknown_kid', `a signature by key "${kid}", which is not in the trusted key set`]);
      continue;
    }
    for (const jwk of candidates) {
      try {
        const alg = jwk.alg ?? decodeProtectedHeader({ protected: entry.protected ?? '' }).alg;
        const key = await importJWK({ ...jwk, ext: true }, alg);
        await flattenedVerify(
          { payload, protected: entry.protected ?? '', signature: entry.signature ?? '', header: undefined },
          key,
          alg ? { algorithms: [alg] } : {},
        );
        return kid;
      } catch (error) {
        problems.push([
          'bad_signature',
          `a signature by key "${kid}" that does not match the card's content (${(error as Error).message}): the card was changed after signing`,
        ]);
      }
    }
  }
  const order: CardProblem[] = ['bad_signature', 'unknown_kid', 'malformed'];
  const [reason] = order.filter((r) => problems.some(([p]) => p === r));
  throw unverified(
    reason ?? 'malformed',
    `${source} did not verify: ${problems.map(([, m]) => m).join('; ')}`,
  );
}

function unverified(reason: CardProblem, message: string): Error {
  return err('AGENT_CARD_UNVERIFIED', message, { reason });
}

/**
 * The trusted key set from a URL (http/https, fetched) or a file (a JWKS, or one JWK).
 * The caller chooses it; nothing in a card decides where keys come from.
 */
export async function loadTrustedKeys(source: string): Promise<TrustedKeys> {
  let text: string;
  if (/^https?:\/\//i.test(source)) {
    const res = await fetch(source, { headers: { accept: 'application/jwk-set+json, application/json' } });
    if (!res.ok) throw new Error(`JWKS ${source} answered HTTP ${res.status}`);
    text = await res.text();
  } else {
    text = await readFile(source, 'utf8').catch((error: Error) => {
      throw new Error(`cannot read JWKS file ${source}: ${error.message}`);
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`JWKS ${source} is not JSON`);
  }
  const keys = (parsed as { keys?: unknown }).keys ?? [parsed];
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'object' || k === null || !('kty' in k)))
    throw new Error(`JWKS ${source} is not a JSON Web Key Set ({"keys": [...]})`);
  return { keys: keys as JWK[] };
}
