/**
 * Agent cards are cacheable (A2A §8.6.1): every card route sends a strong `ETag` (a hash of
 * the card JSON) and `Last-Modified` (when the card was published), and answers a
 * conditional request for an unchanged card with 304 and no body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENTS, startServer, type TestServer } from '../../helpers/server.js';

let t: TestServer;
let started: number;
beforeAll(async () => {
  started = Math.floor(Date.now() / 1000) * 1000;
  t = await startServer({
    agents: [
      { ...(DEMO_AGENTS[0] as object), extendedCard: { description: 'for signed-in callers' } },
      DEMO_AGENTS[1],
    ],
  });
});
afterAll(() => t.close());

const ROUTES = [
  '/.well-known/agent-card.json',
  '/a2a/echo/.well-known/agent-card.json',
  '/a2a/countdown/.well-known/agent-card.json',
  '/a2a/echo/rest/extendedAgentCard',
];

for (const route of ROUTES) {
  describe(`GET ${route}`, () => {
    it('sends a strong ETag and Last-Modified, the same on every fetch of the same card', async () => {
      const a = await fetch(`${t.url}${route}`);
      expect(a.status).toBe(200);
      expect(JSON.parse(await a.text()).name).toBeTypeOf('string');
      const etag = a.headers.get('etag');
      expect(etag).toMatch(/^"[A-Za-z0-9_-]{16,}"$/);
      const lastModified = Date.parse(a.headers.get('last-modified') ?? '');
      expect(lastModified).toBeGreaterThanOrEqual(started);
      expect(lastModified).toBeLessThanOrEqual(Date.now());
      const b = await fetch(`${t.url}${route}`);
      await b.text();
      expect(b.headers.get('etag')).toBe(etag);
      expect(b.headers.get('last-modified')).toBe(a.headers.get('last-modified'));
    });

    it('If-None-Match with its ETag (strong, weak or in a list) → 304 without a body', async () => {
      const etag = (await fetch(`${t.url}${route}`)).headers.get('etag') as string;
      for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const res = await fetch(`${t.url}${route}`, { headers: { 'if-none-match': header } });
        expect(res.status, header).toBe(304);
        expect(await res.text()).toBe('');
        expect(res.headers.get('etag')).toBe(etag);
        expect(res.headers.get('cache-control')).toContain('max-age');
      }
    });

    it('If-None-Match with another ETag → 200 with the card; If-None-Match wins over If-Modified-Since', async () => {
      const first = await fetch(`${t.url}${route}`);
      await first.text();
      const res = await fetch(`${t.url}${route}`, {
        headers: {
          'if-none-match': '"stale"',
          'if-modified-since': first.headers.get('last-modified') as string,
        },
      });
      expect(res.status).toBe(200);
      expect(JSON.parse(await res.text()).name).toBeTypeOf('string');
    });

    it('If-Modified-Since at or after Last-Modified → 304; before it → 200', async () => {
      const first = await fetch(`${t.url}${route}`);
      await first.text();
      const lastModified = first.headers.get('last-modified') as string;
      const same = await fetch(`${t.url}${route}`, { headers: { 'if-modified-since': lastModified } });
      expect(same.status).toBe(304);
      const earlier = new Date(Date.parse(lastModified) - 60_000).toUTCString();
      const older = await fetch(`${t.url}${route}`, { headers: { 'if-modified-since': earlier } });
      expect(older.status).toBe(200);
      await older.text();
    });
  });
}

it('different cards have different ETags', async () => {
  const tags = await Promise.all(
    ROUTES.slice(1).map(async (r) => (await fetch(`${t.url}${r}`)).headers.get('etag')),
  );
  expect(new Set(tags).size).toBe(tags.length);
});
