import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileKind, IndexStore, MediaMetadata, NewFile, SearchQuery } from '@exhibit/core';
import { createPostgresIndex, openSqlClient, type SqlClient } from '../src/index.js';
import { buildSearch } from '../src/index-store.search.js';
import { TOOLS, hashesOf, member, newUpload, photo, rootFile } from './fixtures.js';
import { allTargets } from './targets.js';

const CASE = 'case-search';

/** The archive and its members, each with the analysis a real run would record. */
interface Spec {
  path: string;
  kind?: FileKind;
  mime?: string;
  ext?: string;
  meta?: MediaMetadata;
  flags?: NewFile['flags'];
  size?: number;
  /** Same bytes as another spec (a duplicate). */
  sameAs?: string;
  entryKind?: NewFile['entryKind'];
  stage?: NewFile['stage'];
}

const SPECS: Spec[] = [
  { path: 'IMG_0001.JPG', kind: 'image', mime: 'image/jpeg', ext: 'jpg', meta: photo(), size: 500 },
  {
    path: 'IMG_0002.jpg',
    kind: 'image',
    mime: 'image/jpeg',
    ext: 'jpg',
    size: 500,
    // Wall clock only: the camera recorded no offset.
    meta: photo({ takenAt: { local: '2023:07:15 10:00:00', offsetMinutes: null, utc: null, source: 'exif:DateTimeOriginal' }, make: 'Apple', model: 'iPhone 12 Pro', gps: { lat: -33.86, lon: 151.21 } }),
  },
  { path: 'clip.mp4', kind: 'video', mime: 'video/mp4', ext: 'mp4', size: 9000, meta: { takenAt: { local: '2023-07-16T12:00:00', offsetMinutes: 0, utc: '2023-07-16T12:00:00.000Z', source: 'mp4:mvhd' }, durationSec: 12.5, raw: {} } },
  { path: 'report.pdf', kind: 'image', mime: 'image/png', ext: 'png', flags: ['ext-mismatch'], size: 300, meta: { raw: {} } },
  { path: '100%_real_file.txt', kind: 'document', mime: 'text/plain', ext: 'txt', size: 10 },
  { path: '100x_real_file.txt', kind: 'document', mime: 'text/plain', ext: 'txt', size: 10 },
  { path: 'back\\slash.txt', kind: 'document', mime: 'text/plain', ext: 'txt', size: 10 },
  { path: 'dir/', entryKind: 'directory', stage: 'indexed' },
  { path: 'copy/IMG_0001.JPG', sameAs: 'IMG_0001.JPG' },
  { path: 'fiji-east.jpg', kind: 'image', mime: 'image/jpeg', ext: 'jpg', size: 700, meta: photo({ gps: { lat: -17, lon: 179.5 }, make: 'NIKON CORPORATION', model: 'COOLPIX' }) },
  { path: 'fiji-west.jpg', kind: 'image', mime: 'image/jpeg', ext: 'jpg', size: 700, meta: photo({ gps: { lat: -17, lon: -179.5 }, make: 'NIKON CORPORATION', model: 'COOLPIX' }) },
  { path: "o'brien; DROP TABLE files; --.jpg", kind: 'image', mime: 'image/jpeg', ext: 'jpg', size: 700, meta: photo({ gps: undefined, make: '%', model: '_' }) },
];

