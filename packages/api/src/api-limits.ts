/**
 * Named hard limits of the HTTP surface. Requests are hostile input too:
 * every size and count a caller controls is bounded here.
 */
export const API_LIMITS = {
  /** Largest request body read (JSON only; no route takes more than a few fields). */
  maxBodyBytes: 64 * 1024,
  /** Longest bearer token accepted before any parsing. */
  maxTokenBytes: 16 * 1024,
  /** Query parameters per request. */
  maxQueryParams: 32,
  /** Characters of one query parameter value. */
  maxQueryValueChars: 1024,
  /**
   * Characters of a search `cursor`: base64url of at most
   * CURSOR_KEY_MAX_BYTES (512) of sort value, a fileId (at most 128) and
   * about 80 of digests and JSON, so at most 956 (search-cursor.ts; a
   * longer sort value is left out of the cursor).
   */
  maxCursorChars: 1024,
  /** Characters of a request path. */
  maxPathChars: 2048,
  /** File ids named in another case's custody entry of a similar-picture search (past it, the count only). */
  searchCustodyMaxFileIds: 500,
  /** Pending assignment changes read per round when writing their custody entries (access-events.ts). */
  assignmentCustodyBatch: 100,
  /**
   * Longest the start-up pass over pending assignment custody runs (access-events.ts): past it the
   * rest stays pending for the cases' next requests and the next start, so a large backlog or a slow
   * custody store never keeps a background writer busy indefinitely (shutdown stops it sooner).
   */
  assignmentCustodyStartupPassMs: 10 * 60_000,
  /** Default and largest page of search results (the index caps at 500 too). */
  defaultPageSize: 50,
  maxPageSize: 500,
  /** Deepest paging offset; beyond it, narrow the query instead (or page by cursor: any depth, same cost). */
  maxOffset: 1_000_000,
  /**
   * A search total the review summary does not answer is counted up to this
   * many; past it the answer is "at least this many" (totalIsLowerBound), so a
   * filtered search never reads the whole case just to count it.
   */
  searchCountCap: 10_000,
  /**
   * Lifetime of a download link (an API URL with a ticket, see
   * download-tickets.ts; the brief allows at most 15 minutes). Unassignment
   * ends it at once.
   */
  downloadUrlTtlMs: 10 * 60 * 1000,
  /**
   * How long the API trusts its own record that a stored span (case, evidence item, blob, offset, length) was read whole
   * and hashed to the recorded SHA-256 at one blob ETag (verified-spans.ts): within it, a
   * part of that file (up to 16 MiB) is one ranged read conditioned on that ETag instead of a read of
   * the whole file. The ETag condition is what keeps it from vouching for other bytes; the bound only
   * makes a re-check happen at least this often. As long as a playback link lives (downloadUrlTtlMs).
   */
  verifiedSpanTtlMs: 10 * 60_000,
  /** Spans the API remembers as verified at once (least recently used dropped first; ~200 bytes each). */
  verifiedSpanMaxEntries: 2048,
  /**
   * Whole-blob files larger than this get a storage SAS instead of an API
   * link: a proxied download must finish within one HTTP response, and
   * Azure's front end ends a Functions HTTP request after 230 s (1 GiB is
   * about 4.5 MiB/s). A SAS cannot be revoked: it works until it expires.
   */
  downloadSasOverBytes: 1024 * 1024 * 1024,
  /**
   * Longest Range header considered on GET …/content (byte-range.ts); a longer one is ignored and the
   * whole file sent. One range of two 15-digit positions is under 40 characters.
   */
  maxRangeHeaderChars: 128,
  /** Lifetime of such a SAS: the worst-case window after an unassignment in which a fetch can still start. */
  downloadSasTtlMs: 5 * 60 * 1000,
  /**
   * Read audit (read-audit.ts): the first read of a case (per user, evidence
   * item or whole case, and route) in this window is written to custody at
   * once; repeats within it are counted and written as one summary.
   */
  readAuditWindowMs: 5 * 60 * 1000,
  /** Open read-audit windows kept per process; past it every read is written as it happens. */
  readAuditMaxWindows: 100_000,
  /** Cases whose 'read' entries GET /cases writes at the same time (each case's logs are separate). */
  readAuditParallelCases: 8,
  /** Longest a clean stop waits to write the open read-audit counts. */
  readAuditFlushTimeoutMs: 10 * 1000,
  /** Shortest interval between two sweeps that write the summaries of windows that have ended. */
  readAuditSweepEveryMs: 30 * 1000,
  /** Local tokens: default and longest lifetime. */
  defaultTokenTtlMs: 8 * 60 * 60 * 1000,
  maxTokenTtlMs: 24 * 60 * 60 * 1000,
  /** Clock skew tolerated when checking token times. */
  tokenClockToleranceSec: 60,
  /** Parent links followed when building provenance; archives nest LIMITS.maxNestingDepth deep. */
  maxProvenanceLinks: 16,
  /** Characters of a user name (UPNs are at most 113; leave room). */
  maxUserChars: 256,
  /** Finest map zoom (cells of about 2 m at the equator); and most cells one map answer holds. */
  mapMaxZoom: 22,
  mapMaxClusters: 5000,
  /** Most buckets a timeline chooses by itself (a forced `bucket` may give more, one per non-empty unit). */
  timelineMaxBuckets: 200,
  /** Most files one export holds: past it the filter must be narrowed. */
  exportMaxFiles: 100_000,
  /** Files read from the index per page while an export streams (bounds its memory with the thumbnail cap). */
  exportPageFiles: 100,
  /** Largest thumbnail embedded in an HTML report; a larger one is named, not embedded. */
  exportThumbnailMaxBytes: 1024 * 1024,
  /** Characters of a tag's note. */
  maxNoteChars: 4000,
  /**
   * What a registration's custody entry holds of its own (user, blob name, details with the segment
   * manifest), in bytes of JSON. The custody log takes an entry of at most 64 KiB
   * (CUSTODY_LIMITS.maxEntryBytes) and adds under 600 bytes to it (case and evidence ids, seq, time,
   * previous hash, key id, signature; 1 KiB is left). A manifest of long names can fill the 64 KiB
   * request body and still not fit: it is refused (413) before anything is written.
   */
  maxUploadCustodyBytes: 63 * 1024,
} as const;
