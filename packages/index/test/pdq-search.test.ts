import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewFile } from '@exhibit/core';
import { openSqlClient, PostgresIndex, type SqlClient } from '../src/index.js';
import { hashesOf, member, newUpload, pdqDistance, rootFile } from './fixtures.js';
import { allTargets } from './targets.js';

/** A deterministic 256-bit hash from a seed. */
function hashOf(seed: string): string {
  return hashesOf(seed).sha256;
}

/** `hash` with `bits` of its bits flipped (distinct positions, chosen by `seed`). */
function flipped(hash: string, bits: number, seed: string): string {
  const bytes = Buffer.from(hash, 'hex');
  const order = Array.from({ length: 256 }, (_, i) => i).sort((a, b) => (hashOf(`${seed}/${a}`) < hashOf(`${seed}/${b}`) ? -1 : 1));
  for (const bit of order.slice(0, bits)) bytes[bit >> 3]! ^= 0x80 >> (bit & 7);
  return bytes.toString('hex');
}

const distance = pdqDistance;

const QUERY = hashOf('the query picture');
/** Near copies planted in case A (distances 0..40), one in case B, and unrelated hashes. */
const NEAR = [0, 1, 5, 12, 20, 31, 32, 40].map((d) => ({ name: `near-${d}.jpg`, hash: flipped(QUERY, d, `near${d}`), distance: d }));