describe.each(allTargets())('search on $name', (target) => {
  let index: IndexStore;
  let sql: SqlClient;
  const ids = new Map<string, string>();
  const paths = (items: Array<{ file: { path: string } }>) => items.map((i) => i.file.path.replace('holiday.zip!/', ''));
  const find = async (q: Omit<SearchQuery, 'caseId'>) => paths((await index.search({ caseId: CASE, limit: 500, ...q })).items).sort();

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    await index.migrate();
    const up = newUpload(CASE, 'ev1', 'holiday.zip');
    await index.recordUpload(up);
    const root = rootFile(up);
    const files: NewFile[] = [root];
    const shaOf = new Map<string, string>();
    SPECS.forEach((s, i) => {
      const sha = s.entryKind === 'directory' ? null : (shaOf.get(s.sameAs ?? '') ?? hashesOf(s.path).sha256);
      if (sha) shaOf.set(s.path, sha);
      const f = member(root, i, s.path, { sha256: sha, ...(s.entryKind ? { entryKind: s.entryKind } : {}), ...(s.stage ? { stage: s.stage } : {}), flags: s.flags ?? [], size: s.size ?? 100 });
      ids.set(s.path, f.fileId);
      files.push(f);
    });
    await index.insertFiles(files);
    for (const s of SPECS) {
      if (s.entryKind === 'directory' || s.sameAs) continue;
      const h = hashesOf(s.path);
      await index.ensureContent({ ...h, size: s.size ?? 100, source: { container: 'derived', name: `content/${h.sha256}` } });
      await index.setIdentification(h.sha256, { mime: s.mime ?? null, detectedExt: s.ext ?? null, kind: s.kind ?? 'other', tools: [] });
      if (s.meta) await index.setMetadata(h.sha256, { status: 'done', metadata: s.meta, tools: TOOLS });
    }
    await index.advanceFile(ids.get('clip.mp4')!, 'indexed');
    // Same names elsewhere, which no search in CASE may return.
    const other = newUpload('case-other', 'ev1', 'holiday.zip');
    await index.recordUpload(other);
    const otherRoot = rootFile(other);
    await index.insertFiles([otherRoot, member(otherRoot, 0, 'IMG_0001.JPG', { sha256: hashesOf('IMG_0001.JPG').sha256 })]);
    const ev2 = newUpload(CASE, 'ev2', 'loose.jpg');
    await index.recordUpload(ev2);
    await index.insertFiles([rootFile(ev2, { sha256: hashesOf('IMG_0001.JPG').sha256 })]);
  });
  afterAll(async () => {
    await index?.close();
    await target.dispose();
  });

  it('returns only the case asked for, and narrows by evidence', async () => {
    const all = await index.search({ caseId: CASE, limit: 500 });
    expect(all.total).toBe(SPECS.length + 2);
    expect(all.items.every((i) => i.file.caseId === CASE)).toBe(true);
    expect((await index.search({ caseId: CASE, evidenceId: 'ev2' })).items.map((i) => i.file.path)).toEqual(['loose.jpg']);
    expect((await index.search({ caseId: 'case-nobody' })).total).toBe(0);
  });

  it('joins each file to its content', async () => {
    const { items } = await index.search({ caseId: CASE, evidenceId: 'ev1', pathText: 'clip.mp4' });
    expect(items).toHaveLength(1);
    expect(items[0]?.content).toMatchObject({ kind: 'video', mime: 'video/mp4', metadataStatus: 'done' });
    expect(items[0]?.content?.metadata?.durationSec).toBe(12.5);
    const dir = await index.search({ caseId: CASE, pathText: 'dir/' });
    expect(dir.items[0]?.content).toBeNull();
  });

  it('filters by kind and mime (exact or type/*)', async () => {
    expect(await find({ kind: 'video' })).toEqual(['clip.mp4']);
    expect(await find({ mime: 'image/png' })).toEqual(['report.pdf']);
    expect(await find({ mime: 'IMAGE/*', evidenceId: 'ev1' })).toEqual(
      ['IMG_0001.JPG', 'IMG_0002.jpg', 'copy/IMG_0001.JPG', 'fiji-east.jpg', 'fiji-west.jpg', "o'brien; DROP TABLE files; --.jpg", 'report.pdf'].sort(),
    );
  });

  it('filters by time: instants when known, the wall clock as written otherwise', async () => {
    // From 09:00 at +05:00 = 04:00Z. IMG_0002 has only a wall clock (10:00), compared with 09:00 as written.
    expect(await find({ takenFrom: '2023-07-15T09:00:00+05:00' })).toEqual(['IMG_0002.jpg', 'clip.mp4']);
    expect(await find({ takenFrom: '2023-07-15T11:00:00+05:00' })).toEqual(['clip.mp4']);
    // A date-only upper bound covers the whole day.
    expect(await find({ takenFrom: '2023-07-15', takenTo: '2023-07-15' })).toEqual(['IMG_0002.jpg']);
    expect(await find({ takenTo: '2023-07-14T07:30:00Z', evidenceId: 'ev1' })).toEqual(
      ['IMG_0001.JPG', 'copy/IMG_0001.JPG', 'fiji-east.jpg', 'fiji-west.jpg', "o'brien; DROP TABLE files; --.jpg"].sort(),
    );
    expect(await find({ takenTo: '2023-07-14T07:29:59Z' })).toEqual([]);
    await expect(index.search({ caseId: CASE, takenFrom: 'last tuesday' })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(index.search({ caseId: CASE, takenTo: '2023-02-30' })).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('matches make and model case-insensitively by prefix, with wildcards taken literally', async () => {
    // loose.jpg in ev2 holds the same bytes as IMG_0001, so it shares that content's metadata.
    expect(await find({ make: 'canon' })).toEqual(['IMG_0001.JPG', 'copy/IMG_0001.JPG', 'loose.jpg']);
    expect(await find({ make: 'nikon', model: 'coolpix' })).toEqual(['fiji-east.jpg', 'fiji-west.jpg']);
    expect(await find({ model: 'iphone' })).toEqual(['IMG_0002.jpg']);
    expect(await find({ make: '%' })).toEqual(["o'brien; DROP TABLE files; --.jpg"]);
    expect(await find({ model: '_' })).toEqual(["o'brien; DROP TABLE files; --.jpg"]);
  });

  it('filters by GPS presence and bounding box, across the antimeridian too', async () => {
    expect(await find({ hasGps: true, evidenceId: 'ev1' })).toEqual(['IMG_0001.JPG', 'IMG_0002.jpg', 'copy/IMG_0001.JPG', 'fiji-east.jpg', 'fiji-west.jpg']);
    expect(await find({ hasGps: false, kind: 'image' })).toEqual(["o'brien; DROP TABLE files; --.jpg", 'report.pdf']);
    expect(await find({ bbox: [-1, 51, 1, 52] })).toEqual(['IMG_0001.JPG', 'copy/IMG_0001.JPG', 'loose.jpg']);
    expect(await find({ bbox: [179, -20, -179, -10] })).toEqual(['fiji-east.jpg', 'fiji-west.jpg']);
    expect(await find({ bbox: [150, -40, 152, -30] })).toEqual(['IMG_0002.jpg']);
    await expect(index.search({ caseId: CASE, bbox: [0, 10, 1, 5] })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(index.search({ caseId: CASE, bbox: [0, 0, 181, 1] })).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('finds every occurrence by MD5, SHA-1 or SHA-256, in any case', async () => {
    const h = hashesOf('IMG_0001.JPG');
    const expected = ['IMG_0001.JPG', 'copy/IMG_0001.JPG'];
    expect(await find({ hash: h.md5.toUpperCase(), evidenceId: 'ev1' })).toEqual(expected);
    expect(await find({ hash: h.sha1, evidenceId: 'ev1' })).toEqual(expected);
    expect(await find({ hash: h.sha256, evidenceId: 'ev1' })).toEqual(expected);
    // The same bytes in another evidence item of the case.
    expect(await find({ hash: h.sha256 })).toEqual([...expected, 'loose.jpg'].sort());
    await expect(index.search({ caseId: CASE, hash: 'abc' })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(index.search({ caseId: CASE, hash: 'z'.repeat(32) })).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('finds by a prefix of 8 or more hex digits of any digest (the 12 the CLI prints), and refuses shorter ones', async () => {
    const h = hashesOf('IMG_0001.JPG');
    const expected = ['IMG_0001.JPG', 'copy/IMG_0001.JPG', 'loose.jpg'];
    expect(await find({ hash: h.sha256.slice(0, 12) })).toEqual(expected);
    expect(await find({ hash: h.sha256.slice(0, 8).toUpperCase() })).toEqual(expected);
    expect(await find({ hash: h.sha256.slice(0, 63) })).toEqual(expected);
    expect(await find({ hash: h.md5.slice(0, 20) })).toEqual(expected);
    expect(await find({ hash: h.sha1.slice(0, 33) })).toEqual(expected);
    // One digit off is no match: a prefix match, never "close enough".
    const last = h.sha256.slice(11, 12);
    expect(await find({ hash: h.sha256.slice(0, 11) + (last === 'f' ? '0' : 'f') })).toEqual([]);
    // Every file whose SHA-256 starts with the first 8 digits of some file's, and only those.
    for (const s of SPECS.filter((x) => x.entryKind !== 'directory' && !x.sameAs)) {
      const prefix = hashesOf(s.path).sha256.slice(0, 8);
      const all = (await index.search({ caseId: CASE, limit: 500 })).items;
      const want = all.filter((i) => i.file.sha256?.startsWith(prefix) || i.content?.md5.startsWith(prefix) || i.content?.sha1.startsWith(prefix));
      expect(await find({ hash: prefix })).toEqual(paths(want).sort());
    }
    await expect(index.search({ caseId: CASE, hash: h.sha256.slice(0, 7) })).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('searches hash prefixes through the existing digest indexes', async () => {
    // Forced off the sequential scans a table this small would get, the plan shows which indexes can serve the query.
    const prefix = hashesOf('IMG_0001.JPG').sha256.slice(0, 12);
    const built = buildSearch({ caseId: CASE, hash: prefix });
    const plan = await sql.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const { rows } = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${built.countSql}`, built.params);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    // Each digest is read as an index range (Index Cond), not as a whole index filtered row by row.
    for (const [idx, col] of [['files_sha256_idx', 'sha256'], ['contents_md5_idx', 'md5'], ['contents_sha1_idx', 'sha1']]) {
      expect(plan).toMatch(new RegExp(`using ${idx}[^\\n]*\\n\\s+Index Cond: \\(\\(${col} >= '${prefix}'::text\\) AND \\(${col} < '${prefix}g'::text\\)\\)`));
    }
  });

  it('matches path text as a literal, case-insensitive substring (LIKE wildcards escaped)', async () => {
    expect(await find({ pathText: '100%' })).toEqual(['100%_real_file.txt']);
    expect(await find({ pathText: '%' })).toEqual(['100%_real_file.txt']);
    expect(await find({ pathText: '0x_' })).toEqual(['100x_real_file.txt']);
    expect(await find({ pathText: '%_' })).toEqual(['100%_real_file.txt']);
    expect(await find({ pathText: '\\' })).toEqual(['back\\slash.txt']);
    expect(await find({ pathText: 'img_0001' })).toEqual(['IMG_0001.JPG', 'copy/IMG_0001.JPG']);
    expect(await find({ pathText: "'brien; DROP TABLE files; --" })).toEqual(["o'brien; DROP TABLE files; --.jpg"]);
    expect((await index.search({ caseId: CASE })).total).toBe(SPECS.length + 2);
  });

  it('filters by extension mismatch and by stage', async () => {
    expect(await find({ extMismatch: true })).toEqual(['report.pdf']);
    expect(await find({ extMismatch: false, evidenceId: 'ev1' })).not.toContain('report.pdf');
    expect((await find({ extMismatch: false, evidenceId: 'ev1' })).length).toBe(SPECS.length);
    expect(await find({ stage: 'indexed' })).toEqual(['clip.mp4', 'dir/']);
  });

  it('sorts deterministically and pages without gaps or overlaps', async () => {
    for (const sort of ['path', 'name', 'size', 'takenAt'] as const) {
      for (const order of ['asc', 'desc'] as const) {
        const whole = (await index.search({ caseId: CASE, sort, order, limit: 500 })).items.map((i) => i.file.fileId);
        const again = (await index.search({ caseId: CASE, sort, order, limit: 500 })).items.map((i) => i.file.fileId);
        expect(again).toEqual(whole);
        const paged: string[] = [];
        for (let offset = 0; offset < whole.length; offset += 4) {
          const page = await index.search({ caseId: CASE, sort, order, limit: 4, offset });
          expect(page.total).toBe(whole.length);
          paged.push(...page.items.map((i) => i.file.fileId));
        }
        expect(paged).toEqual(whole);
        expect(new Set(paged).size).toBe(whole.length);
      }
    }
  });

  it('orders by the requested key, missing values last, file id breaking ties', async () => {
    const bySize = (await index.search({ caseId: CASE, evidenceId: 'ev1', sort: 'size', limit: 500 })).items;
    const sizes = bySize.map((i) => i.file.size);
    expect(sizes).toEqual([...sizes].sort((a, b) => (a ?? Infinity) - (b ?? Infinity)));
    const tens = bySize.filter((i) => i.file.size === 10).map((i) => i.file.fileId);
    expect(tens).toHaveLength(3);
    expect(tens).toEqual([...tens].sort());
    const desc = (await index.search({ caseId: CASE, evidenceId: 'ev1', sort: 'size', order: 'desc', limit: 500 })).items;
    expect(desc[0]?.file.size).toBe(9000);

    const byTime = (await index.search({ caseId: CASE, evidenceId: 'ev1', sort: 'takenAt', kind: 'image', hasGps: true, limit: 500 })).items;
    // 2023-07-14 (several), then the wall-clock-only 2023-07-15 10:00.
    expect(paths(byTime).at(-1)).toBe('IMG_0002.jpg');
    const byTimeDesc = (await index.search({ caseId: CASE, sort: 'takenAt', order: 'desc', limit: 500 })).items;
    expect(paths(byTimeDesc)[0]).toBe('clip.mp4');
    // Files without a time come last in both directions.
    expect(byTimeDesc.at(-1)?.content?.metadata?.takenAt).toBeUndefined();

    const byPath = paths((await index.search({ caseId: CASE, evidenceId: 'ev1', sort: 'path', limit: 500 })).items);
    expect(byPath.slice(0, 3)).toEqual(['holiday.zip', '100%_real_file.txt', '100x_real_file.txt']);
    // Case-insensitive: "clip.mp4" sorts before "copy/…" and "IMG_…" between "fiji…" and "o'brien…".
    expect(byPath.indexOf('IMG_0001.JPG')).toBeGreaterThan(byPath.indexOf('fiji-west.jpg'));
    expect(byPath.indexOf('IMG_0001.JPG')).toBeLessThan(byPath.indexOf("o'brien; DROP TABLE files; --.jpg"));
  });

  it('defaults to 50 results, caps the limit at 500 and rejects nonsense paging', async () => {
    const up = newUpload('case-paging', 'ev1', 'big.zip');
    const root = rootFile(up);
    await index.insertFiles([root, ...Array.from({ length: 620 }, (_, i) => member(root, i, `m${i}`, { sha256: null }))]);
    const page = await index.search({ caseId: 'case-paging' });
    expect(page.total).toBe(621);
    expect(page.items).toHaveLength(50);
    expect((await index.search({ caseId: 'case-paging', limit: 10_000 })).items).toHaveLength(500);
    expect((await index.search({ caseId: 'case-paging', offset: 600, limit: 100 })).items).toHaveLength(21);
    await expect(index.search({ caseId: 'case-paging', limit: 0 })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(index.search({ caseId: 'case-paging', offset: -1 })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(index.search({ caseId: '' })).rejects.toMatchObject({ code: 'invalid-argument' });
  });
});
