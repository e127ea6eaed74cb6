import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS, type IndexStore, type NewFile, type ReviewStore, type SearchQuery, type SearchResult } from '@exhibit/core';
import { createPostgresIndex, createPostgresReviewStore, openSqlClient, type SqlClient } from '../src/index.js';
import { member, newUpload, rootFile } from './fixtures.js';
import { allTargets } from './targets.js';

const CASE = 'case-long-path';

/** Random hex: incompressible to a b-tree, as a hostile member name can be. */
const hex = (chars: number) => randomBytes(chars / 2).toString('hex');

/** Path order as the search promises it: lower(path), then path, then fileId, by bytes. */
function pathOrder(files: NewFile[]): string[] {
  const bytes = (s: string) => Buffer.from(s, 'utf8');
  return [...files]
    .sort((a, b) => Buffer.compare(bytes(a.path.toLowerCase()), bytes(b.path.toLowerCase())) || Buffer.compare(bytes(a.path), bytes(b.path)) || Buffer.compare(bytes(a.fileId), bytes(b.fileId)))
    .map((f) => f.fileId);
}

// Regression long-incompressible-member-path-not-recorded: files_path_sort_idx held the whole path
// twice, so a batch holding a member with a 4 KiB random name failed whole ("index row requires
// 8288 bytes"), siblings included. Migration 0091 indexes a prefix; the path is kept whole.
describe.each(allTargets())('long incompressible member paths on $name', (target) => {
  let sql: SqlClient;
  let index: IndexStore;
  let review: ReviewStore;
  const recorded: NewFile[] = [];
  const ids = (r: SearchResult) => r.items.map((i) => i.file.fileId);

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    review = createPostgresReviewStore(sql);
    await index.migrate();
    const upload = newUpload(CASE, 'ev1', 'phone.zip');
    await index.recordUpload(upload);
    const root = rootFile(upload, { entryKind: 'file' });
    await index.insertFiles([root]);
    recorded.push(root);
  });

  afterAll(async () => {
    await sql?.close();
    await target.dispose();
  });

  it('records a batch holding a 4 KiB random-hex name whole, its sibling too (long-incompressible-member-path-not-recorded)', async () => {
    const root = recorded[0]!;
    const longName = `${hex(LIMITS.maxEntryNameBytes - 8)}.jpg`;
    // Paths sharing their first 600 characters, differing after the indexed prefix, and in letter case only.
    const shared = hex(600);
    const batch = [
      member(root, 0, 'a.jpg'),
      member(root, 1, `dir/${longName}`),
      member(root, 2, `dir/${shared}b.jpg`),
      member(root, 3, `dir/${shared}A.jpg`),
      member(root, 4, `DIR/${shared}a.jpg`),
      member(root, 5, `dir/${shared}a.jpg`),
      member(root, 6, `zzz.jpg`),
    ];
    expect(await index.insertFiles(batch)).toBe(batch.length);
    recorded.push(...batch);
    for (const f of batch) expect((await index.getFile(f.fileId))?.path).toBe(f.path);
  });

  it('records a 16 KiB path from nesting 4 KiB names to the deepest archive, whole', async () => {
    let parent = recorded[0]!;
    for (let depth = 1; depth <= LIMITS.maxNestingDepth; depth++) {
      const name = `${hex(LIMITS.maxEntryNameBytes - 8)}.${depth < LIMITS.maxNestingDepth ? 'zip' : 'jpg'}`;
      const child = member(parent, 10 + depth, name);
      const sibling = member(parent, 20 + depth, `s${depth}.jpg`);
      expect(await index.insertFiles([child, sibling])).toBe(2);
      recorded.push(child, sibling);
      parent = child;
    }
    expect(Buffer.byteLength(parent.path)).toBeGreaterThan(4 * LIMITS.maxEntryNameBytes);
    const back = await index.getFile(parent.fileId);
    expect(back?.path).toBe(parent.path);
    expect(Buffer.from(back!.path).equals(Buffer.from(parent.path))).toBe(true);
  });

  it('searches in the exact full path order, by page and by cursor, both ways', async () => {
    const expected = pathOrder(recorded);
    for (const order of ['asc', 'desc'] as const) {
      const want = order === 'asc' ? expected : [...expected].reverse();
      const q: SearchQuery = { caseId: CASE, sort: 'path', order };
      expect(ids(await index.search({ ...q, limit: 500 }))).toEqual(want);
      const out: string[] = [];
      let page = await index.search({ ...q, limit: 2 });
      out.push(...ids(page));
      for (let guard = 0; page.next && guard < 100; guard++) {
        page = await index.search({ ...q, limit: 2, after: page.next });
        out.push(...ids(page));
      }
      expect(out, `path ${order} by cursor`).toEqual(want);
      const byOffset: string[] = [];
      for (let offset = 0; offset < want.length; offset += 3) byOffset.push(...ids(await index.search({ ...q, limit: 3, offset })));
      expect(byOffset, `path ${order} by offset`).toEqual(want);
    }
  });

  it('exports in the same order, page after page', async () => {
    const out: string[] = [];
    let after = null;
    for (let guard = 0; guard < 100; guard++) {
      const page: Awaited<ReturnType<ReviewStore['exportPage']>> = await review.exportPage({ caseId: CASE }, after, 2);
      out.push(...page.rows.map((r) => r.file.fileId));
      if (!page.next) break;
      after = page.next;
    }
    expect(out).toEqual(pathOrder(recorded));
  });
});
