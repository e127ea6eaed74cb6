import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewFile } from '@exhibit/core';
import { openSqlClient, PostgresIndex, type SqlClient } from '../src/index.js';
import { similarByPdq } from '../src/index-store.pdq.js';
import { HashSetStore } from '../src/hash-sets/hash-set-store.js';
import { PDQ_MATCH_MIN_QUALITY, pdqMatchSelect, pdqSets } from '../src/hash-sets/pdq-match.js';
import { PDQ_MIH_MAX_DISTANCE } from '../src/pdq-mih.query.js';
import { hashesOf, member, newUpload, pdqDistance, rootFile } from './fixtures.js';
import { DATABASE_URL, pgliteMemory, postgresServer } from './targets.js';

/**
 * Multi-index hashing (migration 0085) is exact: its results equal a brute
 * force over the same hashes computed here, for uniform random hashes,
 * near-duplicate clusters, skewed data (one hash many times, the all-zero and
 * all-one hashes), and the pigeonhole's edge cases: a hash exactly r bits away
 * with its differences spread so that only one chunk is within floor(r / 16)
 * bits (the only chunk the index can find it by), and r + 1 bits away spread
 * so that no chunk is. The same for PDQ lists, at several per-set distances.
 */

const SEED = 0x5eed14;
/** Deterministic random bytes (a SHA-256 chain from the seed, which is in the test's name), so a failure can be replayed. */
let state = createHash('sha256').update(String(SEED)).digest();
let used = 0;
function byte(): number {
  if (used === state.length) {
    state = createHash('sha256').update(state).digest();
    used = 0;
  }
  return state[used++]!;
}
const int = (n: number) => Math.floor((((byte() << 16) | (byte() << 8) | byte()) / 2 ** 24) * n);
const randomHash = () => Buffer.from(Array.from({ length: 32 }, byte)).toString('hex');

function flipBits(hash: string, bits: readonly number[]): string {
  const b = Buffer.from(hash, 'hex');
  for (const bit of bits) b[bit >> 3]! ^= 0x80 >> (bit & 7);
  return b.toString('hex');
}

/** `d` distinct random bits flipped anywhere. */
function near(hash: string, d: number): string {
  const bits = new Set<number>();
  while (bits.size < d) bits.add(int(256));
  return flipBits(hash, [...bits]);
}

/**
 * `d` bits flipped as evenly as the 16 chunks of 16 bits allow (chunk c gets
 * floor(d/16), plus one for the first d mod 16 chunks, at random places in
 * it): the hardest case for the index, since every chunk is as far as it can
 * be. At d = 31 one chunk is 1 bit away and the rest 2; at d = 32 all are 2.
 */
function spread(hash: string, d: number): string {
  const bits: number[] = [];
  for (let c = 0; c < 16; c++) {
    const n = Math.floor(d / 16) + (c < d % 16 ? 1 : 0);
    const inChunk = new Set<number>();
    while (inChunk.size < n) inChunk.add(int(16));
    for (const i of inChunk) bits.push(c * 16 + i);
  }
  return flipBits(hash, bits);
}

const distance = pdqDistance;

/** The radii tested: each chunk radius's edge (15 | 16, 31 | 32) and a few more. */
const RADII = [0, 1, 2, 15, 16, 30, 31, 32, 33, 40];

const CENTERS = Array.from({ length: 8 }, randomHash);
const SKEWED = randomHash();
const ZERO = '0'.repeat(64);
const ONES = 'f'.repeat(64);

interface Stored {
  sha256: string;
  frame: number;
  hash: string;
  quality: number;
}