describe.each(allTargets())('PDQ storage and similar-image search on $name', (target) => {
  let sql: SqlClient;
  let index: PostgresIndex;
  /** Every hash recorded in case A, by content sha256. */
  const inCaseA = new Map<string, string>();
  const pathOf = new Map<string, string>();

  async function addCase(caseId: string, pictures: Array<{ name: string; hash: string }>, sameContentAs?: Map<string, string>) {
    const up = newUpload(caseId, 'ev1', `${caseId}.zip`);
    await index.recordUpload(up);
    const root = rootFile(up);
    const files: NewFile[] = [root];
    const contents: Array<{ sha256: string; hash: string }> = [];
    pictures.forEach((p, i) => {
      const sha256 = sameContentAs?.get(p.name) ?? hashesOf(`${caseId}/${p.name}`).sha256;
      files.push(member(root, i, p.name, { sha256 }));
      contents.push({ sha256, hash: p.hash });
      pathOf.set(sha256, p.name);
    });
    await index.insertFiles(files);
    for (const c of contents) {
      const h = hashesOf(c.sha256);
      await index.ensureContent({ sha256: c.sha256, md5: h.md5, sha1: h.sha1, size: 100, source: { container: 'derived', name: `content/${c.sha256}` } });
      await index.setPdq(c.sha256, [{ frame: 0, hash: c.hash, quality: 90 }]);
    }
    return contents;
  }

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = new PostgresIndex(sql);
    await index.migrate();
    const random = Array.from({ length: 400 }, (_, i) => ({ name: `other-${i}.jpg`, hash: randomBytes(32).toString('hex') }));
    for (const c of await addCase('case-a', [...NEAR, ...random])) inCaseA.set(c.sha256, c.hash);
    // Case B holds a copy of near-5's content (same bytes) and its own near copy; no search of case A alone may return them.
    const nearFiveSha = [...inCaseA].find(([sha]) => pathOf.get(sha) === 'near-5.jpg')![0];
    await addCase('case-b', [{ name: 'near-5.jpg', hash: NEAR[2]!.hash }, { name: 'b-near-3.jpg', hash: flipped(QUERY, 3, 'b3') }], new Map([['near-5.jpg', nearFiveSha]]));
  }, 120_000);

  afterAll(async () => {
    await sql?.close();
    await target.dispose();
  });

  it('uses the multi-index-hashing index up to 31 bits and scans beyond, and says so; no HNSW index any more', async () => {
    expect((await index.similarByPdq({ hash: QUERY, caseIds: ['case-a'], maxDistance: 31 })).method).toBe('mih');
    expect((await index.similarByPdq({ hash: QUERY, caseIds: ['case-a'], maxDistance: 32 })).method).toBe('scan');
    const { rows } = await sql.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE tablename = 'content_pdq' ORDER BY indexname`);
    expect(rows.map((r) => r.indexname)).toEqual(['content_pdq_mih_idx', 'content_pdq_pkey']);
  });

  it('finds exactly the hashes within the distance, nearest first, in the given cases only', async () => {
    const result = await index.similarByPdq({ hash: QUERY, caseIds: ['case-a'], maxDistance: 31 });
    const expected = [...inCaseA].map(([sha, hash]) => ({ sha, d: distance(hash, QUERY) })).filter((x) => x.d <= 31).sort((a, b) => a.d - b.d || (a.sha < b.sha ? -1 : 1));
    expect(expected.map((e) => e.d)).toEqual([0, 1, 5, 12, 20, 31]);
    expect(result.items.map((i) => [i.sha256, i.distance])).toEqual(expected.map((e) => [e.sha, e.d]));
    for (const item of result.items) {
      expect(item.files.map((f) => f.caseId)).toEqual(['case-a']);
      expect(item.files[0]!.path).toBe(`case-a.zip!/${pathOf.get(item.sha256)}`);
      expect(item.quality).toBe(90);
      expect(item.frame).toBe(0);
    }
  });

  it('lists a content in every allowed case it occurs in, and never a case it was not asked for', async () => {
    const both = await index.similarByPdq({ hash: QUERY, caseIds: ['case-a', 'case-b'], maxDistance: 5 });
    expect(both.items.map((i) => [pathOf.get(i.sha256), i.distance, i.files.map((f) => f.caseId).sort()])).toEqual([
      ['near-0.jpg', 0, ['case-a']],
      ['near-1.jpg', 1, ['case-a']],
      ['b-near-3.jpg', 3, ['case-b']],
      ['near-5.jpg', 5, ['case-a', 'case-b']],
    ]);
    const onlyB = await index.similarByPdq({ hash: QUERY, caseIds: ['case-b'], maxDistance: 31 });
    expect(onlyB.items.map((i) => [pathOf.get(i.sha256), i.files.map((f) => f.caseId)])).toEqual([
      ['b-near-3.jpg', ['case-b']],
      ['near-5.jpg', ['case-b']],
    ]);
    expect((await index.similarByPdq({ hash: QUERY, caseIds: [], maxDistance: 256 })).items).toEqual([]);
    expect((await index.similarByPdq({ hash: QUERY, caseIds: ['no-such-case'], maxDistance: 256 })).items).toEqual([]);
  });

  it('honours the limit and distance 0', async () => {
    expect((await index.similarByPdq({ hash: QUERY, caseIds: ['case-a'], maxDistance: 40, limit: 3 })).items.map((i) => i.distance)).toEqual([0, 1, 5]);
    expect((await index.similarByPdq({ hash: QUERY, caseIds: ['case-a'], maxDistance: 0 })).items.map((i) => pathOf.get(i.sha256))).toEqual(['near-0.jpg']);
  });

  it('stores and replaces a content’s hashes (frames of a video), and refuses malformed ones', async () => {
    const sha = [...inCaseA.keys()][0]!;
    await index.setPdq(sha, [{ frame: 0, hash: 'a'.repeat(64), quality: 10 }, { frame: 3, hash: 'F'.repeat(64), quality: 100 }]);
    expect(await index.getPdq(sha)).toEqual([{ frame: 0, hash: 'a'.repeat(64), quality: 10 }, { frame: 3, hash: 'f'.repeat(64), quality: 100 }]);
    await index.setPdq(sha, [{ frame: 0, hash: inCaseA.get(sha)!, quality: 90 }]);
    expect(await index.getPdq(sha)).toEqual([{ frame: 0, hash: inCaseA.get(sha)!, quality: 90 }]);
    await expect(index.setPdq(sha, [{ frame: 0, hash: 'xyz', quality: 1 }])).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(index.setPdq(sha, [{ frame: 0, hash: 'a'.repeat(64), quality: 101 }])).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(index.similarByPdq({ hash: QUERY, caseIds: ['case-a'], maxDistance: 257 })).rejects.toMatchObject({ code: 'invalid-argument' });
    expect(await index.getPdq(sha)).toEqual([{ frame: 0, hash: inCaseA.get(sha)!, quality: 90 }]);
  });
});
