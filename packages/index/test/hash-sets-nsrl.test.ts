import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexStore } from '@exhibit/core';
import { createPostgresIndex, openSqlClient, type SqlClient } from '../src/index.js';
import { HashSetStore } from '../src/hash-sets/hash-set-store.js';
import { openHashSetFile } from '../src/hash-sets/hash-set-file.js';
import type { HashSetRow, PositionedBatch, RowError } from '../src/hash-sets/hash-set.types.js';
import { hashesOf, member, newUpload, rootFile } from './fixtures.js';
import { DATABASE_URL, pgliteMemory, postgresServer } from './targets.js';

/**
 * The NSRL import path (docs/known-files.md): the release's table is read in
 * rowid order with its repeated rows, the index keeps the distinct triples,
 * and an interrupted load resumes after the last committed rowid.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-nsrl-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Triple = { sha256: string; sha1: string; md5: string };
let n = 0;
/** A full-layout release (METADATA, the FILE view over it, VERSION) holding these rows, upper case as NSRL writes them. */
function release(rows: Triple[], view = 'SELECT sha256, sha1, md5, crc32, file_name, file_size, package_id FROM METADATA'): string {
  const file = path.join(dir, `rds-${n++}.db`);
  const db = new Database(file);
  db.exec(`
    CREATE TABLE VERSION (version TEXT, build_set TEXT, build_date TEXT, release_date TEXT, description TEXT);
    INSERT INTO VERSION VALUES ('2026.12.1', 'modern', '2026-12-01', '2026-12-01', 'test');
    CREATE TABLE METADATA (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, crc32 VARCHAR, file_name TEXT, file_size INTEGER, package_id INTEGER);
    CREATE VIEW FILE AS ${view};`);
  const insert = db.prepare('INSERT INTO METADATA VALUES (?, ?, ?, NULL, ?, 1, ?)');
  db.transaction(() => rows.forEach((r, i) => insert.run(r.sha256.toUpperCase(), r.sha1.toUpperCase(), r.md5.toUpperCase(), `f${i}.dll`, i)))();
  db.close();
  return file;
}

const GOOD = hashesOf('system.dll');
const OTHER = hashesOf('other.dll');
const BAD_ROW: Triple = { sha256: 'b'.repeat(63), sha1: 'c'.repeat(40), md5: 'd'.repeat(32) };
/** Each of `count` triples twice (the same file in two packages), rowids 1..2·count. */
const twice = (count: number, salt: string) => Array.from({ length: count }, (_, i) => hashesOf(`${salt}${i}`)).flatMap((h) => [h, h]);

describe('NSRL reader, positioned read', () => {
  async function positioned(file: string, after: number | null) {
    const reader = await openHashSetFile(file);
    const errors: RowError[] = [];
    const batches: PositionedBatch[] = [];
    if (!reader.positioned) return null;
    for await (const b of reader.positioned.rows((e) => errors.push(e), { after })) batches.push(b);
    return { duplicates: reader.positioned.duplicates, rows: batches.flatMap((b) => b.rows), last: batches.at(-1)?.last ?? null, errors };
  }
  const lower = (h: Triple): HashSetRow => ({ ...h, category: null, size: null, extra: null });

  it('reads the table under the FILE view row by row, repeats included, an error numbered by its rowid', async () => {
    const file = release([GOOD, GOOD, BAD_ROW, OTHER]);
    const r = await positioned(file, null);
    expect(r).toEqual({ duplicates: true, rows: [lower(GOOD), lower(GOOD), lower(OTHER)], last: 4, errors: [expect.objectContaining({ unit: 'row', line: 3, reason: 'wrong-length' })] });
    expect(await positioned(file, 2)).toEqual({ duplicates: true, rows: [lower(OTHER)], last: 4, errors: [expect.objectContaining({ line: 3 })] });
    expect(await positioned(file, 4)).toEqual({ duplicates: true, rows: [], last: null, errors: [] });
  });

  it('does not read around a view that is more than a column list (it may filter): the DISTINCT read stays', async () => {
    const file = release([GOOD, OTHER], `SELECT sha256, sha1, md5 FROM METADATA WHERE package_id > 0`);
    expect(await positioned(file, null)).toBeNull();
    const reader = await openHashSetFile(file);
    const rows: HashSetRow[] = [];
    for await (const b of reader.rows(() => undefined)) rows.push(...b);
    expect(rows).toEqual([lower(OTHER)]);
  });
});

