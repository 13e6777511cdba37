/**
 * Verified bearer tokens, so a client that sends the same JWT on every request pays for its
 * signature once. Bounded by count and by bytes (the oldest go first), an entry expires at
 * the token's own `exp`, and the whole cache is cleared when the issuer's keys change.
 */
import type { Principal } from './principal.js';

interface Entry {
  readonly principal: Principal;
  /** Epoch ms after which the token no longer authenticates. */
  readonly expiresAt: number;
  readonly bytes: number;
}

export interface TokenCacheLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

/** Per-entry bookkeeping on top of the token text (map slot, principal, scopes). */
const ENTRY_OVERHEAD_BYTES = 256;

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly limits: TokenCacheLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /** The principal of a token verified before and not yet expired. */
  get(token: string): Principal | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.remove(token, entry);
      return undefined;
    }
    return entry.principal;
  }

  /** Remembers a verified token until `expiresAt` (tokens without `exp` are not cached). */
  set(token: string, principal: Principal, expiresAt: number | undefined): void {
    if (expiresAt === undefined || expiresAt <= this.now()) return;
    const bytes = token.length * 2 + ENTRY_OVERHEAD_BYTES + principal.id.length * 2;
    if (bytes > this.limits.maxBytes || this.limits.maxEntries === 0) return;
    const old = this.entries.get(token);
    if (old) this.remove(token, old);
    while (this.entries.size >= this.limits.maxEntries || this.bytes + bytes > this.limits.maxBytes) {
      const oldest = this.entries.entries().next().value;
      if (!oldest) break;
      this.remove(oldest[0], oldest[1]);
    }
    this.entries.set(token, { principal, expiresAt, bytes });
    this.bytes += bytes;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private remove(token: string, entry: Entry): void {
    this.entries.delete(token);
    this.bytes -= entry.bytes;
  }
}
