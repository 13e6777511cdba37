import type { MessageLedger } from '../ports.js';

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * {@link MessageLedger} for one process, bounded by count and by bytes: the oldest entries
 * go first (a message older than that is run again if re-sent, as after its task expired).
 */
export class MemoryMessageLedger implements MessageLedger {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  async claim(key: string, value: string, ttlMs: number): Promise<string | undefined> {
    const found = this.live(key);
    if (found) return found.value;
    this.set(key, value, ttlMs);
    return undefined;
  }

  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value;
  }

  async settle(key: string, value: string, ttlMs: number): Promise<void> {
    this.set(key, value, ttlMs);
  }

  async release(key: string): Promise<void> {
    this.remove(key);
  }

  /** Entries held now (for tests of the bounds). */
  get size(): number {
    return this.entries.size;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.remove(key);
      return undefined;
    }
    return entry;
  }

  private set(key: string, value: string, ttlMs: number): void {
    this.remove(key);
    this.entries.set(key, { value, expiresAt: Date.now() + ttlMs });
    this.bytes += weight(key, value);
    // Map order is insertion order: the first entries are the oldest.
    for (const [k] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.remove(k);
    }
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= weight(key, entry.value);
  }
}

function weight(key: string, value: string): number {
  return 2 * (key.length + value.length) + 64;
}
