import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustodyEvent, IndexStore } from '@exhibit/core';
import { createPostgresIndex, openSqlClient, type SqlClient } from '../src/index.js';
import { HashSetStore } from '../src/hash-sets/hash-set-store.js';
import { pdqSets } from '../src/hash-sets/pdq-match.js';
import { hashesOf, member, newUpload, rootFile } from './fixtures.js';
import { DATABASE_URL, pgliteMemory, postgresServer } from './targets.js';

/**
 * PDQ hash lists as hash sets (docs/known-files.md, "PDQ hash lists"): the
 * same assertions on PGlite and on a PostgreSQL server without pgvector; both
 * match through the set's multi-index-hashing index (migration 0085).
 */
const CASE = 'case-pdq';
const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-hashset-pdq-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: string): string {
  const f = path.join(dir, `pdq-${n++}.txt`);
  writeFileSync(f, content);
  return f;
}

/** The hash with its first `bits` bits flipped: exactly that far from it. */
function flip(hex: string, bits: number): string {
  const b = [...Buffer.from(hex, 'hex')];
  for (let i = 0; i < bits; i++) b[i >> 3]! ^= 0x80 >> (i & 7);
  return Buffer.from(b).toString('hex');
}

const LISTED = hashesOf('listed picture').sha256;
const LISTED_VIDEO = hashesOf('listed scene').sha256;
const FLAT = '0'.repeat(64);
/** A list of unrelated PDQ hashes around the listed ones (random 256-bit values are ~128 bits apart). */
const filler = (count: number) => Array.from({ length: count }, (_, i) => `${hashesOf(`filler ${i}`).sha256},100,filler-${i}.jpg`).join('\n');

const CONTENT = {
  'near.jpg': hashesOf('near.jpg'),
  'clip.mp4': hashesOf('clip.mp4'),
  'far.jpg': hashesOf('far.jpg'),
  'flat.png': hashesOf('flat.png'),
  'late.jpg': hashesOf('late.jpg'),
} as const;
type Name = keyof typeof CONTENT;

