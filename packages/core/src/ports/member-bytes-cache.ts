/**
 * Exactly which bytes an entry holds: `length` bytes of blob `container/name`
 * from `offset`, whose SHA-256 is `sha256`. The unpack stage computed that
 * digest from these very bytes as it read them, and the analyse stage asks
 * with the digest the index records for the file's content, so an entry can
 * only ever answer for the bytes the index says the file has. The digest is
 * the blob's version here (an ETag would name the blob's state, the digest
 * names the bytes themselves, and analyse knows it without asking storage).
 */
export interface MemberBytesKey {
  container: string;
  name: string;
  offset: number;
  length: number;
  sha256: string;
}

export interface MemberBytesCacheStats {
  /** Entries taken by analyse (each saved one read of the member from storage). */
  hits: number;
  /** Takes that found nothing (never offered, refused, expired, or taken already). */
  misses: number;
  offered: number;
  /** Offers turned away: too large, or no room in the budget. */
  refused: number;
  /** Entries dropped unused because they grew too old (their file was analysed elsewhere, or not at all). */
  expired: number;
  heldBytes: number;
  heldEntries: number;
}

/**
 * Bytes of archive members that the unpack stage has just read, kept for the
 * analyse stage of the same process so that it need not read them from
 * storage again (issue 12). An optimisation only: a miss reads storage, so
 * correctness never depends on it (several instances in Azure each have
 * their own, or none). Bounded by the adapter's byte budget.
 */
export interface MemberBytesCache {
  /** Offers a member's bytes; false when refused. The cache keeps `bytes` as given: the caller must not change them. */
  offer(key: MemberBytesKey, bytes: Buffer): boolean;
  /** The bytes under exactly this key, removed from the cache; null when absent. */
  take(key: MemberBytesKey): Buffer | null;
  stats(): MemberBytesCacheStats;
}