/** The contents' PDQ rows: random, clusters around CENTERS, edge cases, skew; some videos with several frames. */
function buildStored(): Stored[] {
  const hashes: string[] = [];
  for (let i = 0; i < 500; i++) hashes.push(randomHash());
  for (const c of CENTERS) {
    hashes.push(c);
    for (let i = 0; i < 25; i++) hashes.push(near(c, int(45)));
    for (const r of RADII) hashes.push(spread(c, r), spread(c, r + 1), near(c, r), near(c, r + 1));
  }
  for (let i = 0; i < 120; i++) hashes.push(SKEWED);
  for (let i = 0; i < 20; i++) hashes.push(near(SKEWED, 1 + int(3)));
  hashes.push(ZERO, ZERO, ONES, spread(ZERO, 31), spread(ZERO, 32), spread(ONES, 16));
  const rows: Stored[] = [];
  let i = 0;
  while (i < hashes.length) {
    const sha256 = hashesOf(`pdq-mih content ${rows.length}/${i}`).sha256;
    // One content in seven is a video with up to 4 frames; a few frames are of low quality.
    const frames = i % 7 === 0 ? 1 + int(4) : 1;
    for (let f = 0; f < frames && i < hashes.length; f++, i++) {
      rows.push({ sha256, frame: f, hash: hashes[i]!, quality: i % 13 === 0 ? 30 : 90 });
    }
  }
  return rows;
}

/** Queries: each center, their edge-distance relatives, random hashes, the skewed hash, zero and ones. */
function buildQueries(): string[] {
  return [...CENTERS, ...CENTERS.slice(0, 3).map((c) => spread(c, 31)), ...Array.from({ length: 6 }, randomHash), SKEWED, near(SKEWED, 2), ZERO, ONES];
}

const STORED = buildStored();
const QUERIES = buildQueries();
const CASE = 'case-mih';

