/**
 * Signed agent cards (A2A §8.4) as a client sees them: agentd serves each card with a JWS
 * over its canonical JSON and the public key at /.well-known/jwks.json; the official SDK's
 * verifier and a plain jose verification accept it, in the v1.0 and the v0.3-compatible
 * form; a changed card, an unknown key, an unsigned card are reported; a `jku` or `jwk` a
 * forger puts in the header is never trusted; caching validators stay stable.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalizeAgentCard, verifyAgentCardSignature, type AgentCard } from '@a2a-js/sdk';
import {
  FlattenedSign,
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  flattenedVerify,
  importJWK,
  type JWK,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAgentdError } from '../../src/errors.js';
import { verifyCard, type TrustedKeys } from '../../src/security/card-signing.js';
import { AGENTS_WITH_EXTENDED_CARD } from '../helpers/interop.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { rpc } from '../helpers/wire.js';

type CardJson = Record<string, unknown> & { signatures?: Array<Record<string, unknown>> };

const dir = mkdtempSync(join(tmpdir(), 'agentd-cards-'));
const signing = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyFile = join(dir, 'card-key.pem');
writeFileSync(keyFile, signing.privateKey.export({ type: 'pkcs8', format: 'pem' }));

async function getJson(url: string, headers: Record<string, string> = {}): Promise<CardJson> {
  const res = await fetch(url, { headers });
  expect(res.status).toBe(200);
  return (await res.json()) as CardJson;
}

async function reason(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isAgentdError(error, 'AGENT_CARD_UNVERIFIED'))
    throw new Error(`expected AGENT_CARD_UNVERIFIED, got ${String(error)}`);
  return error.data?.reason;
}

/** A signature made by `key` (a forger's) over the card, with whatever header it likes. */
async function forged(card: CardJson, key: KeyObject, header: Record<string, unknown>): Promise<CardJson> {
  const payload = new TextEncoder().encode(canonicalizeAgentCard(card as unknown as AgentCard));
  const jws = await new FlattenedSign(payload)
    .setProtectedHeader({ alg: 'ES256', typ: 'JOSE', ...header })
    .sign(key);
  return { ...card, signatures: [{ protected: jws.protected, signature: jws.signature }] };
}