describe.each([pgliteMemory(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])])('NSRL import on $name', (target) => {
  let index: IndexStore;
  let sql: SqlClient;
  let sets: HashSetStore;
  const countOf = async (setId: number) =>
    Number((await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM hash_set_hashes WHERE set_id = $1', [setId])).rows[0]?.n);

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    await index.migrate();
    sets = new HashSetStore(sql);
    const up = newUpload('case-nsrl', 'ev1', 'disk.zip');
    await index.recordUpload(up);
    const root = rootFile(up);
    await index.insertFiles([root, member(root, 0, 'system.dll', { sha256: GOOD.sha256 })]);
    await index.ensureContent({ ...GOOD, size: 10, source: { container: 'derived', name: GOOD.sha256 } });
  });
  afterAll(async () => {
    await index?.close();
    await target.dispose();
  });

  it('keeps the distinct triples of a release with repeated rows, and matches by them', async () => {
    const r = await sets.import(release([GOOD, OTHER, GOOD, BAD_ROW, OTHER, GOOD]), { name: 'NSRL', kind: 'known-good', importedBy: 'dc.smith', skipBadRows: true });
    expect(r.set).toMatchObject({ format: 'nsrl-rds-v3', sourceVersion: '2026.12.1 modern 2026-12-01', rowCount: 2, rejectedRows: 1, state: 'active' });
    expect(r.errors.map((e) => `${e.unit} ${e.line}:${e.reason}`)).toEqual(['row 4:wrong-length']);
    expect(await countOf(r.set.setId)).toBe(2);
    const { rows } = await sql.query<{ sha256: string }>(
      `SELECT encode(sha256, 'hex') AS sha256 FROM hash_set_hashes WHERE set_id = $1 ORDER BY sha256`, [r.set.setId]);
    expect(rows.map((x) => x.sha256)).toEqual([GOOD.sha256, OTHER.sha256].sort());
    expect(await sets.matchContents([GOOD.sha256])).toEqual([expect.objectContaining({ name: 'NSRL', matchedOn: 'sha256' })]);
  });

  it('resumes an interrupted load after the last committed rowid, without reading or counting the rows before it again', async () => {
    // 50,000 rows (25,000 triples twice, a malformed row at rowid 5): the reader's batches are 20,000 rows,
    // so the first chunk commits rowids 1..20,000.
    const rows = twice(25_000, 'pkg');
    rows[4] = BAD_ROW;
    const file = release(rows);
    const stop = new AbortController();
    let firstChunk = 0;
    await expect(
      sets.import(file, {
        name: 'NSRL v2', kind: 'known-good', importedBy: 'dc.jones', skipBadRows: true, copyChunkRows: 10, abortSignal: stop.signal,
        onProgress: (p) => {
          if (p.phase === 'loading' && p.done > 0 && firstChunk === 0) {
            firstChunk = p.done;
            stop.abort();
          }
        },
      }),
    ).rejects.toThrow(/stopped/);
    expect(firstChunk).toBe(19_999);
    const { rows: mid } = await sql.query<{ row_count: number; rejected_rows: number; load_cursor: number; state: string }>(
      `SELECT row_count, rejected_rows, load_cursor, state FROM hash_sets WHERE name = 'NSRL v2'`);
    expect(mid.map((m) => ({ ...m, row_count: Number(m.row_count), rejected_rows: Number(m.rejected_rows), load_cursor: Number(m.load_cursor) })))
      .toEqual([{ row_count: 19_999, rejected_rows: 1, load_cursor: 20_000, state: 'loading' }]);

    const loading: number[] = [];
    const r = await sets.import(file, {
      name: 'NSRL v2', kind: 'known-good', importedBy: 'dc.jones', skipBadRows: true,
      onProgress: (p) => void (p.phase === 'loading' && loading.push(p.done)),
    });
    expect(r.resumed).toBe(true);
    expect(loading[0]).toBe(19_999);
    // The malformed row was before the resume point: counted once, and not read (so not listed) again.
    expect(r.errors).toEqual([]);
    // rowids 5 and 6 held one triple twice; with rowid 5 malformed, that triple still comes in once (rowid 6).
    expect(r.set).toMatchObject({ rowCount: 25_000, rejectedRows: 1, state: 'active' });
    expect(await countOf(r.set.setId)).toBe(25_000);
  });
});
