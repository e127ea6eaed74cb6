/**
 * Named hard limits. Evidence is hostile: every size, count and depth read
 * from a file is checked against one of these before it is trusted.
 */
export const LIMITS = {
  /** Archive members per archive before unpacking stops with a recorded reason. */
  maxArchiveEntries: 200_000,
  /**
   * ZIPs laid end to end in one file (`cat a.zip b.zip`) listed as one archive's chain, the one the end record
   * at the file's end describes included: beyond this the rest stay an archive-prefix / archive-trailing-data finding.
   */
  maxZipChainArchives: 16,
  /**
   * The last bytes of a ZIP searched for an end record that does not end the file (bytes appended after it: a
   * signature, a second archive, junk), zip.parser.ts. More bytes after the end record than this (less the record)
   * and the archive is not found: it fails corrupt-file (unzip and Python's zipfile look less far back: 100 KB after
   * the record hides the archive from both). Also
   * where a self-extractor whose offsets were not adjusted for its stub (zip -A not run) and that has bytes after
   * it is looked for (zip-sfx-unadjusted-offsets-and-trailing-bytes-unreadable).
   */
  zipEndRecordSearchBytes: 1024 * 1024,
  /**
   * How far in front of a ZIP read with shifted offsets (a stub without zip -A, bytes after its end record) local
   * headers are looked for whose data reaches the archive's start: such a ZIP is a member's data, never the file's
   * archive (zip-shift-lists-inner-zip-of-cut-outer-stored-member). Both the reader and identification use it
   * (zip-shifted-end.ts). Bytes in front longer than this are refused outright (a member's local header could lie
   * beyond the scan: zip-shift-reads-inner-zip-of-member-past-front-scan), as is a file starting with any ZIP signature.
   */
  zipShiftFrontScanBytes: 1024 * 1024,
  /** Bytes expanded from one archive (all members, not counting nested archives). */
  maxArchiveExpandedBytes: 256 * 1024 ** 3,
  /**
   * Expansion budget of one evidence item, across every archive in it at every
   * nesting depth: each counter may reach budgetFactor × the evidence item's
   * uploaded bytes, but never less than its floor nor more than its ceiling.
   */
  expansionBudgetFactor: 50,
  /** Bytes read out of archive members (expanded), floor and ceiling. */
  minBudgetExpandedBytes: 256 * 1024 ** 2,
  maxBudgetExpandedBytes: 2 * 1024 ** 4,
  /** Bytes written to derived/ as copied members, floor and ceiling (members read in place write nothing). */
  minBudgetWrittenBytes: 256 * 1024 ** 2,
  maxBudgetWrittenBytes: 2 * 1024 ** 4,
  /** Archive entries recorded, floor and ceiling (budgetFactor applies per KiB of evidence). */
  minBudgetEntries: 100_000,
  maxBudgetEntries: 5_000_000,
  /**
   * Wall-clock milliseconds spent unpacking (the unpack's own work: waits for member-cache room are off the clock),
   * floor and ceiling (budgetFactor applies per MiB of evidence). Each entry's own work (taken, or passed as recorded on a
   * resumed walk) is granted beyond it, up to budgetUnpackMsPerEntry, and never charged to it.
   */
  minBudgetUnpackMs: 30 * 60_000,
  maxBudgetUnpackMs: 24 * 3600_000,
  /**
   * Most of an entry's own work (the running unpack time since the entry before was taken) granted beyond the
   * unpack-time maximum. 50 ms per MiB is far below what listing an image of many small files costs: measured
   * (bench:disk, 4 GiB ext4, 20,000 files, 2 cores at load ~12) ~48 ms of the unpack's own work per entry, so such an
   * image ran past the 30-min floor and lost 8,021 of its files. 250 ms is ~5x that measured cost, room for a slower
   * or busier host. Only time actually spent is granted, never a fixed amount per entry: cheap entries cannot save up
   * grace for slow ones (a file of 338,400 empty entries would otherwise buy the 24 h ceiling), and a member slower
   * than this eats the size-based time beyond it, so a time bomb is still cut near that time.
   */
  budgetUnpackMsPerEntry: 250,
  /** Longest single stage invocation; the runtime aborts it then (host.json functionTimeout is 30 min). */
  stageDeadlineMs: 25 * 60_000,
  /**
   * Uploads of at least this many bytes are hashed resumably (hash-wasm, states
   * saved in the index, migration 0220) across as many hash-stage invocations as
   * it takes, each stopping before its deadline and continuing in the next
   * message. Below it the whole upload is hashed in one invocation with
   * node:crypto, 1.3-4x faster per byte (SHA-NI here) and needing no index
   * writes: at the slowest blob stream we plan for (~100 MB/s in Azure) 8 GiB
   * takes ~86 s, far inside stageDeadlineMs, so only uploads that could approach
   * the deadline pay for resuming (a 500 GB-2 TB disk image takes 35 min-5.5 h).
   * An archive or disk image that large is still hashed in its unpack's single
   * read (hash-wasm); when its listing ends more than hashCheckpointBytes before
   * the end of the blob, that read saves its states and the hash stage reads on
   * from them, so the blob is read once.
   */
  resumableHashMinBytes: 8 * 1024 ** 3,
  /**
   * An unpack's single read (docs/architecture.md, "Across continuations")
   * hashes its upload resumably (hash-wasm, its states saved when the attempt
   * continues, so the next attempt's read starts where this one stopped) only
   * for uploads of at least this many bytes; below it, node:crypto on the hash
   * threads, and a continuation reads the upload again from byte 0. Measured
   * (docs/benchmarks.md): hash-wasm on the event loop costs ~2.5x the CPU of
   * node:crypto's threads, +3.3-3.6 s CPU per 600 MB stored ZIP (~+5.6 s per
   * GiB, ~6% of the photo bench's per-member CPU) on every unpack, continued or
   * not, and holds the loop 2-3 ms a slice under load; a continuation's
   * re-read below this size costs at most 512 MiB of reading, ~2 s of thread
   * CPU, and only for the rare listing that outlasts an attempt.
   */
  singleReadResumableMinBytes: 512 * 1024 ** 2,
  /**
   * A resumable hash saves its states every this many bytes: a crash (or a
   * redelivery) reads again at most this much, ~4-10 s at 100-250 MB/s.
   */
  hashCheckpointBytes: 1024 ** 3,
  /**
   * A resumable hash stops this long before its invocation's deadline (the
   * stage runner's deadlineAt, stageDeadlineMs after the runner took the
   * message), at a checkpoint, and continues in a new message: room for the
   * last save, the send and the stage runner's writes, so the deadline never
   * cuts it off.
   */
  hashContinueMarginMs: 2 * 60_000,
  /**
   * A resumable hash starts over from byte 0 when its saved states do not load
   * (another hash-wasm build's after a deploy, or damaged): at most this many
   * times, then the upload's hash fails `hash-state-unusable`, visibly, rather
   * than re-read a 2 TB image for ever. An unpack's single read that resumes
   * its upload's hash across continuations (from singleReadResumableMinBytes)
   * starts over as often, then stops saving: each later attempt hashes from
   * byte 0 on node:crypto's threads, and one of at least resumableHashMinBytes
   * whose listing ends early leaves the unusable row to the hash stage, which
   * fails the hash `hash-state-unusable` (never a hash of part of the blob).
   */
  maxHashRestarts: 3,
  /**
   * An EWF image's stored-hash check (docs/disk-images.md, "The EWF stored-hash
   * check across attempts") over media of at least this many bytes is taken
   * resumably when the runner gives the unpack a deadline: the media hash's
   * states (hash-wasm) and its media offset are saved every hashCheckpointBytes
   * of media (migration 0225), the attempt stops hashContinueMarginMs before its
   * deadline and the check goes on in the next unpack message. Below it the
   * check reads the media in the attempt that records the image, as before (at
   * ~100 MB/s, 8 GiB takes ~86 s; 150-300 GB would not fit in stageDeadlineMs).
   */
  resumableImageCheckMinBytes: 8 * 1024 ** 3,
  /** After the deadline, how long a stage may take to wind down before its message is released anyway. */
  stageDeadlineGraceMs: 30_000,
  /**
   * The stage lease of long single-item work (unpack, hash; migration 0230, stage-lease.ts), which keeps a twin (a
   * continuation sent again, as the reconcile timer's resend does, or a redelivery after a lost lock) from running
   * beside the live attempt: how long it lasts unless renewed. The runner renews it every third of this while the stage runs, so a renewal may fail twice (a
   * busy index) before the lease lapses. It is also how long a crashed holder blocks its item: the next delivery
   * takes the lease over once it has expired. 2 min: longer than any index stall we expect under load, and short
   * next to the redelivery it delays after a crash (the local lock is 30 s, Service Bus's up to 5 min). 0: every
   * delivery takes the lease at once, so twins both run (tests of the guards beneath it).
   */
  stageLeaseMs: 2 * 60_000,
  /**
   * An unpack that has recorded new members stops this long before its stage
   * deadline (stageDeadlineMs) at a clean boundary and continues in a new
   * message (docs/architecture.md, "Planned continuation"), so an archive or
   * image that needs many deadlines is not dead-lettered after
   * maxDeliveryCount of them. Room for what the stop still does before the
   * send: the member in flight when it fires is abandoned, but the batch so
   * far (up to UNPACK_BATCH_SIZE members and UNPACK_UPLOADS_IN_FLIGHT uploads
   * of up to maxBufferedMemberBytes each) is written and handed off, the
   * parser threads stopped and the budget settled: seconds normally, and
   * storage under throttling may take a minute; 2 min leaves that room and
   * costs a 25 min attempt under a tenth of its time.
   */
  unpackContinueMarginMs: 2 * 60_000,
  /**
   * Longest an evidence item's completion spends bringing its case's review
   * summary up to date (waiting for a refresh already running, then one
   * refresh, checked before each of its statements; PostgreSQL cancels a
   * statement past it, PGlite lets one statement finish). A refresh reads the
   * case once: 2-19 s at 100,000 files and 25-78 s at 1,000,000 on the loaded
   * bench machine (docs/benchmarks.md). Past it the completion stands and the
   * summary is left to the first quiet read.
   */
  reviewSummaryBudgetMs: 60_000,
  /** Bytes of one archive member. */
  maxMemberBytes: 64 * 1024 ** 3,
  /** Expanded/compressed ratio of one member beyond which it is treated as a bomb. */
  maxCompressionRatio: 1000,
  /**
   * Bytes of holes (zeros not stored) one GNU sparse TAR member may expand to. Its data segments are
   * stored as they are, so the compression ratio says nothing about it (a lastlog for UID 100,000 is
   * 29 MB from 4.5 KB stored); its holes are what it expands. Past this the member fails
   * limit-exceeded before any of it is written, as a 1 GiB hole in a 10 KB tar does: the smallest
   * evidence budget (minBudgetWrittenBytes), so one member cannot spend a small item's whole budget.
   */
  maxSparseHoleBytes: 256 * 1024 ** 2,
  /** Ratio only applies above this expanded size, so tiny highly compressible files pass. */
  compressionRatioMinBytes: 1024 * 1024,
  /** Archives inside archives: the top-level evidence is depth 0. */
  maxNestingDepth: 4,
  /**
   * Longest evidence blob name taken in, in UTF-16 code units (JavaScript string length): Azure
   * Storage's own limit of 1,024 characters, so only an emulator (Azurite checks no length) can hold
   * a longer one, which ingest records as a rejected blob naming this limit. Up to 3,072 bytes of
   * UTF-8, past a b-tree's 2,704-byte row: the index keys blob names by their SHA-256 (0105).
   */
  maxBlobNameChars: 1024,
  /** Longest archive member name kept (bytes of UTF-8). */
  maxEntryNameBytes: 4096,
  /** Members at most this size are buffered in memory while hashing; larger ones are staged. */
  maxBufferedMemberBytes: 8 * 1024 * 1024,
  /** Pixels sharp may decode for one image. */
  maxImagePixels: 268_402_689,
  /**
   * Bytes read from the start of a file for type identification. 64 KiB, not
   * file-type's 4 KiB minimum: camera HEIF ftyp/meta boxes and TIFF headers sit
   * early, but signatures after a prefix (and TIFF IFDs) need more; a format
   * that needs bytes further in (a TIFF's first directory) reads them itself.
   */
  identifyHeadBytes: 64 * 1024,
  /** Bytes read from the end of a file to find a ZIP directory appended to it (EOCD + the longest comment). */
  identifyTailBytes: 64 * 1024 + 22,
  /**
   * An image at most this large is read from storage whole, once, in the
   * analyse stage, and metadata and thumbnail read that memory; a larger one
   * is read per range. Bounds memory per analyse at this (the thumbnailer
   * holds the whole image anyway); concurrency × this is the most held.
   */
  analyseWholeReadBytes: 64 * 1024 * 1024,
  /**
   * The member-bytes cache (issue 12): an archive member at most this large is
   * kept in memory by the unpack stage, once read, for the analyse stage of the
   * same process, so that it is not read from storage a second time.
   */
  memberCacheMaxMemberBytes: 16 * 1024 * 1024,
  /**
   * All the member bytes the cache holds at once. Offers beyond it are refused
   * (those members are read from storage by analyse), never the oldest dropped:
   * analyse takes members in the order unpack offers them, so the oldest are
   * the next ones needed; and unpack waits for room while analyse takes them
   * (memberCacheTakerIdleMs). It adds at least this much to the host's RSS (docs/benchmarks.md:
   * 128 MiB and 64 MiB took the bench's peak over 1 GiB; 32 MiB stayed at 966 MiB).
   */
  memberCacheBudgetBytes: 32 * 1024 * 1024,
  /** An entry not taken within this time (its file was analysed elsewhere, or not at all) gives its room to new offers. */
  memberCacheMaxAgeMs: 10 * 60_000,
  /**
   * Back-pressure (issue 12): unpack, finding the cache full, waits for this
   * process's analyse to take entries; a wait gives up when none was taken
   * for this long (analyse runs on another instance, or is stalled), and
   * later waits give up at once until one is taken. The member is then just
   * not cached. Longer than one photo's analyse on a loaded machine. The one
   * bound on a wait while takes come is the unpack attempt's continue point
   * (memberCacheMaxWaitPerUnpackMs without one).
   */
  memberCacheTakerIdleMs: 15_000,
  /**
   * All of one unpack run's waits for room together, at most, when the run
   * was told no deadline (a caller other than the stage runner), so cannot
   * continue, or holds a split set's later segments' reads. The stage runner
   * always tells one: then a wait may last up to the attempt's continue point
   * (deadline less unpackContinueMarginMs) while takes keep coming
   * (memberCacheTakerIdleMs), and the unpack goes on at analyse's pace in its
   * continuations; one holding its upload's single read, which a continuation
   * would drop, only as long as leaves its listing and its end inside the
   * attempt (pipeline archive/member-room.wait.ts) (issue 15: this allowance, applied
   * to every attempt, let the listing of a 4 GiB image run ahead and 14,469
   * members be read twice). The waits are off the item's unpack-time budget.
   * NOT a fix for issue 15 at 4 GiB: there the single-read bound allows about
   * 220 s of waits, less than this 300 s; the benefit measured is at 1 GiB
   * (read ÷ image 1.27 PGlite / 1.15 server → 1.03). Also the fall-back past
   * memberCacheMaxWaitPerItemMs.
   */
  memberCacheMaxWaitPerUnpackMs: 5 * 60_000,
  /**
   * All the waits for member-cache room of one archive's unpack, over all its
   * attempts (the continuations record theirs), that may run up to a continue
   * point: past it, each attempt is back to memberCacheMaxWaitPerUnpackMs. The
   * waits are off the item's unpack-time budget, so without this bound a slow
   * analyse (one take per 14 s) could pace one unpack for days over hundreds
   * of continuations; two hours is about five attempts at analyse's pace.
   */
  memberCacheMaxWaitPerItemMs: 2 * 60 * 60_000,
  /** Bytes exifr may read from an image before giving up on metadata. */
  maxMetadataBytes: 16 * 1024 * 1024,
  /** Longest ffprobe/ffmpeg run before it is killed. */
  mediaToolTimeoutMs: 120_000,
  /** Longest single-message body, below the Storage Queue 64 KiB limit after base64. */
  maxMessageBytes: 45 * 1024,
  /**
   * Per-file work (the analyse and index queues) travels in batch messages of
   * at most this many files of one evidence item, so a file costs a fraction of
   * a send, a receive and a delete instead of one each (docs/benchmarks.md,
   * "Batches", for how it was chosen). A batch runs its files one after another
   * under one stage deadline; a file that throws or crashes its worker is split
   * off into a message of its own (stage-runner.ts).
   */
  batchMaxFiles: 16,
  /**
   * Evidence bytes the files of one analyse batch may hold together (as known
   * when the batch is formed): an analyse message reads all of them within
   * one deadline. A single file over it still travels, alone.
   */
  batchMaxBytes: 48 * 1024 * 1024,
  /** Deliveries before a message is dead-lettered (matches host.json / Bicep). */
  maxDeliveryCount: 5,
  /**
   * NTFS and ext file systems inside disk images (issue 15): every size, count
   * and depth the image records is checked against these before it is used.
   */
  /** Entries (names, streams) listed from one file system before listing stops with a reason. */
  maxFsEntries: 5_000_000,
  /** Directory nesting below the root before a branch ends with a reason. */
  maxFsDirectoryDepth: 512,
  /** Bytes of one directory's data (ext directory blocks, NTFS index) read to list it. */
  maxFsDirectoryBytes: 256 * 1024 * 1024,
  /** Runs (NTFS run list entries, ext extents or mapped blocks) of one file's data. */
  maxFsDataRuns: 1_000_000,
  /** Largest file-system block or cluster, and NTFS MFT/index record, in bytes. */
  maxFsBlockBytes: 2 * 1024 * 1024,
  /** ext extent tree depth (ext4 itself allows 5). */
  maxExtExtentDepth: 5,
  /** ext block groups of one file system. */
  maxExtGroups: 4 * 1024 * 1024,
  /**
   * Bytes of group descriptors and block bitmaps an ext volume declaring more blocks than its image holds may read
   * to tell whether the cut loses blocks in use (at most a 64 KiB bitmap per group past the cut, so 16 MiB is 256
   * groups of 64 KiB blocks, 4096 groups of 4 KiB: a 512 GiB cut). Past it the cut is said, unchecked, as when a
   * block in use is lost: a forged group count must not make the check outlast the parse step.
   */
  maxExtCutCheckBytes: 16 * 1024 * 1024,
  /** ext inodes read looking for orphans (free, used inodes no name points to): 1 GiB of 256-byte inodes. */
  maxExtOrphanScanInodes: 4 * 1024 * 1024,
  /** NTFS MFT records scanned (a 64 TiB volume with 1 KiB records of ~4 KiB files). */
  maxNtfsMftRecords: 16 * 1024 * 1024,
  /** Bytes of one NTFS $ATTRIBUTE_LIST. */
  maxNtfsAttributeListBytes: 1024 * 1024,
  /**
   * Attributes read for one NTFS file from its base and extension records. A 1 MiB list names at most
   * ~40 000 attributes (one each for a file fragmented over as many extension records); a hostile one
   * can name 40 000 records of dozens of attributes each.
   */
  maxNtfsAttributesPerFile: 65_536,
  /** Thumbnail edge in pixels. */
  thumbnailEdgePx: 320,
  /** Frames on a video contact sheet. */
  contactSheetFrames: 9,

  // Disk images (issue 15): containers, volume systems, FAT. Every count and
  // size an image states is checked against one of these before it is used.
  /**
   * An error's details as they cross a parser thread's boundary (a member's data-error, a task's failure), measured as
   * JSON: larger details (built from a hostile file's names or findings) are dropped, with a marker saying so, never
   * the error itself (wire-error-details.ts).
   */
  maxWireErrorDetailsBytes: 4 * 1024,
  /** Largest single read a disk reader makes (one EWF chunk, one FAT, one directory). */
  maxDiskReadBytes: 64 * 1024 * 1024,
  /** Block size and count of the ranged-read cache in front of an image blob. */
  diskCacheBlockBytes: 1024 * 1024,
  diskCacheBlocks: 8,
  /**
   * Disk-image parser threads (packages/pipeline/src/disk/disk-image.pool.ts):
   * containers, volume systems and file systems are read there, never on the
   * event loop. Budgets count the parser's own time only (waits for bytes
   * excluded); past one, the thread is stopped and the image or volume fails
   * with 'parse-timeout'.
   */
  /** Opening an image: container, volume system, file-system probes. */
  diskOpenTimeoutMs: 60_000,
  /** One step of a volume's listing or of reading the media: from one entry (or chunk) to the next. */
  diskParseStepMs: 60_000,
  /** V8 old-generation heap of each disk parser thread; past it the thread dies ('parse-crashed'). */
  diskParseThreadHeapMb: 1024,
  /**
   * V8 young-generation heap of each disk and archive parser thread. Without it V8 sizes
   * the young generation from the old one (up to 3 x 16 MiB semi-spaces), which these
   * threads fill with member chunks passing through and never give back while idle.
   */
  parseThreadYoungHeapMb: 16,
  /** Disk parser threads (each listing a volume holds one while it runs). */
  diskParseThreads: 4,
  /**
   * ZIP and TAR parser threads (packages/pipeline/src/archive/archive.pool.ts):
   * yauzl, tar-stream, inflate, gunzip and CRC checks run there, never on the
   * event loop. Budgets as for disk images: the parser's own time only.
   */
  /** Opening a ZIP: finding its end record and surveying its whole central directory. */
  archiveOpenTimeoutMs: 60_000,
  /**
   * Parser time of a ZIP's whole chain search (every window backwards and forwards, zip.reader.ts), on the same clock
   * as archiveOpenTimeoutMs: wall time while a parser thread holds the task (on shared cores, not CPU time), waits for
   * storage and for a thread excluded. Each window has at most archiveOpenTimeoutMs of what is left, a re-run after its
   * thread died only what that window has left (zip-chain-search-budget-reset-by-thread-death). Without it up to
   * 2 × maxZipChainArchives − 1 windows of archiveOpenTimeoutMs each (31 min) fit in one attempt, more than its
   * stageDeadlineMs. Worst case of one open now: the archive's own open, whose re-run after a thread death has the
   * whole archiveOpenTimeoutMs again (2 × 1 min), plus this (2 min): some 4 min of parser time; every attempt and
   * continuation that opens the archive runs the search again, with this budget again. A search that runs out ends as
   * one whose window ran out: no chain, the zip-chain-incomplete finding (or, resuming over recorded members of the
   * chain, a retryable timeout).
   */
  zipChainSearchTimeoutMs: 120_000,
  /** One step of a ZIP or TAR listing: from one entry (or member chunk) handed over to the next. */
  archiveParseStepMs: 60_000,
  /** V8 old-generation heap of each archive parser thread; past it the thread dies ('parse-crashed'). */
  archiveParseThreadHeapMb: 512,
  /** Archive parser threads (each archive being listed holds one while it is listed). */
  archiveParseThreads: 4,
  /** Bytes of decompressed EWF chunks kept in memory per image (at least one chunk). */
  ewfChunkCacheBytes: 8 * 1024 * 1024,
  /**
   * Bytes of one cut EWF `sectors` section (its table lost with the cut) walked chunk by chunk to recover the chunks wholly
   * present by their own checksums (ewf-image.container.ts, SectionWalk). A section is at most 2 GiB (31-bit table
   * offsets), and ewfacquire 20140813 (installed here) writes that: `-c none`, 32 KiB chunks, gave a 2 GiB section with a
   * table of 65,528 chunks. Half of it: the walk is not cached, it repeats in every disk task and attempt that reads past
   * the cut (docs/disk-images.md measures a 2 GB cut: 1.08 GB read, 3 s CPU, per task), so 1 GiB bounds that repeated
   * read; a cut in the first 1 GiB of a section (every section of a compressed image of 32 KiB chunks but the most
   * incompressible) loses nothing to it. Past it the rest of the section stays lost (`[segment-truncated]`, naming this limit).
   */
  maxEwfCutSectionWalkBytes: 1024 * 1024 * 1024,
  /**
   * Chunks that walk places in one section (each kept as its location, ~50 bytes): a forged section of tiny zlib streams
   * would otherwise list tens of millions within the byte limit. A table's entry count is a 32-bit field; ewfacquire
   * 20140813 writes at most 65,534 per table (`-c fast`: tables of 65,534 then 32,770; `-c none`: 65,528 in a 2 GiB
   * section). Twice that, for writers that put more: past it the rest stays lost, naming this limit.
   */
  maxEwfCutSectionWalkChunks: 131_072,
  /**
   * Chunk bytes that walk checks in one section (each chunk's size once: inflate, Adler-32): its CPU grows with these,
   * not with the section's bytes (16 MiB chunks of forged zeros take ~16 KB each: 1 GiB of them is ~1 TiB to inflate,
   * minutes, past the disk parser's step deadline, which would end the whole volume's listing). 2 GiB is a whole
   * ewfacquire section of 32 KiB chunks (65,534 of them) and ~4 to 7 s of CPU here (measured 40 to 60 ms per 16 MiB
   * chunk on this shared machine), well inside LIMITS.diskParseStepMs. Past it the rest stays lost, naming this limit.
   */
  maxEwfCutSectionWalkCheckedBytes: 2 * 1024 * 1024 * 1024,
  /** Bytes of a cut EWF `sectors` section read at once by that walk (at least two of its largest stored chunks). */
  ewfCutWalkWindowBytes: 4 * 1024 * 1024,
  /** Largest EWF chunk (sectors per chunk × bytes per sector); libewf writes 32 KiB by default. */
  maxEwfChunkBytes: 16 * 1024 * 1024,
  /** Segment files of one EWF or split raw image (E01 … EZZ is 14,971); past it the image fails with `limit-exceeded`, never retried. */
  maxImageSegments: 15_000,
  /**
   * Bytes of JSON a split image's segment list may take in its `unpacked` and `image-hash-*` custody
   * entries (docs/disk-images.md, "Many segments"): the log takes an entry of at most 64 KiB, and half
   * is left for the rest of it. A longer list (about 420 short-named segments, or 10 of 1,024-character
   * CJK names) is recorded as its count, SHA-256 and first and last names; the index keeps it whole.
   */
  maxCustodySegmentListBytes: 32 * 1024,
  /**
   * Bytes of JSON an EWF image's acquisition header (case number, examiner, notes …) may take in its
   * `image-hash-*` custody entry (docs/disk-images.md, "Acquisition header in custody"): with the segment
   * list's 32 KiB it leaves the rest of the log's 64 KiB entry for the hashes. ewfacquire writes a notes
   * field of any length (100,000 characters recorded it twice, 200 KB); past the budget the entry records
   * `headerExcerpt` (each field cut to maxCustodyEwfHeaderFieldChars, `truncated` per field) and the
   * SHA-256 of the whole header, which the index keeps whole (disk_images.ewf_header).
   */
  maxCustodyEwfHeaderBytes: 16 * 1024,
  /** Characters (code points) of each header field kept in `headerExcerpt`; fewer when escaped or wide characters would pass the budget. */
  maxCustodyEwfHeaderFieldChars: 1_024,
  /**
   * Segments a manifest may declare at upload registration (docs/disk-images.md, "Split images"):
   * 1,000 covers a 2 TB disk in 2 GB segments. The API's request body limit (64 KiB) caps it lower when
   * every segment carries hashes (about 300 with MD5 and SHA-256).
   */
  maxDeclaredImageSegments: 1_000,
  /**
   * How long the first segment of a declared split image waits for the rest, counted from the latest
   * receipt of any of its segments: past it the image fails with `segment-missing` naming the missing
   * ones. Also how long a later segment's hash stage leaves the segment to that unpack (counted from the later of
   * its and the first's receipt; then segmentHashClaimHoldMs if the unpack claimed it). Kept below the watchdog's
   * default horizon, stall time × (re-drives + 1) (30 min × 4 after the last move), so a waiting image ends with its own reason,
   * and a waiting later segment is hashed, never `stuck`.
   */
  segmentSetWaitMs: 60 * 60_000,
  /** Between two re-checks of a waiting first segment (a scheduled unpack message). */
  segmentSetRecheckMs: 30_000,
  /**
   * How long a declared later segment's hash stage, its wait over, leaves the segment to the first segment's unpack
   * that claimed it (docs/disk-images.md, "Who reads a segment for its hash"), counted from the unpack's last move
   * (the claim written again by each delivery that may hash it, and when it continues): past it the hash stage hashes
   * it anyway. An unpack delivery hashes it only when it ends (stageDeadlineMs and its grace) before that, so one
   * still reading it is never read beside. With segmentSetWaitMs it bounds when a segment is hashed (the later of
   * 60 min after the later of its and the first's receipt and 30 min after the unpack's last move) below the
   * watchdog's default horizon, stall time × (re-drives + 1) (30 min × 4 after the item's last move), so an unpack
   * that claimed and then stalled never leaves its later segments to
   * be failed as `stuck`.
   */
  segmentHashClaimHoldMs: 30 * 60_000,
  /** Largest media size an image may declare (64 TiB). */
  maxMediaBytes: 64 * 1024 ** 4,
  /** Logical partitions followed along one MBR extended chain. */
  maxMbrLogicalPartitions: 128,
  /** GPT partition entries read (the usual array has 128). */
  maxGptEntries: 1024,
  /** Entries in one directory, and directories deep, before a FAT branch stops with a problem. */
  maxDirectoryEntries: 1_000_000,
  maxDirectoryDepth: 256,
  /**
   * Clusters of one FAT directory's chain walked past those holding its first maxDirectoryEntries slots (never read,
   * held so a file or directory cross-linked into them is found; fat.reader.ts pastLimitClusters). Each is one FAT
   * lookup and one bit of a per-cluster map (no list of numbers): 1,000,000 is ~4 MB of FAT32 entries read. Measured
   * (an 8.2M-cluster tail, 512-byte clusters): uncapped with a list, 196 MB of heap and a 16.6 s step; capped here,
   * 28 MB and 6.5 s, most of it reading the 62,500 listed clusters. Past it the rest of the chain is not held,
   * said in the directory's problem: a cross-link into those clusters is not detected.
   */
  maxFatPastLimitClusters: 1_000_000,
  /**
   * Bytes of FAT #1 read to find clusters two FAT entries link to (a chain running into a directory's cluster, said on
   * the directory listed first; fat.reader.ts readFatLinks), read in pieces of fatScanPieceBytes once per volume.
   * 64 MiB covers FAT32 volumes up to ~16.7M clusters (~512 GiB at 32 KiB clusters): ~0.7 s at 100 MB/s. A larger FAT
   * is not read for it (checked before its two cluster bitmaps are allocated): the check is not made, said in a volume
   * note (cross-link-check-not-made), never a problem (the directory listed later is still flagged when its chain
   * reaches the cluster held by the first).
   */
  maxFatCrossLinkScanBytes: 64 * 1024 * 1024,
  /**
   * Largest read of FAT #1's cross-link scan (fat.reader.ts readFatLinks): two diskCacheBlockBytes blocks. Each parser
   * thread (diskParseThreads) holds one such buffer outside the V8 heap while it scans; pieces of maxDiskReadBytes
   * would be 64 MiB each, against the host's RSS goal, and save no storage reads (the blob source reads
   * diskCacheBlockBytes blocks anyway).
   */
  fatScanPieceBytes: 2 * 1024 * 1024,
  /** Entries listed from one file system. */
  maxFileSystemEntries: 5_000_000,
} as const;

export type Limits = typeof LIMITS;