describe.each([pgliteMemory(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])])(`PDQ multi-index hashing is exact on $name (seed ${SEED})`, (target) => {
  let sql: SqlClient;
  let index: PostgresIndex;
  const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-pdq-mih-'));

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = new PostgresIndex(sql);
    await index.migrate();
    const up = newUpload(CASE, 'ev1', 'pictures.zip');
    await index.recordUpload(up);
    const root = rootFile(up);
    const shas = [...new Set(STORED.map((s) => s.sha256))];
    const files: NewFile[] = [root, ...shas.map((sha256, i) => member(root, i, `DCIM/${i}.jpg`, { sha256 }))];
    await sql.query(
      `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, kind)
       SELECT s, substr(s, 1, 32), substr(s, 1, 40), 100, 'derived', 'content/' || s, 'image' FROM unnest($1::text[]) AS s`,
      [shas],
    );
    await index.insertFiles(files);
    // As the analyse stage writes them, through the index's own write: the GIN index keeps itself up to date.
    const bySha = new Map<string, Stored[]>();
    for (const s of STORED) bySha.set(s.sha256, [...(bySha.get(s.sha256) ?? []), s]);
    for (const [sha256, rows] of bySha) await index.setPdq(sha256, rows.map((r) => ({ frame: r.frame, hash: r.hash, quality: r.quality })));
  }, 300_000);

  afterAll(async () => {
    await sql?.close();
    await target.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What the search must answer: every stored frame within r, by distance, content, frame. */
  function bruteForce(query: string, r: number): Array<[string, number, number]> {
    return STORED.map((s) => ({ ...s, d: distance(s.hash, query) }))
      .filter((s) => s.d <= r)
      .sort((a, b) => a.d - b.d || (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0) || a.frame - b.frame)
      .map((s) => [s.sha256, s.frame, s.d]);
  }

  it('the test data holds every edge: hashes exactly r and r + 1 bits from a query, spread to the pigeonhole limit', () => {
    for (const r of RADII) {
      expect(STORED.some((s) => distance(s.hash, CENTERS[0]!) === r)).toBe(true);
      expect(STORED.some((s) => distance(s.hash, CENTERS[0]!) === r + 1)).toBe(true);
    }
    expect(STORED.filter((s) => s.hash === SKEWED).length).toBe(120);
  });

  it('similar-image search equals the brute force at every radius, by the index (up to 31) and by the scan', async () => {
    let compared = 0;
    for (const query of QUERIES) {
      for (const r of RADII) {
        const expected = bruteForce(query, r);
        const methods = r <= PDQ_MIH_MAX_DISTANCE ? (['mih', 'scan'] as const) : (['scan'] as const);
        for (const method of methods) {
          const result = await similarByPdq(sql, { hash: query, caseIds: [CASE], maxDistance: r, limit: 1000 }, { method });
          expect(result.method).toBe(method);
          expect(result.items.map((i) => [i.sha256, i.frame, i.distance]), `${method}, r ${r}, query ${query}`).toEqual(expected);
          compared += expected.length;
        }
        // The port's choice: the index up to 31 bits, the scan beyond.
        expect((await index.similarByPdq({ hash: query, caseIds: [CASE], maxDistance: r, limit: 1 })).method).toBe(r <= 31 ? 'mih' : 'scan');
      }
    }
    // Not a vacuous comparison: many hashes were within the radii.
    expect(compared).toBeGreaterThan(1000);
    await expect(similarByPdq(sql, { hash: QUERIES[0]!, caseIds: [CASE], maxDistance: 32 }, { method: 'mih' })).rejects.toMatchObject({ code: 'invalid-argument' });
  }, 300_000);

  it('PDQ lists match exactly the brute force at per-set distances 0, 15, 16, 31 (index) and 32, 40 (scan)', async () => {
    // The list: the centers, their edge relatives, random hashes, the skewed hash many times, zero.
    const listed = [
      ...CENTERS.map((c, i) => `${c},100,center ${i}`),
      ...CENTERS.flatMap((c, i) => [15, 16, 31, 32].map((r) => `${spread(c, r)},100,center ${i} spread ${r}`)),
      ...Array.from({ length: 300 }, (_, i) => `${randomHash()},100,random ${i}`),
      ...Array.from({ length: 30 }, () => `${SKEWED},100,skewed`),
      `${ZERO},100,zero`,
    ];
    const listedHashes = listed.map((l) => l.split(',')[0]!);
    const labelOf = new Map(listed.map((l) => [l.split(',')[0]!, l.split(',').slice(2).join(',')]));
    const file = path.join(dir, 'list.pdq');
    writeFileSync(file, listed.join('\n') + '\n');
    const sets = new HashSetStore(sql, { custody: { record: async () => {} }, toolVersion: 'test' });
    for (const maxDistance of [0, 15, 16, 31, 32, 40]) {
      const r = await sets.import(file, { name: `list ${maxDistance}`, kind: 'notable', importedBy: 'test', format: 'pdq-list', maxDistance });
      const [set] = await pdqSets(sql, 's.set_id = $1', [r.set.setId]);
      expect(set?.method).toBe(maxDistance <= 31 ? 'mih' : 'scan');
      // Brute force: per content, the nearest listed hash within the distance over its frames of quality >= 50;
      // ties by the lowest frame, then the lowest listed hash.
      const expected = new Map<string, { d: number; frame: number; listed: string }>();
      for (const s of STORED) {
        if (s.quality < PDQ_MATCH_MIN_QUALITY) continue;
        for (const h of listedHashes) {
          const d = distance(s.hash, h);
          if (d > maxDistance) continue;
          const prev = expected.get(s.sha256);
          if (!prev || d < prev.d || (d === prev.d && (s.frame < prev.frame || (s.frame === prev.frame && h < prev.listed)))) {
            expected.set(s.sha256, { d, frame: s.frame, listed: h });
          }
        }
      }
      const { rows } = await sql.query<{ sha256: string; pdq_distance: number; pdq_frame: number; pdq_label: string }>(
        'SELECT sha256, pdq_distance, pdq_frame, pdq_label FROM hash_set_matches WHERE set_id = $1 ORDER BY sha256',
        [r.set.setId],
      );
      const got = rows.map((m) => [m.sha256, Number(m.pdq_distance), Number(m.pdq_frame), m.pdq_label]);
      const want = [...expected].sort(([a], [b]) => (a < b ? -1 : 1)).map(([sha, e]) => [sha, e.d, e.frame, labelOf.get(e.listed)]);
      expect(got, `set max distance ${maxDistance}`).toEqual(want);
      expect(want.length).toBeGreaterThan(maxDistance === 0 ? 5 : 20);
      // And the other method over the same set gives the same rows (the index's and the scan's answer agree).
      if (set!.method === 'mih') {
        const { rows: scanned } = await sql.query<{ sha256: string; pdq_distance: number; pdq_frame: number; pdq_label: string }>(
          `SELECT * FROM (${pdqMatchSelect({ ...set!, method: 'scan' }, 'true')}) m ORDER BY sha256`,
        );
        expect(scanned.map((m) => [m.sha256, Number(m.pdq_distance), Number(m.pdq_frame), m.pdq_label])).toEqual(want);
      }
    }
  }, 300_000);
});
