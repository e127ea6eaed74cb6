import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ExhibitError, PIPELINE_ACTOR, type CustodyRecorder, type KnownFileMatch, type Logger } from '@exhibit/core';
import { hexOfBits } from '../index-store.pdq.js';
import type { SqlClient } from '../sql-client.js';
import { COPY_COLUMNS, CopyChunk } from './hash-set-copy.js';
import { openHashSetFile } from './hash-set-file.js';
import { HASH_SET_LIMITS } from './hash-set-limits.js';
import type { HashSetFormat, HashSetKind, PositionedSource, RowError } from './hash-set.types.js';
import { checkMaxDistance, DEFAULT_PDQ_MAX_DISTANCE, indexPdqSet, PDQ_MATCH_COLUMNS, pdqMatchSelect, pdqSets, type PdqSet } from './pdq-match.js';

/** Rows per COPY chunk: each chunk commits with the set's resume point. */
const COPY_CHUNK_ROWS = 100_000;
/** Sort memory of the NSRL de-duplication (per import, on the database server or in PGlite). */
const DISTINCT_WORK_MEM = '64MB';
/** Contents per re-match batch: each batch commits with the job's resume point. */
export const MATCH_BATCH_CONTENTS = 5_000;

export type HashSetState = 'loading' | 'matching' | 'active' | 'superseded';

export interface HashSetRecord {
  setId: number;
  name: string;
  version: string | null;
  kind: HashSetKind;
  format: HashSetFormat;
  sourceVersion: string | null;
  categoryNames: Record<string, string>;
  sourceFileName: string;
  sourceSha256: string;
  sourceSize: number;
  rowCount: number;
  rejectedRows: number;
  importedBy: string;
  importedAt: string;
  activatedAt: string | null;
  state: HashSetState;
  enabled: boolean;
  matchDone: boolean;
  /** A PDQ list's distance limit in bits (a content within it matches); null for exact-digest sets. */
  maxDistance: number | null;
  /** Distinct contents (across all cases) that match the set. */
  matchedContents: number;
}

export type ImportPhase = 'hashing' | 'loading' | 'indexing' | 'matching' | 'switching';
export interface ImportProgress {
  phase: ImportPhase;
  /** Bytes hashed, rows loaded, or contents matched so far. */
  done: number;
  /** The total when known (file size, contents to match), else null. */
  total: number | null;
}

export interface ImportHashSetOptions {
  name: string;
  kind: HashSetKind;
  version?: string;
  categoryNames?: Record<string, string>;
  importedBy: string;
  /** Import the good rows of a file with malformed rows, recording how many were left out. */
  skipBadRows?: boolean;
  onProgress?: (p: ImportProgress) => void;
  abortSignal?: AbortSignal;
  logger?: Logger;
  /** Rows per committed chunk (the resume granularity); default COPY_CHUNK_ROWS. */
  copyChunkRows?: number;
  /** Read the file as a PDQ list (a list of bare 64-hex lines is SHA-256 by its content). */
  format?: 'pdq-list';
  /** A PDQ list's distance limit in bits, 0-256 (default 31); refused for exact-digest sets. */
  maxDistance?: number;
}

export interface ImportHashSetResult {
  set: HashSetRecord;
  /** The build resumed an interrupted import of the same file. */
  resumed: boolean;
  /** The active set of the same name this one replaced, if any. */
  replacedSetId: number | null;
  rejectedRows: number;
  /** The first malformed rows (at most HASH_SET_LIMITS.maxErrorsListed). */
  errors: RowError[];
}

/** A content that matches an enabled set. */
export type HashSetMatch = KnownFileMatch;

const SET_COLUMNS = `s.set_id, s.name, s.version, s.kind, s.format, s.source_version, s.category_names, s.source_file_name, s.source_sha256,
  s.source_size, s.row_count, s.rejected_rows, s.imported_by, s.imported_at, s.activated_at, s.state, s.enabled, s.match_done, s.max_distance,
  (SELECT count(*) FROM hash_set_matches m WHERE m.set_id = s.set_id)::bigint AS matched_contents`;

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : String(v));

function toSet(r: Record<string, unknown>): HashSetRecord {
  return {
    setId: Number(r.set_id),
    name: String(r.name),
    version: (r.version ?? null) as string | null,
    kind: r.kind as HashSetKind,
    format: r.format as HashSetFormat,
    sourceVersion: (r.source_version ?? null) as string | null,
    categoryNames: (r.category_names ?? {}) as Record<string, string>,
    sourceFileName: String(r.source_file_name),
    sourceSha256: String(r.source_sha256),
    sourceSize: Number(r.source_size),
    rowCount: Number(r.row_count),
    rejectedRows: Number(r.rejected_rows),
    importedBy: String(r.imported_by),
    importedAt: iso(r.imported_at) ?? '',
    activatedAt: iso(r.activated_at),
    state: r.state as HashSetState,
    enabled: r.enabled === true,
    matchDone: r.match_done === true,
    maxDistance: r.max_distance === null || r.max_distance === undefined ? null : Number(r.max_distance),
    matchedContents: Number(r.matched_contents ?? 0),
  };
}

