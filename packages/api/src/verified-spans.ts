import { API_LIMITS } from './api-limits.js';
import type { ApiDeps } from './api.types.js';

/**
 * A short-lived, bounded, per-process record: "in case C, evidence item V, the
 * stored span (container, blob, offset, length) was read whole at blob ETag E
 * and had the recorded SHA-256 at time T, and the 'download' entry saying so
 * in V's custody log carries verificationId I".
 *
 * Why: a part of a file up to 16 MiB is sent only after the whole file is
 * read and hashed (file-delivery.ts). Without a record, every seek of a video
 * player read the whole file again (ten seeks in a 10 MB clip, 100 MB read).
 * With it, a later part of the same span is one ranged read.
 *
 * Why it cannot vouch for other bytes: the key is the span and the SHA-256 it
 * was checked against, and the entry holds the ETag the verifying read was
 * conditioned on (If-Match). A part served on the record's word is read with
 * If-Match on that ETag, so a blob changed since fails the read (412) instead
 * of giving other bytes; the caller then drops the entry and verifies again.
 * Only a verification that passed, and whose custody entry was written, makes
 * an entry (the route remembers after recording, never file-delivery.ts).
 *
 * Why the case and evidence item are in the key: derived blobs are
 * content-addressed, so one span is shared by every case holding those bytes.
 * Without them, case A's check would serve case B's parts and B's entry would
 * name a check no entry of B's log shows (and tell B's reader when A's file was
 * read). With them, a part served on the record cites (verifiedByEntry) an
 * entry in the same evidence item's log.
 */
export interface VerifiedSpanKey {
  /** Whose check it was: a record is never used for another case or evidence item (their log has no entry of it). */
  caseId: string;
  evidenceId: string;
  container: string;
  blobName: string;
  /** Where the file starts in its blob, and its length: the span that was hashed. */
  offset: number;
  length: number;
  /** The SHA-256 the span was checked against. */
  sha256: string;
}

export interface VerifiedSpan {
  /** The blob's ETag the verifying read was conditioned on; every read on this record's word is too. */
  etag: string;
  /** When the whole span matched its SHA-256 (ms since the epoch). */
  verifiedAtMs: number;
  /** The verificationId of the verifying request's 'download' entry, in the same evidence item's custody log. */
  verificationId: string;
}

export interface VerifiedSpansOptions {
  ttlMs?: number;
  maxEntries?: number;
  /** Clock in ms (tests inject one). */
  now?: () => number;
}

const keyOf = (k: VerifiedSpanKey): string => JSON.stringify([k.caseId, k.evidenceId, k.container, k.blobName, k.offset, k.length, k.sha256]);

export class VerifiedSpans {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  readonly now: () => number;
  /** Insertion order is recency order: a hit is moved to the end, the first is the least recently used. */
  private readonly entries = new Map<string, VerifiedSpan>();

  constructor(options: VerifiedSpansOptions = {}) {
    this.ttlMs = options.ttlMs ?? API_LIMITS.verifiedSpanTtlMs;
    this.maxEntries = Math.max(0, options.maxEntries ?? API_LIMITS.verifiedSpanMaxEntries);
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The span's record if one is younger than the TTL; an older one is dropped. */
  lookup(key: VerifiedSpanKey): VerifiedSpan | undefined {
    const k = keyOf(key);
    const entry = this.entries.get(k);
    if (!entry) return undefined;
    const age = this.now() - entry.verifiedAtMs;
    // A clock that went back (age < 0) proves nothing about how old the entry is.
    if (age < 0 || age >= this.ttlMs) {
      this.entries.delete(k);
      return undefined;
    }
    this.entries.delete(k);
    this.entries.set(k, entry);
    return entry;
  }

  /**
   * Called only after a read conditioned on `span.etag` hashed to key.sha256 and the custody entry
   * carrying span.verificationId was written. An empty or weak ETag cannot condition a read: not recorded.
   */
  remember(key: VerifiedSpanKey, span: VerifiedSpan): void {
    if (this.maxEntries === 0 || span.etag === '' || span.etag.startsWith('W/') || span.verificationId === '') return;
    const k = keyOf(key);
    this.entries.delete(k);
    this.entries.set(k, { etag: span.etag, verifiedAtMs: span.verifiedAtMs, verificationId: span.verificationId });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** A later read disagreed (the ETag precondition failed, a length differed): the record no longer holds. */
  forget(key: VerifiedSpanKey): void {
    this.entries.delete(keyOf(key));
  }
}

const records = new WeakMap<ApiDeps, VerifiedSpans>();

/** The record of this API instance (deps.verifiedSpans when given, else one per ApiDeps, i.e. per process). */
export function verifiedSpansOf(deps: ApiDeps): VerifiedSpans {
  if (deps.verifiedSpans) return deps.verifiedSpans;
  let spans = records.get(deps);
  if (!spans) {
    spans = new VerifiedSpans(deps.now ? { now: () => deps.now!().getTime() } : {});
    records.set(deps, spans);
  }
  return spans;
}