describe('signed agent cards', () => {
  let t: TestServer;
  let jwks: TrustedKeys;
  let card: CardJson;
  beforeAll(async () => {
    t = await startServer({
      agents: AGENTS_WITH_EXTENDED_CARD,
      cardSigning: { keyFile },
      server: { compatV03: true },
    });
    jwks = (await getJson(`${t.url}/.well-known/jwks.json`)) as unknown as TrustedKeys;
    card = await getJson(`${t.agentUrl('echo')}.well-known/agent-card.json`, { 'A2A-Version': '1.0' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('carry one JWS whose protected header has alg, kid (the key thumbprint) and typ', () => {
    expect(card.signatures).toHaveLength(1);
    const header = JSON.parse(
      new TextDecoder().decode(base64url.decode(card.signatures?.[0]?.protected as string)),
    ) as Record<string, unknown>;
    expect(header).toEqual({ alg: 'ES256', kid: jwks.keys[0]?.kid, typ: 'JOSE' });
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it("verify with the official SDK's verifier, keys taken from the served JWKS by kid", async () => {
    const retrieved: Array<string | undefined> = [];
    const verifier = verifyAgentCardSignature(async (kid, jku) => {
      retrieved.push(jku);
      const jwk = jwks.keys.find((k) => k.kid === kid);
      if (!jwk) throw new Error(`unknown kid ${kid}`);
      return jwk;
    });
    await expect(verifier(card as unknown as AgentCard)).resolves.toBeUndefined();
    expect(retrieved).toEqual([undefined]);
  });

  it('verify with jose: detached payload = the canonical JSON of the card without signatures', async () => {
    const sig = card.signatures?.[0] as { protected: string; signature: string };
    const { signatures: _dropped, ...unsigned } = card;
    const payload = base64url.encode(canonicalizeAgentCard(unsigned as unknown as AgentCard));
    const key = await importJWK(jwks.keys[0] as JWK, 'ES256');
    const { protectedHeader } = await flattenedVerify({ payload, ...sig }, key);
    expect(protectedHeader?.typ).toBe('JOSE');
  });

  it('the v0.3-compatible card (no A2A-Version) and every agent card verify too', async () => {
    const legacy = await getJson(`${t.agentUrl('echo')}.well-known/agent-card.json`);
    expect(legacy).toHaveProperty('url');
    await expect(verifyCard(legacy, jwks)).resolves.toBe(jwks.keys[0]?.kid);
    for (const path of ['/.well-known/agent-card.json', '/a2a/countdown/.well-known/agent-card.json']) {
      await expect(
        verifyCard(await getJson(`${t.url}${path}`, { 'A2A-Version': '1.0' }), jwks),
      ).resolves.toBeTruthy();
    }
  });

  it('the extended card (GetExtendedAgentCard) is signed too, over its own content', async () => {
    const res = await rpc(t.url, 'vip', 'GetExtendedAgentCard', {});
    const extended = res.json.result as CardJson;
    expect(extended.description).toBe('x');
    await expect(verifyCard(extended, jwks)).resolves.toBe(jwks.keys[0]?.kid);
    const publicCard = await getJson(`${t.agentUrl('vip')}.well-known/agent-card.json`, {
      'A2A-Version': '1.0',
    });
    expect(extended.signatures).not.toEqual(publicCard.signatures);
  });

  it('a changed card fails: description, a skill, an added field', async () => {
    const skills = card.skills as Array<Record<string, unknown>>;
    for (const tampered of [
      { ...card, description: 'a friendlier agent' },
      { ...card, skills: [{ ...skills[0], id: 'exfiltrate' }] },
      { ...card, documentationUrl: 'https://evil.example/docs' },
    ]) {
      expect(await reason(verifyCard(tampered, jwks))).toBe('bad_signature');
    }
  });

  it('an unsigned card and a key outside the trusted set are reported', async () => {
    const { signatures: _dropped, ...unsigned } = card;
    expect(await reason(verifyCard(unsigned, jwks))).toBe('unsigned');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const strangers: TrustedKeys = { keys: [{ ...(await exportJWK(other.publicKey)), kid: 'someone-else' }] };
    expect(await reason(verifyCard(card, strangers))).toBe('unknown_kid');
  });

  it('a jku or jwk in the header is not trusted: a forger signing with its own key fails', async () => {
    const forger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forgerJwk = await exportJWK(forger.publicKey);
    const changed = { ...card, description: 'trust me' };
    // Its own key embedded, under a kid the verifier does not know.
    expect(
      await reason(
        verifyCard(await forged(changed, forger.privateKey, { kid: 'forger', jwk: forgerJwk }), jwks),
      ),
    ).toBe('unknown_kid');
    // Claiming agentd's kid, pointing at its own JWKS.
    const claim = { kid: jwks.keys[0]?.kid, jku: 'https://evil.example/jwks.json', jwk: forgerJwk };
    expect(await reason(verifyCard(await forged(changed, forger.privateKey, claim), jwks))).toBe(
      'bad_signature',
    );
  });

  it('caching: the same signed card, the same ETag, and 304 for it', async () => {
    const url = `${t.agentUrl('echo')}.well-known/agent-card.json`;
    const first = await fetch(url, { headers: { 'A2A-Version': '1.0' } });
    const etag = first.headers.get('etag') ?? '';
    const body = await first.text();
    const again = await fetch(url, { headers: { 'A2A-Version': '1.0' } });
    expect(await again.text()).toBe(body);
    expect(again.headers.get('etag')).toBe(etag);
    const conditional = await fetch(url, { headers: { 'A2A-Version': '1.0', 'if-none-match': etag } });
    expect(conditional.status).toBe(304);
  });
});

describe('card signing keys', () => {
  it('a JWK key file, a configured kid and extra public keys are served in the JWKS', async () => {
    const ed = generateKeyPairSync('ed25519');
    const jwkFile = join(dir, 'card-key.jwk');
    writeFileSync(jwkFile, JSON.stringify(ed.privateKey.export({ format: 'jwk' })));
    const old = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const extraFile = join(dir, 'extra.jwks');
    writeFileSync(
      extraFile,
      JSON.stringify({ keys: [{ ...old.publicKey.export({ format: 'jwk' }), kid: 'previous' }] }),
    );
    const t = await startServer({
      cardSigning: { keyFile: jwkFile, kid: 'cards-2026', extraPublicKeysFile: extraFile },
    });
    try {
      const jwks = (await getJson(`${t.url}/.well-known/jwks.json`)) as unknown as TrustedKeys;
      expect(jwks.keys.map((k) => [k.kid, k.kty])).toEqual([
        ['cards-2026', 'OKP'],
        ['previous', 'EC'],
      ]);
      const card = await getJson(`${t.url}/.well-known/agent-card.json`, { 'A2A-Version': '1.0' });
      await expect(verifyCard(card, jwks)).resolves.toBe('cards-2026');
    } finally {
      await t.close();
    }
  });

  it('an RSA PEM key signs RS256 under its RFC 7638 thumbprint', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaFile = join(dir, 'rsa.pem');
    writeFileSync(rsaFile, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const t = await startServer({ cardSigning: { keyFile: rsaFile } });
    try {
      const jwks = (await getJson(`${t.url}/.well-known/jwks.json`)) as unknown as TrustedKeys;
      const expectedKid = await calculateJwkThumbprint(rsa.publicKey.export({ format: 'jwk' }) as JWK);
      expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', kid: expectedKid });
      const card = await getJson(`${t.url}/.well-known/agent-card.json`, { 'A2A-Version': '1.0' });
      await expect(verifyCard(card, jwks)).resolves.toBe(expectedKid);
    } finally {
      await t.close();
    }
  });

  it('a key file that is not a private key stops the start, naming the file', async () => {
    const bad = join(dir, 'not-a-key.pem');
    writeFileSync(bad, 'hello');
    await expect(startServer({ cardSigning: { keyFile: bad } })).rejects.toThrow(
      `cardSigning.keyFile ${bad}: not a readable PEM (PKCS#8) or JWK private key`,
    );
  });

  it('without a key file cards are served unsigned', async () => {
    const t = await startServer();
    try {
      const card = await getJson(`${t.url}/.well-known/agent-card.json`, { 'A2A-Version': '1.0' });
      expect(card.signatures).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});