/** Where an interrupted load stands: rows and rejected rows committed, and the source position reached (positioned sources). */
interface ResumePoint {
  rows: number;
  rejected: number;
  cursor: number | null;
}

/** The table a set's rows are loaded into before it is attached as the partition of `setId`. */
function createPartitionSql(setId: number, table: string): string {
  return `CREATE TABLE ${table} (LIKE hash_set_hashes INCLUDING CONSTRAINTS);
     ALTER TABLE ${table} ALTER COLUMN set_id SET DEFAULT ${setId};
     ALTER TABLE ${table} ADD CONSTRAINT ${partition(setId)}_set CHECK (set_id = ${setId});`;
}

/** The partition of one set; set ids are integers from the database, never text from outside. */
function partition(setId: number): string {
  if (!Number.isSafeInteger(setId) || setId < 1) throw new ExhibitError('invalid-argument', `bad hash set id ${setId}`);
  return `hash_set_hashes_${setId}`;
}

async function fileSha256(file: string, size: number, onProgress?: (p: ImportProgress) => void, abortSignal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  let done = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024, ...(abortSignal ? { signal: abortSignal } : {}) })) {
    hash.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    onProgress?.({ phase: 'hashing', done, total: size });
  }
  return hash.digest('hex');
}

/**
 * The rows that match: each content against each enabled set that is in
 * force or being built, keeping the strongest digest that matched
 * (SHA-256, then SHA-1, then MD5). `contentFilter` picks the contents
 * (a WHERE on `c`), `setFilter` the sets (a WHERE on `s`).
 */
function matchSelect(contentFilter: string, setFilter: string): string {
  return `
    SELECT DISTINCT ON (c.sha256, s.set_id) c.sha256, s.set_id, x.matched_on, x.category
      FROM contents c
      CROSS JOIN LATERAL (
        SELECT h.set_id, 'sha256' AS matched_on, h.category, 1 AS rank FROM hash_set_hashes h
         WHERE h.sha256 = decode(c.sha256, 'hex') AND h.sha256 IS NOT NULL
        UNION ALL
        SELECT h.set_id, 'sha1', h.category, 2 FROM hash_set_hashes h
         WHERE h.sha1 = decode(c.sha1, 'hex') AND h.sha1 IS NOT NULL
        UNION ALL
        SELECT h.set_id, 'md5', h.category, 3 FROM hash_set_hashes h
         WHERE h.md5 = decode(c.md5, 'hex') AND h.md5 IS NOT NULL
      ) x
      JOIN hash_sets s ON s.set_id = x.set_id
     WHERE (${contentFilter}) AND (${setFilter})
     ORDER BY c.sha256, s.set_id, x.rank`;
}

/** A match's columns (m: hash_set_matches or a row of the same shape, s: hash_sets), as toMatch reads them. */
export const MATCH_OUT = `m.sha256, m.set_id, m.matched_on, m.category, s.name, s.version, s.kind,
  s.category_names ->> m.category::text AS category_name,
  m.pdq_distance, m.pdq_frame, m.pdq_listed::text AS pdq_listed_bits, m.pdq_label, s.max_distance,
  (SELECT cp.time_ms FROM content_pdq cp WHERE cp.sha256 = m.sha256 AND cp.frame = m.pdq_frame) AS pdq_time_ms,
  (SELECT c.kind FROM contents c WHERE c.sha256 = m.sha256) AS content_kind`;

/** A row of MATCH_OUT as the port's match. */
export function toMatch(r: Record<string, unknown>): HashSetMatch {
  const pdq = r.matched_on === 'pdq' && r.pdq_distance !== null && r.pdq_distance !== undefined
    ? {
        pdq: {
          distance: Number(r.pdq_distance),
          maxDistance: Number(r.max_distance),
          frame: Number(r.pdq_frame),
          timeMs: r.pdq_time_ms === null || r.pdq_time_ms === undefined ? null : Number(r.pdq_time_ms),
          video: r.content_kind === 'video',
          listedHash: hexOfBits(String(r.pdq_listed_bits)),
          label: (r.pdq_label ?? null) as string | null,
        },
      }
    : {};
  return {
    sha256: String(r.sha256),
    setId: Number(r.set_id),
    name: String(r.name),
    version: (r.version ?? null) as string | null,
    kind: r.kind as HashSetKind,
    category: r.category === null || r.category === undefined ? null : Number(r.category),
    categoryName: (r.category_name ?? null) as string | null,
    matchedOn: r.matched_on as HashSetMatch['matchedOn'],
    ...pdq,
  };
}

/** Where the re-match job and a disable write their custody entries (docs/known-files.md). */
export interface HashSetCustodyOptions {
  custody?: CustodyRecorder;
  /** The running Exhibit version, recorded as the tool of each entry. */
  toolVersion?: string;
}

/**
 * The custody entry of a known-bad or notable match of one file: the same
 * action, details and event key as the pipeline's (packages/pipeline
 * known-files.ts), so a match is written once per file and set version
 * whichever of the two finds it first.
 */
