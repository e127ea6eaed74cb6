import { setImmediate as yieldToLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { ExhibitError, errorMessage } from '@exhibit/core';
import { checkDigest } from './text-formats.reader.js';
import type { HashSetReader, HashSetRow, RowError } from './hash-set.types.js';

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
  return {
    info: { format: 'nsrl-rds-v3', sourceVersion: version },
    async *rows(onError: (e: RowError) => void, abortSignal?: AbortSignal) {
      try {
        const stmt = db.prepare(`SELECT ${distinct}sha256, sha1, md5 FROM "${source.replace(/"/g, '""')}"`).raw(true);
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
          const row: HashSetRow = { md5: null, sha1: null, sha256: null, category: null, size: null, extra: null };
          let bad: RowError | null = null;
          (['sha256', 'sha1', 'md5'] as const).forEach((digest, i) => {
            const value = raw[i];
            if (bad || value === null || value === undefined || value === '') return;
            const d = checkDigest(String(value), n, digest);
            if ('reason' in d) bad = { ...d, unit: 'row' };
            else row[digest] = d.hex;
          });
          if (bad) onError(bad);
          else if (!row.md5 && !row.sha1 && !row.sha256) onError({ line: n, unit: 'row', reason: 'no-hash', detail: 'row has no hash' });
          else batch.push(row);
        }
        if (batch.length > 0) yield batch;
      } finally {
        db.close();
      }
    },
  };
}
