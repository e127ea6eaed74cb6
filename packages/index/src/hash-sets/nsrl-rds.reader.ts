import { setImmediate as yieldToLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { ExhibitError, errorMessage } from '@exhibit/core';
import { checkDigest } from './text-formats.reader.js';
import type { HashSetReader, HashSetRow, PositionedBatch, RowError } from './hash-set.types.js';

/** Rows read between two yields to the event loop (better-sqlite3 reads synchronously). */
const ROWS_PER_YIELD = 20_000;

/**
 * Where a release keeps its distinct hashes, best first. RDS v3 releases
 * (full and minimal) publish FILE as a view over METADATA; DISTINCT_HASH,
 * where a release has it, already holds one row per file content.
 */
const SOURCES = ['DISTINCT_HASH', 'FILE', 'METADATA'] as const;

function pickSource(db: Database.Database): string {
  const names = new Map(
    (db.prepare(`SELECT name FROM sqlite_master WHERE type IN ('table', 'view')`).all() as Array<{ name: string }>).map((r) => [r.name.toUpperCase(), r.name]),
  );
  for (const candidate of SOURCES) {
    const name = names.get(candidate);
    if (!name) continue;
    const cols = new Set((db.prepare(`PRAGMA table_info("${name.replace(/"/g, '""')}")`).all() as Array<{ name: string }>).map((c) => c.name.toLowerCase()));
    if (cols.has('sha256') && cols.has('sha1') && cols.has('md5')) return name;
  }
  throw new ExhibitError('unsupported-format', 'an SQLite database without NSRL RDS v3 hashes (no DISTINCT_HASH, FILE or METADATA with sha256, sha1, md5)');
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** A view the importer may read through: `SELECT [DISTINCT] <plain column names> FROM <one table>`, nothing else. */
const PLAIN_VIEW = /^\s*CREATE\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?\S+\s+AS\s+SELECT\s+(?:DISTINCT\s+)?([\w\s,"]+?)\s+FROM\s+"?(\w+)"?\s*;?\s*$/is;

/**
 * The rowid table the source's rows come from, when reading it row by row in
 * rowid order gives the same distinct triples as the source: the source
 * itself if it is a table with rowids, or the one table under a view that only
 * names columns (the FILE view over METADATA of full releases). Null for
 * anything else (a view with a filter, a join, a WITHOUT ROWID table): the
 * importer then reads the source with DISTINCT as before.
 */
function positionedTable(db: Database.Database, source: string): string | null {
  const entry = (name: string) =>
    db.prepare(`SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') AND upper(name) = upper(?)`).get(name) as
      | { name: string; type: string; sql: string | null }
      | undefined;
  const hasRowid = (table: string) => {
    try {
      db.prepare(`SELECT rowid FROM ${quote(table)} LIMIT 1`).all();
      return true;
    } catch {
      return false;
    }
  };
  const src = entry(source);
  if (!src) return null;
  if (src.type === 'table') return hasRowid(src.name) ? src.name : null;
  const m = PLAIN_VIEW.exec(src.sql ?? '');
  if (!m) return null;
  const columns = new Set((m[1] ?? '').split(',').map((c) => c.trim().replace(/^"|"$/g, '').toLowerCase()));
  if (!['sha256', 'sha1', 'md5'].every((c) => columns.has(c))) return null;
  const base = entry(m[2] ?? '');
  if (!base || base.type !== 'table') return null;
  const cols = new Set((db.prepare(`PRAGMA table_info(${quote(base.name)})`).all() as Array<{ name: string }>).map((c) => c.name.toLowerCase()));
  return cols.has('sha256') && cols.has('sha1') && cols.has('md5') && hasRowid(base.name) ? base.name : null;
}

/** One source row's digests, checked; null after reporting a malformed row. */
function toRow(sha256: unknown, sha1: unknown, md5: unknown, n: number, onError: (e: RowError) => void): HashSetRow | null {
  const row: HashSetRow = { md5: null, sha1: null, sha256: null, category: null, size: null, extra: null };
  const values = [sha256, sha1, md5];
  const digests = ['sha256', 'sha1', 'md5'] as const;
  for (let i = 0; i < 3; i++) {
    const value = values[i];
    if (value === null || value === undefined || value === '') continue;
    const d = checkDigest(String(value), n, digests[i]);
    if ('reason' in d) {
      onError({ ...d, unit: 'row' });
      return null;
    }
    row[digests[i]!] = d.hex;
  }
  if (!row.md5 && !row.sha1 && !row.sha256) {
    onError({ line: n, unit: 'row', reason: 'no-hash', detail: 'row has no hash' });
    return null;
  }
  return row;
}

function releaseVersion(db: Database.Database): string | null {
  try {
    const row = db.prepare('SELECT * FROM VERSION LIMIT 1').get() as Record<string, unknown> | undefined;
    if (!row) return null;
    const parts = ['version', 'build_set', 'release_date'].map((k) => row[k]).filter((v) => v !== null && v !== undefined && v !== '');
    return parts.length > 0 ? parts.map(String).join(' ') : null;
  } catch {
    return null;
  }
}

/** Reads the distinct SHA-256 / SHA-1 / MD5 triples of an NSRL RDS v3 release, read-only. */
export function nsrlRdsReader(path: string): HashSetReader {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new ExhibitError('corrupt-file', `cannot open the NSRL database: ${errorMessage(err)}`, { cause: err });
  }
  let source: string;
  let version: string | null;
  try {
    source = pickSource(db);
    version = releaseVersion(db);
  } catch (err) {
    db.close();
    throw err;
  }
  const distinct = source.toUpperCase() === 'DISTINCT_HASH' ? '' : 'DISTINCT ';
  const table = positionedTable(db, source);
  let closed = false;
  const close = () => {
    if (!closed) db.close();
    closed = true;
  };
  return {
    info: { format: 'nsrl-rds-v3', sourceVersion: version },
    // The distinct triples, in SQLite (a temporary B-tree: slow on a large release, fine for a small one).
    async *rows(onError: (e: RowError) => void, abortSignal?: AbortSignal) {
      try {
        const stmt = db.prepare(`SELECT ${distinct}sha256, sha1, md5 FROM ${quote(source)}`).raw(true);
        let n = 0;
        let batch: HashSetRow[] = [];
        for (const raw of stmt.iterate() as IterableIterator<unknown[]>) {
          n += 1;
          if (n % ROWS_PER_YIELD === 0) {
            if (batch.length > 0) yield batch;
            batch = [];
            await yieldToLoop();
            if (abortSignal?.aborted) throw new ExhibitError('aborted', 'import stopped; run it again with the same file to continue');
          }
          const row = toRow(raw[0], raw[1], raw[2], n, onError);
          if (row) batch.push(row);
        }
        if (batch.length > 0) yield batch;
      } finally {
        close();
      }
    },
    // The importer's read: every row of the table in rowid order (no sort, no temporary B-tree in SQLite),
    // the row number of an error being its rowid. The index keeps the distinct triples.
    ...(table === null
      ? {}
      : {
          positioned: {
            duplicates: source.toUpperCase() !== 'DISTINCT_HASH',
            async *rows(onError: (e: RowError) => void, options: { after: number | null; abortSignal?: AbortSignal }): AsyncGenerator<PositionedBatch> {
              try {
                const from = `SELECT rowid, sha256, sha1, md5 FROM ${quote(table)}`;
                const stmt = options.after === null
                  ? db.prepare(`${from} ORDER BY rowid`).raw(true)
                  : db.prepare(`${from} WHERE rowid > ? ORDER BY rowid`).raw(true);
                let batch: HashSetRow[] = [];
                let last = 0;
                let read = 0;
                const it = (options.after === null ? stmt.iterate() : stmt.iterate(options.after)) as IterableIterator<unknown[]>;
                for (const raw of it) {
                  last = raw[0] as number;
                  if (!Number.isSafeInteger(last)) {
                    throw new ExhibitError('unsupported-format', `row id ${String(raw[0])} of ${table} is beyond what the importer can resume from`);
                  }
                  const row = toRow(raw[1], raw[2], raw[3], last, onError);
                  if (row) batch.push(row);
                  if (++read % ROWS_PER_YIELD === 0) {
                    yield { rows: batch, last };
                    batch = [];
                    await yieldToLoop();
                    if (options.abortSignal?.aborted) throw new ExhibitError('aborted', 'import stopped; run it again with the same file to continue');
                  }
                }
                if (read % ROWS_PER_YIELD !== 0) yield { rows: batch, last };
              } finally {
                close();
              }
            },
          },
        }),
  };
}