export function knownFileMatchEvent(
  file: { fileId: string; caseId: string; evidenceId: string },
  m: HashSetMatch,
  toolVersion: string,
): Parameters<CustodyRecorder['record']>[0] {
  return {
    caseId: file.caseId,
    evidenceId: file.evidenceId,
    action: 'known-file-match',
    actor: PIPELINE_ACTOR,
    subject: { fileId: file.fileId, sha256: m.sha256 },
    details: knownFileMatchDetails(m),
    tools: [{ name: 'exhibit-pipeline', version: toolVersion }],
    eventKey: `known:${file.fileId}:${m.setId}`,
  };
}

/**
 * A match's custody details, the same for the pipeline and the re-match job.
 * A PDQ match adds how near it was, on which frame, and what the list holds.
 */
export function knownFileMatchDetails(m: HashSetMatch): Record<string, unknown> {
  return {
    set: m.name, setId: m.setId, version: m.version, kind: m.kind, category: m.category, categoryName: m.categoryName, matchedOn: m.matchedOn,
    ...(m.pdq ? { pdq: { ...m.pdq } } : {}),
  };
}

/** Files (in every case) whose content has a recorded match with the set, in a SHA-256 range. */
const FILES_OF_MATCHES = `SELECT f.file_id, f.case_id, f.evidence_id, ${MATCH_OUT}
  FROM hash_set_matches m JOIN hash_sets s ON s.set_id = m.set_id JOIN files f ON f.sha256 = m.sha256
 WHERE m.set_id = $1 AND ($2::text IS NULL OR m.sha256 > $2) AND ($3::text IS NULL OR m.sha256 <= $3)
 ORDER BY m.sha256, f.file_id`;

/** Hash sets in the index: import, list, enable/disable, remove, and matching contents against them. */
export class HashSetStore {
  constructor(
    private readonly sql: SqlClient,
    private readonly options: HashSetCustodyOptions = {},
  ) {}

  /**
   * Writes the custody entries of the set's recorded matches with contents in
   * (after, upTo]: one per file. Known-good sets have none. Entries carry
   * event keys, so writing a range again (a resumed job) adds nothing.
   */
  private async recordMatchCustody(setId: number, kind: HashSetKind, after: string | null, upTo: string | null, abortSignal?: AbortSignal): Promise<number> {
    if (kind === 'known-good') return 0;
    const custody = this.requireCustody();
    const { rows } = await this.sql.query(FILES_OF_MATCHES, [setId, after, upTo]);
    for (const r of rows) {
      const file = { fileId: String(r.file_id), caseId: String(r.case_id), evidenceId: String(r.evidence_id) };
      await custody.record(knownFileMatchEvent(file, toMatch(r), this.options.toolVersion ?? 'unknown'), abortSignal ? { abortSignal } : undefined);
    }
    return rows.length;
  }

  private requireCustody(): CustodyRecorder {
    if (!this.options.custody) {
      throw new ExhibitError('invalid-argument', 'known-bad and notable matches need a custody recorder: build HashSetStore with { custody }');
    }
    return this.options.custody;
  }

  async list(options: { includeSuperseded?: boolean } = {}): Promise<HashSetRecord[]> {
    const { rows } = await this.sql.query(
      `SELECT ${SET_COLUMNS} FROM hash_sets s WHERE $1::boolean OR s.state <> 'superseded'
        ORDER BY s.name COLLATE "C", s.set_id`,
      [options.includeSuperseded === true],
    );
    return rows.map(toSet);
  }

  async get(name: string): Promise<HashSetRecord | null> {
    const { rows } = await this.sql.query(`SELECT ${SET_COLUMNS} FROM hash_sets s WHERE s.name = $1 AND s.state = 'active'`, [name]);
    return rows[0] ? toSet(rows[0]) : null;
  }

  private async mustGet(name: string): Promise<HashSetRecord> {
    const set = await this.get(name);
    if (!set) throw new ExhibitError('not-found', `no hash set named ${JSON.stringify(name)}`, { details: { name } });
    return set;
  }