describe.each([pgliteMemory(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])])('PDQ hash lists on $name', (target) => {
  let index: IndexStore;
  let sql: SqlClient;
  let sets: HashSetStore;
  const entries: CustodyEvent[] = [];
  const ids = new Map<string, string>();
  const paths = async (q: Parameters<IndexStore['search']>[0]) => (await index.search(q)).items.map((i) => i.file.name).sort();
  const sha = (name: Name) => CONTENT[name].sha256;

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    await index.migrate();
    const keys = new Set<string>();
    sets = new HashSetStore(sql, {
      custody: {
        record: async (e) => {
          if (keys.has(e.eventKey ?? '')) return;
          keys.add(e.eventKey ?? '');
          entries.push(e);
        },
      },
      toolVersion: 'test',
    });
    const up = newUpload(CASE, 'ev1', 'phone.zip');
    await index.recordUpload(up);
    const root = rootFile(up);
    const files = [root];
    (Object.keys(CONTENT) as Name[]).forEach((name, i) => {
      const f = member(root, i, name, { sha256: sha(name) });
      ids.set(name, f.fileId);
      files.push(f);
    });
    await index.insertFiles(files);
    for (const name of ['near.jpg', 'clip.mp4', 'far.jpg', 'flat.png'] as const) {
      await index.ensureContent({ ...CONTENT[name], size: 10, source: { container: 'derived', name: sha(name) } });
    }
    // A picture 6 bits from the listed one; a video whose third frame is 12 bits from the listed scene
    // (and whose other frames are unrelated); a picture 40 bits away; a flat picture with the listed flat hash.
    await index.setPdq(sha('near.jpg'), [{ frame: 0, hash: flip(LISTED, 6), quality: 100 }]);
    await index.setPdq(sha('clip.mp4'), [
      { frame: 0, hash: hashesOf('clip 0').sha256, quality: 90, timeMs: 1500 },
      { frame: 1, hash: hashesOf('clip 1').sha256, quality: 90, timeMs: 4500 },
      { frame: 2, hash: flip(LISTED_VIDEO, 12), quality: 90, timeMs: 7500 },
    ]);
    // Its kind as the identify stage records it: a video's frames are named as video frames (pdq.video).
    await sql.query(`UPDATE contents SET kind = 'video', mime = 'video/mp4' WHERE sha256 = $1`, [sha('clip.mp4')]);
    await index.setPdq(sha('far.jpg'), [{ frame: 0, hash: flip(LISTED, 40), quality: 100 }]);
    await index.setPdq(sha('flat.png'), [{ frame: 0, hash: FLAT, quality: 0 }]);
  });
  afterAll(async () => {
    await index?.close();
    await target.dispose();
  });

  it('refuses a list with a malformed row whole, naming the line, and leaves nothing behind', async () => {
    const f = file(`${LISTED},100,a.jpg\n${LISTED},101,b.jpg\n${LISTED.slice(2)},100,c.jpg\n`);
    await expect(sets.import(f, { name: 'PDQ list', kind: 'known-bad', importedBy: 'dc.smith' })).rejects.toThrow(/2 malformed row.*line 2: PDQ quality.*line 3: a PDQ hash is 64/);
    expect(await sets.list({ includeSuperseded: true })).toEqual([]);
    const { rows } = await sql.query(`SELECT 1 FROM pg_class WHERE relname ~ '^hash_set_hashes_[0-9]'`);
    expect(rows).toEqual([]);
  });

  it('refuses --max-distance for an exact-digest set, and a distance out of range', async () => {
    await expect(sets.import(file(`${CONTENT['far.jpg'].md5}\n`), { name: 'md5s', kind: 'known-bad', importedBy: 'x', maxDistance: 10 })).rejects.toThrow(/PDQ lists only/);
    await expect(sets.import(file(`${LISTED},100,a.jpg\n`), { name: 'PDQ list', kind: 'known-bad', importedBy: 'x', maxDistance: 257 })).rejects.toThrow(/0 to 256/);
    // Likeness is no identity: a PDQ list may never hide files as known-good.
    await expect(sets.import(file(`${LISTED},100,a.jpg\n`), { name: 'Stock photos', kind: 'known-good', importedBy: 'x' })).rejects.toThrow(/cannot be imported as known-good/);
    expect(await sets.list({ includeSuperseded: true })).toEqual([]);
  });

  it('imports a PDQ list and matches every existing content by distance: the picture, the video frame, not the far or flat one', async () => {
    const f = file(`${filler(1500)}\n${LISTED},100,/seized/a, b.jpg\n${LISTED_VIDEO},87,scene 12\n${FLAT},0,flat\n`);
    const r = await sets.import(f, { name: 'PDQ list', kind: 'known-bad', version: '2026-12', importedBy: 'dc.smith' });
    expect(r.set).toMatchObject({ format: 'pdq-list', maxDistance: 31, rowCount: 1503, state: 'active', matchDone: true, matchedContents: 2 });
    // Matched through the list's multi-index-hashing index, on PGlite and on the server alike; no HNSW index any more.
    const [set] = await pdqSets(sql, 's.set_id = $1', [r.set.setId]);
    expect(set?.method).toBe('mih');
    const { rows: indexes } = await sql.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname`, [`hash_set_hashes_${r.set.setId}`]);
    expect(indexes.map((i) => i.indexname)).toContain(`hash_set_hashes_${r.set.setId}_pdq_mih_idx`);
    expect(indexes.map((i) => i.indexname).filter((n) => n.includes('hnsw'))).toEqual([]);

    const near = await index.knownFileMatches(ids.get('near.jpg')!);
    expect(near).toEqual([{
      sha256: sha('near.jpg'), setId: r.set.setId, name: 'PDQ list', version: '2026-12', kind: 'known-bad', category: null, categoryName: null, matchedOn: 'pdq',
      pdq: { distance: 6, maxDistance: 31, frame: 0, timeMs: null, video: false, listedHash: LISTED, label: '/seized/a, b.jpg' },
    }]);
    const clip = await index.knownFileMatches(ids.get('clip.mp4')!);
    expect(clip.map((m) => m.pdq)).toEqual([{ distance: 12, maxDistance: 31, frame: 2, timeMs: 7500, video: true, listedHash: LISTED_VIDEO, label: 'scene 12' }]);
    expect(await index.knownFileMatches(ids.get('far.jpg')!)).toEqual([]);
    // Quality 0: a flat picture's hash means nothing, even when it equals a listed one.
    expect(await index.knownFileMatches(ids.get('flat.png')!)).toEqual([]);

    const status = await index.evidenceStatus(CASE, 'ev1');
    expect(status?.knownFiles).toEqual({ knownBad: 2, notable: 0, knownGood: 0 });
    expect(status?.findings.filter((x) => x.flag === 'known-bad').map((x) => [x.path, x.detail])).toEqual([
      ['phone.zip!/clip.mp4', `in known-bad hash set "PDQ list" version 2026-12; matched on PDQ, distance 12 of 256 bits (set limit 31) on video frame 2 at 7.500 s, listed hash ${LISTED_VIDEO} ("scene 12")`],
      ['phone.zip!/near.jpg', `in known-bad hash set "PDQ list" version 2026-12; matched on PDQ, distance 6 of 256 bits (set limit 31) on the picture, listed hash ${LISTED} ("/seized/a, b.jpg")`],
    ]);
    expect(await paths({ caseId: CASE, known: 'bad' })).toEqual(['clip.mp4', 'near.jpg']);

    // One custody entry per file, with the distance, frame and listed hash.
    const known = entries.filter((e) => e.action === 'known-file-match');
    expect(known.map((e) => [e.subject?.fileId, (e.details as { pdq?: { distance: number } }).pdq?.distance]).sort()).toEqual(
      [[ids.get('clip.mp4'), 12], [ids.get('near.jpg'), 6]].sort(),
    );
    expect(known.find((e) => e.subject?.fileId === ids.get('near.jpg'))?.details).toMatchObject({
      set: 'PDQ list', matchedOn: 'pdq', pdq: { distance: 6, maxDistance: 31, frame: 0, listedHash: LISTED },
    });
  });

  it('matches a content indexed after the import (the pipeline call), from its recorded PDQ hash', async () => {
    await index.ensureContent({ ...CONTENT['late.jpg'], size: 10, source: { container: 'derived', name: sha('late.jpg') } });
    await index.setPdq(sha('late.jpg'), [{ frame: 0, hash: flip(LISTED, 31), quality: 80 }]);
    const byFile = await index.matchFilesAgainstHashSets([ids.get('late.jpg')!, ids.get('far.jpg')!]);
    expect(byFile.get(ids.get('late.jpg')!)?.map((m) => [m.matchedOn, m.pdq?.distance])).toEqual([['pdq', 31]]);
    expect(byFile.get(ids.get('far.jpg')!)).toEqual([]);
    expect(await index.matchFileAgainstHashSets(ids.get('late.jpg')!)).toEqual(byFile.get(ids.get('late.jpg')!));
  });

  it('a set-level max distance narrows what matches', async () => {
    const r = await sets.import(file(`${LISTED},100,tight\n`), { name: 'Tight', kind: 'notable', importedBy: 'dc.smith', maxDistance: 8 });
    expect(r.set).toMatchObject({ maxDistance: 8, matchedContents: 1 });
    expect((await index.knownFileMatches(ids.get('near.jpg')!)).map((m) => m.name)).toEqual(['PDQ list', 'Tight']);
    expect((await index.knownFileMatches(ids.get('late.jpg')!)).map((m) => m.name)).toEqual(['PDQ list']);
  });

  it('disabling withdraws the matches with custody; enabling re-matches', async () => {
    await sets.setEnabled('PDQ list', false);
    expect(await paths({ caseId: CASE, known: 'bad' })).toEqual([]);
    expect(entries.filter((e) => e.action === 'known-file-match-withdrawn').map((e) => e.subject?.fileId).sort()).toEqual(
      [ids.get('clip.mp4'), ids.get('late.jpg'), ids.get('near.jpg')].sort(),
    );
    const enabled = await sets.setEnabled('PDQ list', true);
    expect(await sets.rematch(enabled.setId, { batchContents: 2 })).toBe(3);
    expect(await sets.rematch(enabled.setId)).toBe(0);
    expect(await paths({ caseId: CASE, known: 'bad' })).toEqual(['clip.mp4', 'late.jpg', 'near.jpg']);
  });

  it('reads a list of bare hashes as PDQ when told, and as SHA-256 otherwise', async () => {
    const f = file(`${LISTED}\n`);
    expect((await sets.import(f, { name: 'Bare', kind: 'notable', importedBy: 'x' })).set).toMatchObject({ format: 'hash-list', maxDistance: null, matchedContents: 0 });
    expect((await sets.import(f, { name: 'Bare', kind: 'notable', importedBy: 'x', format: 'pdq-list' })).set).toMatchObject({ format: 'pdq-list', maxDistance: 31, matchedContents: 2 });
  });
});
