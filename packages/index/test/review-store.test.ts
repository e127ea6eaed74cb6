import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExhibitError, type IndexStore, type MediaMetadata, type NewFile, type ReviewStore } from '@exhibit/core';
import { createPostgresIndex, createPostgresReviewStore, openSqlClient, type SqlClient } from '../src/index.js';
import { chooseBucket } from '../src/review-store.postgres.js';
import { TOOLS, hashesOf, member, newUpload, photo, rootFile } from './fixtures.js';
import { allTargets } from './targets.js';

const CASE = 'case-review';
const N = 120;

/**
 * A deterministic spread of photos: positions over three continents, capture
 * times over two years with and without a recorded offset, some with no
 * capture time or no position, and every tenth a copy of the one before.
 */
function specOf(i: number): { meta: MediaMetadata | null; sameAsPrevious: boolean } {
  if (i % 10 === 9) return { meta: null, sameAsPrevious: true };
  if (i % 13 === 0) return { meta: { raw: {} }, sameAsPrevious: false };
  const centres = [
    [51.5074, -0.1278],
    [-22.9068, -43.1729],
    [35.6762, 139.6503],
  ] as const;
  const [lat0, lon0] = centres[i % 3]!;
  // Irrational-looking steps so no point sits on a cell edge.
  const lat = lat0 + ((i * 0.0137) % 0.9) - 0.45;
  const lon = lon0 + ((i * 0.0291) % 1.7) - 0.85;
  const day = new Date(Date.UTC(2023, 0, 1) + i * 6.1 * 86_400_000 + (i % 24) * 3_600_000 + 7 * 60_000);
  const local = day.toISOString().slice(0, 19).replace('T', ' ').replace(/-/g, ':');
  const withOffset = i % 4 !== 0;
  const takenAt = withOffset
    ? { local, offsetMinutes: 60, utc: new Date(day.getTime() - 3_600_000).toISOString(), source: 'exif:DateTimeOriginal+OffsetTimeOriginal' }
    : { local, offsetMinutes: null, utc: null, source: 'exif:DateTimeOriginal' };
  return { meta: photo({ takenAt, ...(i % 7 === 0 ? { gps: undefined } : { gps: { lat, lon } }) }), sameAsPrevious: false };
}

