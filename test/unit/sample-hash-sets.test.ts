import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pdqDistance, pdqFromImage } from '../../packages/media/src/index.js';
import { openHashSetFile } from '../../packages/index/src/hash-sets/hash-set-file.js';
import type { HashSetRow, RowError } from '../../packages/index/src/hash-sets/hash-set.types.js';
import { caseFiles, committedUploads, SAMPLES_DIR } from '../../samples/generate.js';
import { digests } from '../../samples/lib/digests.js';
import { SAMPLE_HASH_SETS, writeSampleHashSets } from '../../samples/lib/hash-sets.writer.js';

/**
 * The committed sample hash sets (samples/hash-sets/) are what the generator
 * makes from the committed sample case, and the importer's own readers find in
 * them exactly the sample file each is meant to list, beside decoys that match
 * no sample file.
 */
const files = await caseFiles(await committedUploads(SAMPLES_DIR));
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function rowsOf(file: string): Promise<{ format: string; version: string | null; rows: HashSetRow[]; errors: RowError[] }> {
  const reader = await openHashSetFile(file);
  const rows: HashSetRow[] = [];
  const errors: RowError[] = [];
  for await (const batch of reader.rows((e) => errors.push(e))) rows.push(...batch);
  return { format: reader.info.format, version: reader.info.sourceVersion, rows, errors };
}

const committed = (name: string) => path.join(SAMPLES_DIR, 'hash-sets', name);
const inCase = (d: { md5?: string | null; sha1?: string | null; sha256?: string | null }) =>
  [...files].filter(([, bytes]) => {
    const x = digests(bytes);
    return (d.md5 && d.md5 === x.md5) || (d.sha1 && d.sha1 === x.sha1) || (d.sha256 && d.sha256 === x.sha256);
  }).map(([p]) => p);

describe('sample hash sets', () => {
  it('are what the generator makes from the committed case, byte for byte', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'exhibit-sample-sets-'));
    dirs.push(out);
    const written = await writeSampleHashSets(out, files);
    for (const name of written) expect((await readFile(path.join(out, 'hash-sets', name))).equals(await readFile(committed(name))), name).toBe(true);
  });

  it('the md5sum list names the one known-bad photo', async () => {
    const r = await rowsOf(committed(SAMPLE_HASH_SETS.knownBad.file));
    expect(r.format).toBe('checksum-list');
    expect(r.errors).toEqual([]);
    expect(r.rows).toHaveLength(3);
    expect(r.rows.flatMap((row) => inCase(row))).toEqual([SAMPLE_HASH_SETS.knownBad.path]);
  });

  it('the VICS 2.0 document grades the photo that is in the extraction twice, category 1', async () => {
    const r = await rowsOf(committed(SAMPLE_HASH_SETS.vics.file));
    expect(r.format).toBe('vics-json');
    expect(r.version).toMatch(/^VICS 2\.0/);
    expect(r.errors).toEqual([]);
    const hits = r.rows.filter((row) => inCase(row).length > 0);
    expect(hits).toHaveLength(1);
    expect(hits[0]!.category).toBe(SAMPLE_HASH_SETS.vics.category);
    expect(inCase(hits[0]!)).toEqual([SAMPLE_HASH_SETS.vics.path, 'phone-extraction.zip!/Pictures/Favourites/IMG_0002.JPG']);
  });

  it('the NSRL-style database lists the known-good text file, with its version', async () => {
    const r = await rowsOf(committed(SAMPLE_HASH_SETS.nsrl.file));
    expect(r.format).toBe('nsrl-rds-v3');
    expect(r.version).toBe('2026.12.1-demo modern 2026-12-01');
    expect(r.errors).toEqual([]);
    expect(r.rows).toHaveLength(3);
    expect(r.rows.flatMap((row) => inCase(row))).toEqual([SAMPLE_HASH_SETS.nsrl.path]);
  });

  it('the PDQ list holds the loose photo’s PDQ hash, within the default distance of its near-duplicate and far from every other picture', async () => {
    const r = await rowsOf(committed(SAMPLE_HASH_SETS.pdq.file));
    expect(r.format).toBe('pdq-list');
    expect(r.errors).toEqual([]);
    expect(r.rows).toHaveLength(3);
    const listed = r.rows.map((row) => row.pdq!);
    const original = await pdqFromImage(files.get(SAMPLE_HASH_SETS.pdq.path)!);
    expect(r.rows[1]).toMatchObject({ pdq: original.hash, pdqQuality: original.quality, extra: { label: SAMPLE_HASH_SETS.pdq.path } });
    expect(pdqDistance(listed[1]!, (await pdqFromImage(files.get(SAMPLE_HASH_SETS.pdq.nearDuplicate)!)).hash)).toBeLessThanOrEqual(31);
    // Within 31 bits of a listed hash: only the pair (every JPEG and PNG of the case hashed).
    const near: string[] = [];
    for (const [p, bytes] of files) {
      if (!/\.(jpe?g|png)$/i.test(p)) continue;
      const h = await pdqFromImage(bytes).catch(() => null);
      if (h && h.quality >= 50 && listed.some((l) => pdqDistance(l, h.hash) <= 31)) near.push(p);
    }
    expect(near.sort()).toEqual([SAMPLE_HASH_SETS.pdq.nearDuplicate, SAMPLE_HASH_SETS.pdq.path].sort());
  });
});