  /**
   * Imports a file as the set `name`. The rule for malformed rows
   * (docs/known-files.md): a file with any is refused whole, with every
   * error's line listed, unless skipBadRows, which imports the good rows and
   * records how many were left out. Never half silently.
   *
   * Resumable: rows are committed in chunks with the set's row count; an
   * import of the same file under the same name after an interruption
   * continues from there. A set already in force under the name stays in
   * force until the new one is loaded and matched, then one transaction
   * swaps them.
   */
  async import(file: string, options: ImportHashSetOptions): Promise<ImportHashSetResult> {
    const { onProgress, abortSignal } = options;
    if (options.kind !== 'known-good') this.requireCustody();
    const info = await stat(file);
    if (!info.isFile()) throw new ExhibitError('invalid-argument', `${file} is not a file`);
    const reader = await openHashSetFile(file, options.format ? { format: options.format } : {});
    const isPdq = reader.info.format === 'pdq-list';
    // A PDQ match is likeness, not identity: a known-good PDQ list would hide, by default, an edit of a listed picture.
    if (isPdq && options.kind === 'known-good') {
      throw new ExhibitError('invalid-argument', 'a PDQ list cannot be imported as known-good: a near match only says two pictures look alike, and hiding files by likeness could hide an edited picture of interest; import it as notable or known-bad');
    }
    if (options.maxDistance !== undefined && !isPdq) {
      throw new ExhibitError('invalid-argument', `--max-distance applies to PDQ lists only; this file is read as ${reader.info.format}`);
    }
    const maxDistance = isPdq ? checkMaxDistance(options.maxDistance ?? DEFAULT_PDQ_MAX_DISTANCE) : null;
    onProgress?.({ phase: 'hashing', done: 0, total: info.size });
    const sourceSha256 = await fileSha256(file, info.size, onProgress, abortSignal);

    // An unfinished build of this name: resume it if it is the same file, else discard it.
    let setId: number | null = null;
    let resumeRows = 0;
    let resumePoint: ResumePoint = { rows: 0, rejected: 0, cursor: null };
    let resumed = false;
    const { rows: building } = await this.sql.query<{
      set_id: number; source_sha256: string; format: HashSetFormat; row_count: number; rejected_rows: number; load_cursor: string | number | null; state: HashSetState;
    }>(
      `SELECT set_id, source_sha256, format, row_count, rejected_rows, load_cursor, state FROM hash_sets WHERE name = $1 AND state IN ('loading', 'matching')`,
      [options.name],
    );
    for (const b of building) {
      // The same file read the same way (a file imported as SHA-256 and again with --format pdq is a new build).
      if (b.source_sha256 === sourceSha256 && b.format === reader.info.format && setId === null) {
        setId = Number(b.set_id);
        resumeRows = b.state === 'loading' ? Number(b.row_count) : -1;
        resumePoint = { rows: Number(b.row_count), rejected: Number(b.rejected_rows), cursor: b.load_cursor === null ? null : Number(b.load_cursor) };
        resumed = true;
      } else await this.dropSet(Number(b.set_id));
    }

    let rejectedRows = 0;
    const errors: RowError[] = [];
    if (setId === null) {
      const { rows } = await this.sql.query<{ set_id: number }>(
        `INSERT INTO hash_sets (name, version, kind, format, source_version, category_names, source_file_name, source_sha256, source_size, imported_by, max_distance)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11) RETURNING set_id`,
        [
          options.name, options.version ?? reader.info.sourceVersion, options.kind, reader.info.format, reader.info.sourceVersion,
          JSON.stringify(options.categoryNames ?? {}), path.basename(file), sourceSha256, info.size, options.importedBy, maxDistance,
        ],
      );
      setId = Number(rows[0]?.set_id);
      await this.sql.exec(createPartitionSql(setId, partition(setId)));
    }

    if (resumeRows >= 0) {
      const loaded = reader.positioned
        ? await this.loadPositioned(setId, reader.positioned, resumePoint, errors, options)
        : await this.load(setId, reader, resumeRows, errors, options);
      rejectedRows = loaded.rejected;
      if (rejectedRows > 0 && options.skipBadRows !== true) {
        await this.dropSet(setId);
        const first = errors.slice(0, 5).map((e) => `${e.unit} ${e.line}: ${e.detail}`).join('; ');
        throw new ExhibitError(
          'corrupt-file',
          `${rejectedRows} malformed row(s), nothing imported (${first}${rejectedRows > 5 ? '; …' : ''}). ` +
            'Fix the file, or import its good rows with --skip-bad-rows (the rejected count is recorded with the set)',
          { details: { rejectedRows, errors } },
        );
      }
      if (loaded.total === 0) {
        await this.dropSet(setId);
        throw new ExhibitError('corrupt-file', 'the file holds no hashes; nothing imported', { details: { rejectedRows, errors } });
      }
      onProgress?.({ phase: 'indexing', done: 0, total: null });
      const t = partition(setId);
      // A source that repeats rows (NSRL: one row per file name and package) was loaded as it is; the
      // set keeps its distinct rows, sorted out here by the database (on disk beyond work_mem, so a
      // release of hundreds of millions of rows needs no memory of its size in this process or SQLite).
      const total = reader.positioned?.duplicates ? await this.keepDistinct(setId) : loaded.total;
      // IF NOT EXISTS: an import interrupted after this step and before the attach runs it again.
      await this.sql.exec(
        `CREATE INDEX IF NOT EXISTS ${t}_md5_idx ON ${t} (md5) WHERE md5 IS NOT NULL;
         CREATE INDEX IF NOT EXISTS ${t}_sha1_idx ON ${t} (sha1) WHERE sha1 IS NOT NULL;
         CREATE INDEX IF NOT EXISTS ${t}_sha256_idx ON ${t} (sha256) WHERE sha256 IS NOT NULL;
         ANALYZE ${t};`,
      );
      if (isPdq) await indexPdqSet(this.sql, t);
      await this.sql.transaction(async (tx) => {
        await tx.exec(`ALTER TABLE hash_set_hashes ATTACH PARTITION ${t} FOR VALUES IN (${setId})`);
        await tx.query(`UPDATE hash_sets SET state = 'matching', row_count = $2, rejected_rows = $3 WHERE set_id = $1`, [setId, total, rejectedRows]);
      });
    }

    await this.rematch(setId, { ...(onProgress ? { onProgress } : {}), ...(abortSignal ? { abortSignal } : {}) });

    onProgress?.({ phase: 'switching', done: 0, total: null });
    const replacedSetId = await this.sql.transaction(async (tx) => {
      const { rows: old } = await tx.query<{ set_id: number }>(
        `SELECT set_id FROM hash_sets WHERE name = $1 AND state = 'active' FOR UPDATE`,
        [options.name],
      );
      const oldId = old[0] ? Number(old[0].set_id) : null;
      if (oldId !== null) {
        await tx.query(`UPDATE hash_sets SET state = 'superseded' WHERE set_id = $1`, [oldId]);
        await tx.query('DELETE FROM hash_set_matches WHERE set_id = $1', [oldId]);
        await tx.exec(`DROP TABLE IF EXISTS ${partition(oldId)}`);
      }
      await tx.query(`UPDATE hash_sets SET state = 'active', activated_at = now() WHERE set_id = $1`, [setId]);
      return oldId;
    });
    const { rows } = await this.sql.query(`SELECT ${SET_COLUMNS} FROM hash_sets s WHERE s.set_id = $1`, [setId]);
    const set = toSet(rows[0] ?? {});
    return { set, resumed, replacedSetId, rejectedRows: set.rejectedRows, errors };
  }