describe.each(allTargets())('review store on $name', (target) => {
  let sql: SqlClient;
  let index: IndexStore;
  let review: ReviewStore;
  const files: NewFile[] = [];

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    review = createPostgresReviewStore(sql);
    await index.migrate();
    const up = newUpload(CASE, 'ev1', 'phone.zip');
    await index.recordUpload(up);
    const root = rootFile(up);
    let previousSha = '';
    const members: NewFile[] = [];
    for (let i = 0; i < N; i++) {
      const spec = specOf(i);
      const sha = spec.sameAsPrevious ? previousSha : hashesOf(`photo ${i}`).sha256;
      previousSha = sha;
      members.push(member(root, i, `DCIM/${String(i).padStart(4, '0')}.jpg`, { sha256: sha }));
    }
    files.push(root, ...members);
    await index.insertFiles(files);
    for (let i = 0; i < N; i++) {
      const spec = specOf(i);
      if (spec.sameAsPrevious) continue;
      const h = hashesOf(`photo ${i}`);
      await index.ensureContent({ ...h, size: 100, source: { container: 'derived', name: `content/${h.sha256}` } });
      await index.setIdentification(h.sha256, { mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image', tools: [] });
      if (spec.meta) await index.setMetadata(h.sha256, { status: 'done', metadata: spec.meta, tools: TOOLS });
    }
    // Another case with the same content: never counted here.
    const other = newUpload('case-other', 'ev1', 'phone.zip');
    await index.recordUpload(other);
    const otherRoot = rootFile(other);
    await index.insertFiles([otherRoot, member(otherRoot, 0, 'DCIM/0001.jpg', { sha256: hashesOf('photo 1').sha256 })]);
  });

  afterAll(async () => {
    await sql?.close();
    await target.dispose();
  });

  /** The plain answer: every file of the case with its position and capture time, one row each. */
  async function plainRows(): Promise<Array<{ file_id: string; lat: number | null; lon: number | null; local: string | null; has_utc: boolean }>> {
    const { rows } = await sql.query<{ file_id: string; lat: number | null; lon: number | null; local: string | null; has_utc: boolean }>(
      `SELECT f.file_id, c.gps_lat AS lat, c.gps_lon AS lon, to_char(c.taken_at_local_ts, 'YYYY-MM-DD"T"HH24:MI:SS') AS local, c.taken_at_utc IS NOT NULL AS has_utc
         FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256 WHERE f.case_id = $1`,
      [CASE],
    );
    return rows;
  }

  it.each([90, 1, 0.05, 0.001])('counts the files of every map cell as a plain query does (cell %s°)', async (cellDeg) => {
    const expected = new Map<string, number>();
    for (const r of await plainRows()) {
      if (r.lat === null || r.lon === null) continue;
      const key = `${Math.floor(r.lon / cellDeg)},${Math.floor(r.lat / cellDeg)}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const result = await review.mapClusters({ caseId: CASE, cellDeg, maxClusters: 10_000 });
    const got = new Map(result.clusters.map((c) => [`${Math.floor(c.bbox[0] / cellDeg)},${Math.floor(c.bbox[1] / cellDeg)}`, c.count]));
    expect(got).toEqual(expected);
    expect(result.total).toBe([...expected.values()].reduce((a, b) => a + b, 0));
    expect(result.total).toBe((await index.search({ caseId: CASE, hasGps: true })).total);
    expect(result.truncated).toBe(false);
    for (const c of result.clusters) {
      expect(c.lat).toBeGreaterThanOrEqual(c.bbox[1]);
      expect(c.lat).toBeLessThanOrEqual(c.bbox[3]);
      if (c.count === 1) expect(c.fileId).not.toBeNull();
      else expect(c.fileId).toBeNull();
    }
  });

  it('keeps the fullest cells when there are more than asked for, and says so', async () => {
    const all = await review.mapClusters({ caseId: CASE, cellDeg: 0.001, maxClusters: 10_000 });
    const few = await review.mapClusters({ caseId: CASE, cellDeg: 0.001, maxClusters: 5 });
    expect(few.clusters).toHaveLength(5);
    expect(few.truncated).toBe(true);
    expect(few.total).toBe(all.total);
  });

  it('applies the search filter to the map (a box, a duplicate filter)', async () => {
    const bbox: [number, number, number, number] = [-1, 51, 0.5, 52];
    const boxed = await review.mapClusters({ caseId: CASE, bbox, cellDeg: 0.1, maxClusters: 1000 });
    expect(boxed.total).toBe((await index.search({ caseId: CASE, bbox })).total);
    expect(boxed.total).toBeGreaterThan(0);
    const dup = await review.mapClusters({ caseId: CASE, duplicates: 'only', cellDeg: 90, maxClusters: 1000 });
    expect(dup.total).toBe((await index.search({ caseId: CASE, duplicates: 'only', hasGps: true })).total);
  });

  it.each(['day', 'week', 'month', 'year'] as const)('counts every %s bucket of recorded capture time as a plain query does', async (bucket) => {
    const result = await review.timeline({ caseId: CASE, bucket, maxBuckets: 200 });
    const rows = await plainRows();
    const startOf = (local: string): string => {
      const d = new Date(`${local}Z`);
      if (bucket === 'day') return `${local.slice(0, 10)}T00:00:00`;
      if (bucket === 'month') return `${local.slice(0, 7)}-01T00:00:00`;
      if (bucket === 'year') return `${local.slice(0, 4)}-01-01T00:00:00`;
      // ISO weeks start on Monday, as date_trunc('week') does.
      const monday = new Date(d.getTime() - ((d.getUTCDay() + 6) % 7) * 86_400_000);
      return `${monday.toISOString().slice(0, 10)}T00:00:00`;
    };
    const expected = new Map<string, { withOffset: number; withoutOffset: number }>();
    for (const r of rows) {
      if (r.local === null) continue;
      const k = startOf(r.local);
      const e = expected.get(k) ?? { withOffset: 0, withoutOffset: 0 };
      if (r.has_utc) e.withOffset += 1;
      else e.withoutOffset += 1;
      expected.set(k, e);
    }
    expect(new Map(result.buckets.map((b) => [b.start, { withOffset: b.withOffset, withoutOffset: b.withoutOffset }]))).toEqual(expected);
    // The archive itself is a file of the case too, without a capture time.
    expect(result.total).toBe(N + 1);
    expect(result.withTakenAt).toBe(rows.filter((r) => r.local !== null).length);
    expect(result.withoutTakenAt).toBe(N + 1 - result.withTakenAt);
    expect(result.buckets.map((b) => b.start)).toEqual([...result.buckets.map((b) => b.start)].sort());
  });

  it('chooses a bucket size from the range, and a brush over buckets selects exactly the files counted in them', async () => {
    const result = await review.timeline({ caseId: CASE, maxBuckets: 200 });
    // About two years of data: weeks give ~104 buckets, days ~730.
    expect(result.bucket).toBe('week');
    for (const b of result.buckets.slice(0, 12)) {
      const hits = await index.search({ caseId: CASE, takenLocalFrom: b.start, takenLocalTo: b.end });
      expect(hits.total).toBe(b.withOffset + b.withoutOffset);
      const missing = await index.search({ caseId: CASE, takenLocalFrom: b.start, takenLocalTo: b.end, takenOffset: 'missing' });
      expect(missing.total).toBe(b.withoutOffset);
    }
    const first = result.buckets[0]!;
    const last = result.buckets.at(-1)!;
    expect((await index.search({ caseId: CASE, takenLocalFrom: first.start, takenLocalTo: last.end })).total).toBe(result.withTakenAt);
  });

  it('chooses buckets by the rule, and answers an empty filter with no buckets', async () => {
    const h = 3_600_000;
    expect(chooseBucket(0, 90 * 60_000, 200)).toBe('minute');
    expect(chooseBucket(0, 100 * h, 200)).toBe('hour');
    expect(chooseBucket(0, 100 * 24 * h, 200)).toBe('day');
    expect(chooseBucket(0, 3000 * 24 * h, 200)).toBe('month');
    expect(chooseBucket(0, 100_000 * 24 * h, 200)).toBe('year');
    const none = await review.timeline({ caseId: 'case-nobody', maxBuckets: 200 });
    expect(none).toMatchObject({ from: null, to: null, buckets: [], total: 0, withTakenAt: 0 });
  });

  it('chooses the bucket in SQL exactly as chooseBucket does, across ranges and bucket limits', async () => {
    // The recorded wall clocks of the sample (duplicates share their original's), as chooseBucket reads them.
    const times: number[] = [];
    for (let i = 0; i < N; i++) {
      const local = specOf(i - (specOf(i).sameAsPrevious ? 1 : 0)).meta?.takenAt?.local;
      if (local) times.push(Date.parse(`${local.replace(/^(\d{4}):(\d{2}):(\d{2}) /, '$1-$2-$3T')}Z`));
    }
    const wall = (ms: number) => new Date(ms).toISOString().slice(0, 19);
    const sorted = [...times].sort((a, b) => a - b);
    const windows: Array<[number, number] | null> = [null, [sorted[0]!, sorted[1]! + 1000], [sorted[3]!, sorted[9]! + 1000], [sorted[0]!, sorted[40]! + 1000]];
    let checked = 0;
    for (const w of windows) {
      const inside = w ? sorted.filter((t) => t >= w[0] && t < w[1]) : sorted;
      for (const maxBuckets of [2, 3, 5, 12, 30, 104, 200, 731, 5000, 200_000]) {
        const result = await review.timeline({ caseId: CASE, ...(w ? { takenLocalFrom: wall(w[0]), takenLocalTo: wall(w[1]) } : {}), maxBuckets });
        expect(result.withTakenAt).toBe(inside.length);
        expect(result.bucket, `window ${w ? w.map(wall).join('..') : 'all'}, at most ${maxBuckets}`).toBe(chooseBucket(inside[0]!, inside.at(-1)!, maxBuckets));
        checked++;
      }
    }
    expect(checked).toBe(40);
  });

  it('finds duplicates within the case, and collapses them to one file per content', async () => {
    const all = (await index.search({ caseId: CASE, limit: 500 })).items;
    const bySha = new Map<string, string[]>();
    for (const { file } of all) if (file.sha256) (bySha.get(file.sha256) ?? bySha.set(file.sha256, []).get(file.sha256)!).push(file.fileId);
    const dupIds = [...bySha.values()].filter((ids) => ids.length > 1).flat().sort();
    const only = await index.search({ caseId: CASE, duplicates: 'only', sort: 'sha256', limit: 500 });
    expect(only.items.map((i) => i.file.fileId).sort()).toEqual(dupIds);
    // Sorted by content: each content's occurrences side by side.
    const shas = only.items.map((i) => i.file.sha256);
    expect(shas).toEqual([...shas].sort());
    const collapsed = await index.search({ caseId: CASE, duplicates: 'collapse', limit: 500 });
    const withContent = collapsed.items.filter((i) => i.file.sha256);
    expect(withContent).toHaveLength(bySha.size);
    expect(new Set(withContent.map((i) => i.file.sha256)).size).toBe(bySha.size);
  });

  it('pages an export by keyset in exactly the search order, every file once', async () => {
    const expected = (await index.search({ caseId: CASE, sort: 'path', limit: 500 })).items.map((i) => i.file.fileId);
    const got: string[] = [];
    let after = null;
    let pages = 0;
    do {
      const page = await review.exportPage({ caseId: CASE }, after, 7);
      got.push(...page.rows.map((r) => r.file.fileId));
      after = page.next;
      pages += 1;
    } while (after && pages < 1000);
    expect(got).toEqual(expected);
    expect(await review.countFiles({ caseId: CASE }, 10)).toBe(11);
    expect(await review.countFiles({ caseId: CASE }, 100_000)).toBe(expected.length);
  });

  it('adds, finds, changes, refuses and removes tags; a tag filters the search', async () => {
    const f1 = files[1]!;
    const f2 = files[2]!;
    const added = await review.addTag({ caseId: CASE, fileId: f1.fileId, tag: 'weapon', note: 'knife', by: 'alice' });
    expect(added).toMatchObject({ fileId: f1.fileId, evidenceId: 'ev1', path: f1.path, tag: 'weapon', note: 'knife', createdBy: 'alice' });
    await expect(review.addTag({ caseId: CASE, fileId: f1.fileId, tag: 'weapon', note: '', by: 'bob' })).rejects.toSatisfy((e) => isExhibitError(e, 'conflict'));
    // A file of another case is not this case's.
    await expect(review.addTag({ caseId: 'case-other', fileId: f1.fileId, tag: 'x', note: '', by: 'bob' })).rejects.toSatisfy((e) => isExhibitError(e, 'not-found'));
    const second = await review.addTag({ caseId: CASE, fileId: f2.fileId, tag: 'weapon', note: '', by: 'bob' });
    await review.addTag({ caseId: CASE, fileId: f2.fileId, tag: 'vehicle', note: '', by: 'bob' });
    expect((await index.search({ caseId: CASE, tag: 'weapon' })).items.map((i) => i.file.fileId).sort()).toEqual([f1.fileId, f2.fileId].sort());
    expect((await index.search({ caseId: CASE, tagged: true })).total).toBe(2);
    expect((await index.search({ caseId: CASE, tagged: false })).total).toBe(N + 1 - 2);

    const { before, after } = await review.updateTag(CASE, added.tagId, { note: 'knife on the table', by: 'carol' });
    expect(before.note).toBe('knife');
    expect(after).toMatchObject({ note: 'knife on the table', updatedBy: 'carol', createdBy: 'alice', tag: 'weapon' });
    await expect(review.updateTag(CASE, second.tagId, { tag: 'vehicle', by: 'bob' })).rejects.toSatisfy((e) => isExhibitError(e, 'conflict'));
    await expect(review.updateTag('case-other', added.tagId, { note: 'x', by: 'eve' })).rejects.toSatisfy((e) => isExhibitError(e, 'not-found'));

    const list = await review.listTags({ caseId: CASE, limit: 50, offset: 0 });
    expect(list.total).toBe(3);
    expect(list.counts).toEqual([
      { tag: 'vehicle', count: 1 },
      { tag: 'weapon', count: 2 },
    ]);
    expect((await review.listTags({ caseId: CASE, fileId: f2.fileId, limit: 50, offset: 0 })).total).toBe(2);

    const removed = await review.removeTag(CASE, second.tagId);
    expect(await review.getTag(CASE, second.tagId)).toBeNull();
    await review.restoreTag(removed);
    expect(await review.getTag(CASE, second.tagId)).toEqual(removed);
    const page = await review.exportPage({ caseId: CASE, tagged: true }, null, 10);
    expect(page.rows.find((r) => r.file.fileId === f2.fileId)?.tags.map((t) => t.tag)).toEqual(['vehicle', 'weapon']);
  });

  it('lists access events from the custody index by user, file and action, with counts per user', async () => {
    const entry = (seq: number, actor: string, action: string, fileId: string | null, minute: number, extra: Record<string, unknown> = {}) => [
      CASE, 'ev1', seq, 0, `2024-05-01T10:${String(minute).padStart(2, '0')}:00Z`, actor, action,
      JSON.stringify({ caseId: CASE, evidenceId: 'ev1', ...(fileId ? { fileId } : {}) }),
      JSON.stringify({ path: fileId ? `path of ${fileId}` : undefined, ...extra }), 'k1', '0'.repeat(64), seq.toString(16).padStart(64, '0'),
    ];
    const rows = [
      entry(0, 'service:exhibit-pipeline', 'received', null, 0),
      entry(1, 'alice', 'view', 'F1', 1),
      entry(2, 'alice', 'download', 'F1', 2),
      entry(3, 'bob', 'view', 'F2', 3),
      entry(4, 'alice', 'view', 'F2', 4),
      entry(5, 'bob', 'export', null, 5, { exportId: '11111111-2222-4333-8444-555555555555', format: 'html', sha256: 'b'.repeat(64), bytes: 99, items: 3 }),
    ];
    for (const r of rows) {
      await sql.query(
        `INSERT INTO custody_entries (case_id, evidence_id, seq, segment, time, actor, action, subject, details, key_id, prev_hash, entry_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12)`,
        r,
      );
    }
    const actions = ['view', 'download', 'export'];
    const all = await review.accessEvents({ caseId: CASE, actions, limit: 50, offset: 0 });
    expect(all.total).toBe(5);
    expect(all.items.map((i) => i.seq)).toEqual([5, 4, 3, 2, 1]);
    const alice = await review.accessEvents({ caseId: CASE, actions, user: 'alice', limit: 50, offset: 0 });
    expect(alice.items.map((i) => `${i.action} ${i.fileId}`)).toEqual(['view F2', 'download F1', 'view F1']);
    const f1 = await review.accessEvents({ caseId: CASE, actions, fileId: 'F1', limit: 50, offset: 0 });
    expect(f1.items.map((i) => i.actor)).toEqual(['alice', 'alice']);
    expect(f1.items[0]?.path).toBe('path of F1');
    expect(all.byActor).toEqual([
      { actor: 'alice', action: 'download', count: 1, last: '2024-05-01T10:02:00.000Z' },
      { actor: 'alice', action: 'view', count: 2, last: '2024-05-01T10:04:00.000Z' },
      { actor: 'bob', action: 'export', count: 1, last: '2024-05-01T10:05:00.000Z' },
      { actor: 'bob', action: 'view', count: 1, last: '2024-05-01T10:03:00.000Z' },
    ]);
    const windowed = await review.accessEvents({ caseId: CASE, actions, from: '2024-05-01T10:02:00Z', to: '2024-05-01T10:03:00Z', limit: 50, offset: 0 });
    expect(windowed.items.map((i) => i.seq)).toEqual([3, 2]);
    expect(await review.getExport(CASE, '11111111-2222-4333-8444-555555555555')).toMatchObject({ format: 'html', sha256: 'b'.repeat(64), bytes: 99, items: 3, producedBy: 'bob' });
    expect(await review.getExport(CASE, '11111111-2222-4333-8444-000000000000')).toBeNull();
  });

  it('access-events-user-filter-missed-upn-in-other-case-or-renamed: filter by UPN any case, or by object id across renames', async () => {
    const OID = '0a0a0a0a-1111-2222-3333-444444444444';
    const entry = (seq: number, actor: string, details: Record<string, unknown>) => [
      'CASE-WHO', 'ev1', seq, 0, `2024-05-02T10:0${seq}:00Z`, actor, 'view', JSON.stringify({ caseId: 'CASE-WHO', evidenceId: 'ev1', fileId: 'F1' }),
      JSON.stringify(details), 'k1', '0'.repeat(64), (900 + seq).toString(16).padStart(64, '0'),
    ];
    const rows = [
      entry(1, 'Hana@Contoso.example', { authKind: 'entra', objectId: OID }),
      entry(2, 'hana.kato@contoso.example', { authKind: 'entra', objectId: OID }),
      entry(3, 'hana', { authKind: 'local' }),
    ];
    for (const r of rows) {
      await sql.query(
        `INSERT INTO custody_entries (case_id, evidence_id, seq, segment, time, actor, action, subject, details, key_id, prev_hash, entry_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12)`,
        r,
      );
    }
    const seqs = async (user: string) => (await review.accessEvents({ caseId: 'CASE-WHO', actions: ['view'], user, limit: 50, offset: 0 })).items.map((i) => i.seq);
    expect(await seqs('hana@contoso.example')).toEqual([1]);
    expect(await seqs(OID.toUpperCase())).toEqual([2, 1]);
    expect(await seqs('Hana')).toEqual([]);
    expect(await seqs('hana')).toEqual([3]);
  });

  it('older-migration-0210-entry-listed-as-the-bound-users-own-action', async () => {
    // Before access-events.ts left it out, a migration 0210 'assignment-change' entry carried the bound
    // account as 'objectId': the user filter by that object id listed the migration's change as theirs.
    const OID = '0b0b0b0b-1111-2222-3333-444444444444';
    const entry = (seq: number, actor: string, action: string, details: Record<string, unknown>) => [
      'CASE-0210', 'ev1', seq, 0, `2024-05-03T10:0${seq}:00Z`, actor, action, JSON.stringify({ caseId: 'CASE-0210', evidenceId: 'ev1' }),
      JSON.stringify(details), 'k1', '0'.repeat(64), (950 + seq).toString(16).padStart(64, '0'),
    ];
    const rows = [
      entry(1, 'migration 0210', 'assignment-change', { change: 'bound', user: OID, objectId: OID, recordedFor: 'migration 0210' }),
      entry(2, 'kim@contoso.example', 'assignment-change', { change: 'bound', user: 'kim@contoso.example', objectId: OID, userObjectId: OID, recordedFor: 'sign-in' }),
    ];
    for (const r of rows) {
      await sql.query(
        `INSERT INTO custody_entries (case_id, evidence_id, seq, segment, time, actor, action, subject, details, key_id, prev_hash, entry_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12)`,
        r,
      );
    }
    const seqs = async (user: string) => (await review.accessEvents({ caseId: 'CASE-0210', actions: ['assignment-change'], user, limit: 50, offset: 0 })).items.map((i) => i.seq);
    expect(await seqs(OID)).toEqual([2]);
    expect(await seqs('migration 0210')).toEqual([1]);
  });

  // Regression: the export record carried no complete/stoppedBy/planned, so an export cut short (its caller
  // unassigned mid-stream) read back exactly as a finished one: the hash of a partial report passed for a whole.
  it('export-record-cut-short-read-as-finished', async () => {
    const entry = (seq: number, details: Record<string, unknown>) => [
      CASE, 'ev1', seq, 0, `2024-05-01T11:${seq - 100}0:00Z`, 'carol', 'export', JSON.stringify({ caseId: CASE, evidenceId: 'ev1' }),
      JSON.stringify({ format: 'csv', sha256: 'c'.repeat(64), bytes: 4096, producedAt: '2024-05-01T11:00:00.000Z', ...details }),
      'k1', '0'.repeat(64), (100 + seq).toString(16).padStart(64, '0'),
    ];
    const cut = '22222222-2222-4333-8444-555555555555';
    const whole = '33333333-2222-4333-8444-555555555555';
    const old = '44444444-2222-4333-8444-555555555555';
    for (const r of [
      entry(100, { exportId: cut, items: 100, planned: 2000, complete: false, stoppedBy: 'access-revoked' }),
      entry(101, { exportId: whole, items: 7, planned: 7, complete: true }),
      // An entry that does not say it is complete is not taken as complete.
      entry(102, { exportId: old, items: 7 }),
    ]) {
      await sql.query(
        `INSERT INTO custody_entries (case_id, evidence_id, seq, segment, time, actor, action, subject, details, key_id, prev_hash, entry_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12)`,
        r,
      );
    }
    expect(await review.getExport(CASE, cut)).toEqual({
      exportId: cut, caseId: CASE, format: 'csv', sha256: 'c'.repeat(64), bytes: 4096, items: 100, producedBy: 'carol', producedAt: '2024-05-01T11:00:00.000Z',
      complete: false, stoppedBy: 'access-revoked', planned: 2000,
    });
    expect(await review.getExport(CASE, whole)).toMatchObject({ items: 7, planned: 7, complete: true });
    expect(await review.getExport(CASE, whole)).not.toHaveProperty('stoppedBy');
    expect(await review.getExport(CASE, old)).toMatchObject({ complete: false });
  });
});
