/**
 * Peer agent cards kept with their HTTP validators: a card is fetched once, reused while it
 * is fresh (its `Cache-Control: max-age`, else {@link DEFAULT_CARD_MAX_AGE_MS}), then
 * revalidated with `If-None-Match` — a 304 keeps the cached card (and skips verifying it
 * again), a 200 replaces it. agentd's own card routes send a strong ETag and
 * `Cache-Control: public, max-age=…`.
 */
import type { AgentCard } from '@a2a-js/sdk';
import { CARD_FETCH_HEADERS } from './card-fetch.js';
import { cardOfResponse, cardUrlOf, unreachable, type CardCheck } from './connect.js';

/** How long a card without `max-age` is used before it is revalidated. */
export const DEFAULT_CARD_MAX_AGE_MS = 60_000;

/** A card as cached: `version` changes whenever a fetch brought a new card. */
export interface CachedCard {
  readonly cardUrl: string;
  readonly card: AgentCard;
  readonly version: number;
}

interface Entry extends CachedCard {
  readonly etag: string | undefined;
  freshUntil: number;
}

export class PeerCardCache {
  private readonly entries = new Map<string, Entry>();
  /** One fetch per card URL at a time: concurrent calls share it. */
  private readonly pending = new Map<string, Promise<Entry>>();
  private versions = 0;

  constructor(
    /** The pooled fetch (credentials and TLS of each URL). */
    private readonly fetchImpl: typeof fetch,
    /** Checks a newly fetched card (signature verification); not run again on a 304. */
    private readonly verifyCard?: CardCheck,
    private readonly now: () => number = Date.now,
  ) {}

  /** The card of the agent at `url` (a base URL or the card URL), fetched or revalidated when stale. */
  async get(url: string): Promise<CachedCard> {
    const cardUrl = cardUrlOf(url);
    const known = this.entries.get(cardUrl);
    if (known && this.now() < known.freshUntil) return known;
    let pending = this.pending.get(cardUrl);
    if (!pending) {
      pending = this.fetch(cardUrl, known).finally(() => this.pending.delete(cardUrl));
      this.pending.set(cardUrl, pending);
    }
    return pending;
  }

  /** The cached card's agent name, if a card was fetched from `url` already. */
  nameOf(url: string): string | undefined {
    return this.entries.get(cardUrlOf(url))?.card.name;
  }

  /** Drops the cached card of `cardUrl` (the caller forgets an idle peer). */
  forget(cardUrl: string): void {
    this.entries.delete(cardUrl);
  }

  private async fetch(cardUrl: string, known: Entry | undefined): Promise<Entry> {
    const headers: Record<string, string> = { ...CARD_FETCH_HEADERS };
    if (known?.etag) headers['if-none-match'] = known.etag;
    let res: Response;
    try {
      res = await this.fetchImpl(cardUrl, { headers });
    } catch (error) {
      throw unreachable(cardUrl, error);
    }
    if (res.status === 304 && known) {
      await res.body?.cancel();
      known.freshUntil = this.now() + maxAgeMs(res.headers.get('cache-control'));
      return known;
    }
    const { card, raw } = await cardOfResponse(res, cardUrl);
    await this.verifyCard?.(raw, cardUrl);
    const entry: Entry = {
      cardUrl,
      card,
      version: ++this.versions,
      etag: res.headers.get('etag') ?? undefined,
      freshUntil: this.now() + maxAgeMs(res.headers.get('cache-control')),
    };
    this.entries.set(cardUrl, entry);
    return entry;
  }
}

/** `max-age` of a Cache-Control header in ms; `no-cache`/`no-store` mean revalidate every time. */
export function maxAgeMs(cacheControl: string | null): number {
  if (!cacheControl) return DEFAULT_CARD_MAX_AGE_MS;
  if (/(^|,)\s*no-(cache|store)\b/i.test(cacheControl)) return 0;
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl);
  return match ? Number(match[1]) * 1000 : DEFAULT_CARD_MAX_AGE_MS;
}