  /** Streams the reader's rows into the set's partition in COPY chunks, each committed with the resume point. */
  private async load(
    setId: number,
    reader: Awaited<ReturnType<typeof openHashSetFile>>,
    skipRows: number,
    errors: RowError[],
    options: ImportHashSetOptions,
  ): Promise<{ total: number; rejected: number }> {
    const t = partition(setId);
    let rejected = 0;
    let good = 0;
    const chunk = new CopyChunk();
    // One chunk is copied while the next is parsed (the server and this process work side by side);
    // chunks still commit in order, each with the resume point.
    let inFlight: Promise<void> = Promise.resolve();
    const flush = async () => {
      if (options.abortSignal?.aborted) {
        await inFlight.catch(() => undefined);
        throw new ExhibitError('aborted', 'import stopped; run it again with the same file to continue');
      }
      if (chunk.rows === 0) return;
      const { data, rows: n } = chunk.take();
      const doneSoFar = good;
      await inFlight;
      inFlight = this.sql.transaction(async (tx) => {
        await tx.copyFrom(`COPY ${t} (${COPY_COLUMNS}) FROM STDIN`, data);
        await tx.query('UPDATE hash_sets SET row_count = row_count + $2 WHERE set_id = $1', [setId, n]);
      }).then(() => options.onProgress?.({ phase: 'loading', done: doneSoFar, total: null }));
      // A failed copy surfaces at the next flush or at the end, never unhandled.
      inFlight.catch(() => undefined);
    };
    const onError = (e: RowError) => {
      rejected += 1;
      if (errors.length < HASH_SET_LIMITS.maxErrorsListed) errors.push(e);
    };
    options.onProgress?.({ phase: 'loading', done: 0, total: null });
    try {
      await readAll();
    } finally {
      // Never leave a copy running behind a failure.
      await inFlight.catch(() => undefined);
    }
    await flush();
    await inFlight;
    return { total: good, rejected };

    async function readAll(): Promise<void> {
    for await (const batch of reader.rows(onError, options.abortSignal)) {
      if (options.abortSignal?.aborted) throw new ExhibitError('aborted', 'import stopped; run it again with the same file to continue');
      for (const row of batch) {
        good += 1;
        if (good > HASH_SET_LIMITS.maxRows) throw new ExhibitError('limit-exceeded', `a hash set may hold at most ${HASH_SET_LIMITS.maxRows} rows`);
        if (good <= skipRows) continue;
        chunk.push(row);
        if (chunk.rows >= (options.copyChunkRows ?? COPY_CHUNK_ROWS)) await flush();
      }
    }
    }
  }

