import type { MemberBytesCache, MemberBytesCacheStats, MemberBytesKey } from '@exhibit/core';

export interface MemoryMemberBytesCacheOptions {
  /** An offer larger than this is refused. */
  maxMemberBytes: number;
  /** Bytes held at once, all entries together. */
  budgetBytes: number;
  /** An entry older than this is dropped when its room is needed. */
  maxAgeMs: number;
  /** For tests: the clock. */
  now?: () => number;
}

/**
 * The in-process MemberBytesCache: a map under the exact key, a byte budget,
 * and no eviction of live entries. When the budget is full a new offer is
 * refused rather than an older entry dropped, because analyse takes members in
 * the order unpack offered them: the oldest entries are the next to be used,
 * and dropping them for newer ones would make every entry miss while unpack
 * runs ahead. Entries nobody takes (their file was analysed by another
 * instance, found already done, or never sent) give their room back once
 * older than maxAgeMs.
 */
export class MemoryMemberBytesCache implements MemberBytesCache {
  private readonly entries = new Map<string, { bytes: Buffer; at: number }>();
  private held = 0;
  private readonly counts = { hits: 0, misses: 0, offered: 0, refused: 0, expired: 0 };
  private readonly now: () => number;

  constructor(private readonly options: MemoryMemberBytesCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  offer(key: MemberBytesKey, bytes: Buffer): boolean {
    this.counts.offered += 1;
    if (bytes.length !== key.length || bytes.length > this.options.maxMemberBytes || bytes.length > this.options.budgetBytes) {
      this.counts.refused += 1;
      return false;
    }
    const k = keyText(key);
    if (this.entries.has(k)) return true; // the same bytes (same digest), offered again by a redelivered unpack
    if (this.held + bytes.length > this.options.budgetBytes) this.expire();
    if (this.held + bytes.length > this.options.budgetBytes) {
      this.counts.refused += 1;
      return false;
    }
    this.entries.set(k, { bytes, at: this.now() });
    this.held += bytes.length;
    return true;
  }

  take(key: MemberBytesKey): Buffer | null {
    const k = keyText(key);
    const entry = this.entries.get(k);
    if (!entry) {
      this.counts.misses += 1;
      return null;
    }
    this.entries.delete(k);
    this.held -= entry.bytes.length;
    this.counts.hits += 1;
    return entry.bytes;
  }

  stats(): MemberBytesCacheStats {
    return { ...this.counts, heldBytes: this.held, heldEntries: this.entries.size };
  }

  /** Drops entries older than maxAgeMs (the map keeps insertion order: oldest first). */
  private expire(): void {
    const cutoff = this.now() - this.options.maxAgeMs;
    for (const [k, entry] of this.entries) {
      if (entry.at > cutoff) break;
      this.entries.delete(k);
      this.held -= entry.bytes.length;
      this.counts.expired += 1;
    }
  }
}

/** The JSON of every part of the key: exact and unambiguous whatever the names hold. */
function keyText(key: MemberBytesKey): string {
  return JSON.stringify([key.container, key.name, key.offset, key.length, key.sha256.toLowerCase()]);
}
