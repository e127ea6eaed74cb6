import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openHashSetFile } from '../../packages/index/src/hash-sets/hash-set-file.js';
import type { HashSetRow, RowError } from '../../packages/index/src/hash-sets/hash-set.types.js';
import { KNOWN_HASH_LIST_HEADER, knownHashListChunks, plantedPositions, rowShape, writeKnownHashList, type PlantedRow } from './known-hash-list.builder.js';

const text = (o: Parameters<typeof knownHashListChunks>[0]) => [...knownHashListChunks(o)].join('');

const planted: PlantedRow[] = [
  { md5: null, sha1: null, sha256: 'ab'.repeat(32), size: 10 },
  { md5: null, sha1: 'cd'.repeat(20), sha256: null, size: null },
  { md5: 'ef'.repeat(16), sha1: null, sha256: null, size: 7 },
];

describe('synthetic known-hash list', () => {
  const dir = mkdtemp(path.join(tmpdir(), 'known-hash-list-'));
  afterAll(async () => rm(await dir, { recursive: true, force: true }));

  it('is the same text for the same seed, however it is batched, and another for another seed', () => {
    const a = text({ rows: 1000, seed: 's', planted, batchRows: 7 });
    expect(text({ rows: 1000, seed: 's', planted, batchRows: 1000 })).toBe(a);
    expect(text({ rows: 1000, seed: 's', planted, batchRows: 64 })).toBe(a);
    expect(text({ rows: 1000, seed: 't', planted })).not.toBe(a);
    // Planting rows does not move the generated ones.
    const plain = text({ rows: 1000, seed: 's' }).split('\n');
    const withPlanted = a.split('\n').filter((l) => !l.startsWith(';;abab') && !l.startsWith(';cdcd') && !l.startsWith('efef'));
    expect(withPlanted).toEqual(plain);
  });

  it('mixes the digests as the row shapes say: 60 % all three, 25 % MD5 + SHA-1, 10 % MD5, 5 % SHA-256', () => {
    const shapes = Array.from({ length: 20 }, (_, i) => rowShape(i));
    expect(shapes.filter((s) => s === 'all')).toHaveLength(12);
    expect(shapes.filter((s) => s === 'md5-sha1')).toHaveLength(5);
    expect(shapes.filter((s) => s === 'md5')).toHaveLength(2);
    expect(shapes.filter((s) => s === 'sha256')).toHaveLength(1);
  });

  it('spreads the planted rows through the list, each once', () => {
    expect(plantedPositions(100, 3)).toEqual([25, 50, 75]);
    expect(plantedPositions(0, 2)).toEqual([0, 0]);
    const lines = text({ rows: 100, seed: 's', planted, batchRows: 9 }).trimEnd().split('\n');
    expect(lines[0]).toBe(KNOWN_HASH_LIST_HEADER);
    expect(lines).toHaveLength(1 + 100 + 3);
    expect(lines[1 + 25]).toBe(`;;${'ab'.repeat(32)};10`);
    expect(lines[1 + 50 + 1]).toBe(`;${'cd'.repeat(20)};;`);
    expect(lines[1 + 75 + 2]).toBe(`${'ef'.repeat(16)};;;7`);
    expect(text({ rows: 0, seed: 's', planted }).trimEnd().split('\n')).toHaveLength(4);
  });

  it('is read by the importer as an ICSE CSV with no malformed row, with the mix and the planted rows as written', async () => {
    const file = path.join(await dir, 'list.csv');
    const bytes = await writeKnownHashList(file, { rows: 2000, seed: 'import', planted, batchRows: 333 });
    expect(bytes).toBe((await readFile(file)).length);
    const reader = await openHashSetFile(file);
    expect(reader.info.format).toBe('icse-csv');
    const errors: RowError[] = [];
    const rows: HashSetRow[] = [];
    for await (const batch of reader.rows((e) => errors.push(e))) rows.push(...batch);
    expect(errors).toEqual([]);
    expect(rows).toHaveLength(2003);
    const count = (f: (r: HashSetRow) => boolean) => rows.filter(f).length;
    expect(count((r) => r.md5 !== null && r.sha1 !== null && r.sha256 !== null)).toBe(1200);
    expect(count((r) => r.md5 !== null && r.sha1 !== null && r.sha256 === null)).toBe(500);
    expect(count((r) => r.md5 !== null && r.sha1 === null && r.sha256 === null)).toBe(201);
    expect(count((r) => r.md5 === null && r.sha1 === null && r.sha256 !== null)).toBe(101);
    expect(count((r) => r.md5 === null && r.sha1 !== null && r.sha256 === null)).toBe(1);
    expect(rows.some((r) => r.sha256 === 'ab'.repeat(32) && r.size === 10)).toBe(true);
    // Random digests of 2,000 rows do not collide.
    expect(new Set(rows.map((r) => r.md5).filter((d) => d !== null)).size).toBe(1200 + 500 + 200 + 1);
  });
});