  /**
   * Reads a positioned source (NSRL) from just after the last committed
   * position: each COPY chunk commits with the rows and rejected rows it adds
   * and the position it reached, so a resumed import neither re-reads nor
   * re-counts what is in. Chunks end on the reader's batch boundaries (the
   * positions it reports).
   */
  private async loadPositioned(
    setId: number,
    source: PositionedSource,
    resume: ResumePoint,
    errors: RowError[],
    options: ImportHashSetOptions,
  ): Promise<{ total: number; rejected: number }> {
    const t = partition(setId);
    const chunkRows = options.copyChunkRows ?? COPY_CHUNK_ROWS;
    let rejected = resume.rejected;
    let committedRejected = rejected;
    let good = resume.rows;
    const chunk = new CopyChunk();
    let inFlight: Promise<void> = Promise.resolve();
    const flush = async (position: number) => {
      if (chunk.rows === 0 && rejected === committedRejected) return;
      const { data, rows: n } = chunk.take();
      const newlyRejected = rejected - committedRejected;
      committedRejected = rejected;
      const doneSoFar = good;
      await inFlight;
      // Stopped while the previous chunk was committing: this one is not started.
      if (options.abortSignal?.aborted) throw stopped();
      inFlight = this.sql.transaction(async (tx) => {
        if (n > 0) await tx.copyFrom(`COPY ${t} (${COPY_COLUMNS}) FROM STDIN`, data);
        await tx.query(
          'UPDATE hash_sets SET row_count = row_count + $2, rejected_rows = rejected_rows + $3, load_cursor = $4 WHERE set_id = $1',
          [setId, n, newlyRejected, position],
        );
      }).then(() => options.onProgress?.({ phase: 'loading', done: doneSoFar, total: null }));
      inFlight.catch(() => undefined);
    };
    const onError = (e: RowError) => {
      rejected += 1;
      if (errors.length < HASH_SET_LIMITS.maxErrorsListed) errors.push(e);
    };
    const stopped = () => new ExhibitError('aborted', 'import stopped; run it again with the same file to continue');
    options.onProgress?.({ phase: 'loading', done: good, total: null });
    let position: number | null = resume.cursor;
    try {
      for await (const batch of source.rows(onError, { after: resume.cursor, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) })) {
        if (options.abortSignal?.aborted) throw stopped();
        for (const row of batch.rows) chunk.push(row);
        good += batch.rows.length;
        if (good > HASH_SET_LIMITS.maxRows) throw new ExhibitError('limit-exceeded', `a hash set may hold at most ${HASH_SET_LIMITS.maxRows} rows`);
        position = batch.last;
        if (chunk.rows >= chunkRows) await flush(position);
      }
      if (options.abortSignal?.aborted) throw stopped();
      if (position !== null) await flush(position);
    } finally {
      // Never leave a copy running behind a failure.
      await inFlight.catch(() => undefined);
    }
    await inFlight;
    return { total: good, rejected };
  }

  /**
   * Replaces the set's loaded table with its distinct rows, in one
   * transaction (an interruption leaves the loaded table as it was, and the
   * resumed import does this again). Returns the distinct row count.
   */
  private async keepDistinct(setId: number): Promise<number> {
    const t = partition(setId);
    const d = `${t}_distinct`;
    return this.sql.transaction(async (tx) => {
      // More sort memory than PostgreSQL's default 4 MB (fewer merge passes on disk), still a fixed bound.
      await tx.exec(`SET LOCAL work_mem = '${DISTINCT_WORK_MEM}'; DROP TABLE IF EXISTS ${d}; ${createPartitionSql(setId, d)}`);
      const { affectedRows } = await tx.query(
        `INSERT INTO ${d} (${COPY_COLUMNS}) SELECT DISTINCT ${COPY_COLUMNS} FROM ${t}`,
      );
      await tx.exec(`DROP TABLE ${t}; ALTER TABLE ${d} RENAME TO ${t};`);
      return affectedRows;
    });
  }

  /** Removes a set (any state) and its hashes and matches. */
  private async dropSet(setId: number): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.exec(`DROP TABLE IF EXISTS ${partition(setId)}`);
      await tx.query('DELETE FROM hash_sets WHERE set_id = $1', [setId]);
    });
  }

  /**
   * The re-match job for one set: every content in the index, in SHA-256
   * order, in batches that each commit with the set's resume point, so it can
   * stop anywhere and continue. Idempotent (a match is recorded once).
   * Returns the matches it added.
   */
  async rematch(setId: number, options: { onProgress?: (p: ImportProgress) => void; abortSignal?: AbortSignal; batchContents?: number } = {}): Promise<number> {
    const batch = options.batchContents ?? MATCH_BATCH_CONTENTS;
    const { rows: totals } = await this.sql.query<{ n: number }>('SELECT count(*)::bigint AS n FROM contents');
    const total = Number(totals[0]?.n ?? 0);
    const { rows: kinds } = await this.sql.query<{ kind: HashSetKind }>('SELECT kind FROM hash_sets WHERE set_id = $1', [setId]);
    const kind = kinds[0]?.kind;
    // A PDQ list matches contents' PDQ hashes by distance; any other set their digests.
    const [pdqSet] = await pdqSets(this.sql, 's.set_id = $1', [setId]);
    const batchMatches = pdqSet
      ? // The set id is in the query's text; `$1` is named too so both queries take the same parameters.
        `INSERT INTO hash_set_matches (${PDQ_MATCH_COLUMNS}) ${pdqMatchSelect(pdqSet, `p.sha256 IN (SELECT sha256 FROM batch) AND $1::bigint = ${pdqSet.setId}`)}`
      : `INSERT INTO hash_set_matches (sha256, set_id, matched_on, category) ${matchSelect('c.sha256 IN (SELECT sha256 FROM batch)', 's.set_id = $1')}`;
    // Fail before any work rather than record matches without their custody entries.
    if (kind !== undefined && kind !== 'known-good') this.requireCustody();
    let added = 0;
    let done = 0;
    for (;;) {
      if (options.abortSignal?.aborted) throw new ExhibitError('aborted', 'matching was stopped; run it again to continue');
      // 1. Record the batch's matches (the resume point stays where it was).
      const step = await this.sql.transaction(async (tx) => {
        const { rows: head } = await tx.query<{ match_cursor: string | null; enabled: boolean; match_done: boolean }>(
          'SELECT match_cursor, enabled, match_done FROM hash_sets WHERE set_id = $1 FOR UPDATE',
          [setId],
        );
        const h = head[0];
        if (!h || !h.enabled || h.match_done) return null;
        const { rows } = await tx.query<{ last: string | null; n: number; added: number }>(
          `WITH batch AS (
             SELECT sha256 FROM contents WHERE $2::text IS NULL OR sha256 > $2 ORDER BY sha256 LIMIT $3
           ), ins AS (
             ${batchMatches}
             ON CONFLICT DO NOTHING RETURNING 1
           )
           SELECT (SELECT max(sha256) FROM batch) AS last, (SELECT count(*) FROM batch)::int AS n, (SELECT count(*) FROM ins)::int AS added`,
          [setId, h.match_cursor, batch],
        );
        const r = rows[0];
        const n = Number(r?.n ?? 0);
        return { cursor: h.match_cursor, last: r?.last ?? null, n, added: Number(r?.added ?? 0), finished: n < batch };
      });
      if (!step) break;
      // 2. A custody entry per matching file, for every match in the batch's range, including those the
      //    pipeline recorded while the set was being built. Written before the resume point moves, so an
      //    interruption repeats the range, and the event keys keep the entries single.
      if (kind !== undefined) {
        await this.recordMatchCustody(setId, kind, step.cursor, step.finished ? null : step.last, options.abortSignal);
      }
      // 3. Move the resume point (only if no other run of the job moved it meanwhile).
      await this.sql.query(
        `UPDATE hash_sets SET match_cursor = COALESCE($3, match_cursor), match_done = match_done OR $4
          WHERE set_id = $1 AND match_cursor IS NOT DISTINCT FROM $2`,
        [setId, step.cursor, step.last, step.finished],
      );
      added += step.added;
      done += step.n;
      options.onProgress?.({ phase: 'matching', done, total });
      if (step.finished) break;
    }
    return added;
  }

  /** Sets whose matching has not finished (an enable, an interrupted import): what a background job resumes. */
  async pendingMatchJobs(): Promise<number[]> {
    const { rows } = await this.sql.query<{ set_id: number }>(
      `SELECT set_id FROM hash_sets WHERE enabled AND NOT match_done AND state IN ('matching', 'active') ORDER BY set_id`,
    );
    return rows.map((r) => Number(r.set_id));
  }

  /** Disabling withdraws the set's matches at once; enabling starts its re-match (run rematch to do it). */
  async setEnabled(name: string, enabled: boolean): Promise<HashSetRecord> {
    const set = await this.mustGet(name);
    if (!enabled && set.enabled && set.kind !== 'known-good') {
      // The withdrawal is recorded before the matches go: an interrupted disable, run again, finishes
      // the removal and (by the event keys) adds no second entry.
      const custody = this.requireCustody();
      const { rows } = await this.sql.query(FILES_OF_MATCHES, [set.setId, null, null]);
      for (const r of rows) {
        const m = toMatch(r);
        const event = knownFileMatchEvent({ fileId: String(r.file_id), caseId: String(r.case_id), evidenceId: String(r.evidence_id) }, m, this.options.toolVersion ?? 'unknown');
        await custody.record({
          ...event,
          action: 'known-file-match-withdrawn',
          details: { ...event.details, reason: 'hash set disabled' },
          eventKey: `known-withdrawn:${r.file_id}:${m.setId}`,
        });
      }
    }
    await this.sql.transaction(async (tx) => {
      if (enabled) {
        await tx.query(`UPDATE hash_sets SET enabled = true, match_done = false, match_cursor = NULL WHERE set_id = $1 AND NOT enabled`, [set.setId]);
      } else {
        await tx.query('UPDATE hash_sets SET enabled = false, match_done = false, match_cursor = NULL WHERE set_id = $1', [set.setId]);
        await tx.query('DELETE FROM hash_set_matches WHERE set_id = $1', [set.setId]);
      }
    });
    return this.mustGet(name);
  }

  /** Removes the set of this name, with any build of it in progress, its hashes and its matches. */
  async remove(name: string): Promise<number> {
    const { rows } = await this.sql.query<{ set_id: number }>(`SELECT set_id FROM hash_sets WHERE name = $1 AND state <> 'superseded'`, [name]);
    if (rows.length === 0) throw new ExhibitError('not-found', `no hash set named ${JSON.stringify(name)}`, { details: { name } });
    for (const r of rows) await this.dropSet(Number(r.set_id));
    return rows.length;
  }

  /**
   * Matches contents as they are indexed (the pipeline's call): records a
   * match for every enabled set in force or being built, and returns the
   * matches of sets in force. Idempotent.
   */
  async matchContents(sha256s: string[]): Promise<HashSetMatch[]> {
    if (sha256s.length === 0) return [];
    const lower = sha256s.map((s) => s.toLowerCase());
    await this.matchPdq('p.sha256 = ANY($1::text[])', [lower]);
    await this.sql.query(
      `INSERT INTO hash_set_matches (sha256, set_id, matched_on, category)
       ${matchSelect('c.sha256 = ANY($1::text[])', `s.enabled AND s.state IN ('active', 'matching')`)}
       ON CONFLICT DO NOTHING`,
      [lower],
    );
    return this.matchesOf(lower);
  }

  /**
   * matchContents for one file's content, in one statement (the index
   * stage's per-file cost): the matches it records and those already there,
   * with sets in force and sets being built. The pipeline writes the custody
   * entries of both: the re-match job of a set being built may already have
   * passed this content, so nobody else would.
   */
  async matchFile(fileId: string): Promise<HashSetMatch[]> {
    return (await this.matchFiles([fileId])).get(fileId) ?? [];
  }

  /**
   * matchFile for the files of a batch message, in one statement: the
   * matches of each file's content (files sharing content share them), by file.
   */
  async matchFiles(fileIds: readonly string[]): Promise<Map<string, HashSetMatch[]>> {
    if (fileIds.length === 0) return new Map();
    const first = await this.matchFilesOnce(fileIds);
    if (first.pdqLists === 0) return first.byFile;
    // PDQ lists are enabled: match the contents' PDQ hashes against each (one statement per list),
    // then read every match again. Without PDQ lists the one statement above is all (the index
    // stage's per-file cost stays one statement).
    await this.matchPdq('p.sha256 IN (SELECT sha256 FROM files WHERE file_id = ANY($1::text[]) AND sha256 IS NOT NULL)', [[...fileIds]]);
    return (await this.matchFilesOnce(fileIds)).byFile;
  }

  /**
   * One statement: records the digest matches of the files' contents, returns
   * every recorded match (digest and PDQ) of sets in force or being built, and
   * how many PDQ lists are enabled (a row even when nothing matches).
   */
  private async matchFilesOnce(fileIds: readonly string[]): Promise<{ byFile: Map<string, HashSetMatch[]>; pdqLists: number }> {
    const byFile = new Map<string, HashSetMatch[]>(fileIds.map((id) => [id, []]));
    const { rows } = await this.sql.query(
      `WITH f AS (SELECT file_id, sha256 FROM files WHERE file_id = ANY($1::text[]) AND sha256 IS NOT NULL),
       ins AS (
         INSERT INTO hash_set_matches (sha256, set_id, matched_on, category)
         ${matchSelect('c.sha256 IN (SELECT sha256 FROM f)', `s.enabled AND s.state IN ('active', 'matching')`)}
         ON CONFLICT DO NOTHING
         RETURNING sha256, set_id, matched_on, category
       ), found AS (
         SELECT sha256, set_id, matched_on, category, pdq_distance, pdq_frame, pdq_listed, pdq_label
           FROM hash_set_matches WHERE sha256 IN (SELECT sha256 FROM f)
         UNION ALL
         SELECT sha256, set_id, matched_on, category, NULL::smallint, NULL::integer, NULL::bit(256), NULL::text FROM ins
       )
       SELECT x.*,
              (SELECT count(*)::int FROM hash_sets ps WHERE ps.format = 'pdq-list' AND ps.enabled AND ps.state IN ('active', 'matching')) AS pdq_lists
         FROM (SELECT 1) one
         LEFT JOIN (
           SELECT f.file_id, ${MATCH_OUT} FROM found m JOIN f ON f.sha256 = m.sha256 JOIN hash_sets s ON s.set_id = m.set_id
            WHERE s.enabled AND s.state IN ('active', 'matching')
         ) x ON true
        ORDER BY x.file_id, x.name COLLATE "C", x.set_id`,
      [[...fileIds]],
    );
    for (const r of rows) if (r.file_id !== null && r.file_id !== undefined) byFile.get(String(r.file_id))?.push(toMatch(r));
    return { byFile, pdqLists: Number(rows[0]?.pdq_lists ?? 0) };
  }

  /**
   * Records the PDQ-list matches of the contents a filter on `p`
   * (content_pdq) picks, against every enabled PDQ list in force or being
   * built: one statement per list (each list is its own table, with its
   * multi-index-hashing index). Nothing when no PDQ list is enabled, or the contents have
   * no PDQ hash. Idempotent.
   */
  private async matchPdq(contentFilter: string, params: unknown[]): Promise<void> {
    for (const set of await pdqSets(this.sql, `s.enabled AND s.state IN ('active', 'matching')`)) {
      await this.sql.query(`INSERT INTO hash_set_matches (${PDQ_MATCH_COLUMNS}) ${pdqMatchSelect(set, contentFilter)} ON CONFLICT DO NOTHING`, params);
    }
  }

  /** Recorded matches of these contents against enabled sets in force. */
  async matchesOf(sha256s: string[]): Promise<HashSetMatch[]> {
    const { rows } = await this.sql.query(
      `SELECT ${MATCH_OUT} FROM hash_set_matches m JOIN hash_sets s ON s.set_id = m.set_id
        WHERE m.sha256 = ANY($1::text[]) AND s.enabled AND s.state = 'active'
        ORDER BY m.sha256, s.name COLLATE "C"`,
      [sha256s.map((s) => s.toLowerCase())],
    );
    return rows.map(toMatch);
  }
}
