/**
 * HTTP caching for agent cards (A2A §8.6.1): a strong `ETag` (SHA-256 of the card JSON,
 * base64url), `Last-Modified` (when this content was first served, i.e. published: cards are
 * published at start and republished when they change), and 304 for a conditional request
 * (`If-None-Match`, else `If-Modified-Since`, RFC 9110 §13.2.2) that names the current card.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

interface Published {
  readonly json: string;
  readonly etag: string;
  /** HTTP-date of publication (whole seconds, as the header carries them). */
  readonly lastModified: string;
  readonly lastModifiedMs: number;
}

/** The validators of each card by route key, recomputed only when the card's JSON changes. */
export class CardCache {
  private readonly published = new Map<string, Published>();

  private validators(key: string, json: string): Published {
    const known = this.published.get(key);
    if (known?.json === json) return known;
    const ms = Math.floor(Date.now() / 1000) * 1000;
    const entry: Published = {
      json,
      etag: `"${createHash('sha256').update(json).digest('base64url')}"`,
      lastModified: new Date(ms).toUTCString(),
      lastModifiedMs: ms,
    };
    this.published.set(key, entry);
    return entry;
  }

  /** Sends the card JSON under `key` with its validators, or 304 when the client has it. */
  send(
    request: FastifyRequest,
    reply: FastifyReply,
    key: string,
    json: string,
    contentType: string,
    cacheControl: string,
  ): FastifyReply {
    const card = this.validators(key, json);
    reply
      .header('cache-control', cacheControl)
      .header('etag', card.etag)
      .header('last-modified', card.lastModified);
    if (notModified(request, card)) return reply.code(304).send();
    return reply.type(contentType).send(json);
  }
}

function notModified(request: FastifyRequest, card: Published): boolean {
  const ifNoneMatch = request.headers['if-none-match'];
  if (typeof ifNoneMatch === 'string' && ifNoneMatch.trim() !== '') {
    // Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    return ifNoneMatch
      .split(',')
      .map((tag) => tag.trim().replace(/^W\//, ''))
      .some((tag) => tag === '*' || tag === card.etag);
  }
  const ifModifiedSince = request.headers['if-modified-since'];
  if (typeof ifModifiedSince !== 'string') return false;
  const since = Date.parse(ifModifiedSince);
  return Number.isFinite(since) && since >= card.lastModifiedMs;
}
