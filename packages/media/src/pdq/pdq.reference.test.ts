import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pdqDistance } from './pdq.hasher.js';
import { pdqDihedralFromImage, pdqFromImage, pdqToolVersions } from './pdq.pixels.js';

/**
 * Meta's reference PDQ tool against ours on test/fixtures/pdq-reference
 * (121 images, hashes.tsv from pdq-photo-hasher; its README says how they were made).
 * Every row must match bit for bit, and so must the README's table of variant distances.
 */
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/pdq-reference/', import.meta.url));

interface Row {
  file: string;
  hash: string;
  quality: number;
  baseScene: string;
  transform: string;
}

async function rows(): Promise<Row[]> {
  const lines = (await readFile(FIXTURES + 'hashes.tsv', 'utf8')).trim().split('\n');
  const header = lines[0]!.split('\t');
  const col = (name: string) => header.indexOf(name);
  return lines.slice(1).map((line) => {
    const cells = line.split('\t');
    return { file: cells[col('file')]!, hash: cells[col('pdq_hex')]!, quality: Number(cells[col('quality')]), baseScene: cells[col('base_scene')]!, transform: cells[col('transform')]! };
  });
}

/** The README's "Hamming distance from each base scene to its variants" table: scene → transform → distance. */
async function documentedDistances(): Promise<Map<string, Map<string, number>>> {
  const readme = await readFile(FIXTURES + 'README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Hamming distance from each base scene'));
  const table = section.split('\n').filter((l) => l.startsWith('|'));
  const transforms = table[0]!.split('|').map((c) => c.trim()).slice(3, -1);
  const out = new Map<string, Map<string, number>>();
  for (const line of table.slice(2)) {
    const cells = line.split('|').map((c) => c.trim());
    out.set(cells[1]!, new Map(transforms.map((t, i) => [t, Number(cells[3 + i])])));
  }
  return out;
}

describe('PDQ against the reference fixtures', () => {
  it('gives the reference hash and quality for every one of the 121 images', async () => {
    const all = await rows();
    expect(all).toHaveLength(121);
    const mismatches: string[] = [];
    for (const row of all) {
      const got = await pdqFromImage(await readFile(FIXTURES + row.file));
      if (got.hash !== row.hash || got.quality !== row.quality) {
        mismatches.push(`${row.file}: ${got.hash},${got.quality} (reference ${row.hash},${row.quality}, ${pdqDistance(got.hash, row.hash)} bits apart)`);
      }
    }
    expect(mismatches).toEqual([]);
  }, 180_000);

  it('reproduces the documented distances from each base scene to its variants', async () => {
    const documented = await documentedDistances();
    expect([...documented.keys()]).toEqual(['A-harbour', 'B-meadow', 'C-studio', 'D-dunes', 'E-tower', 'F-fog']);
    const all = await rows();
    const hashes = new Map<string, string>();
    for (const row of all.filter((r) => r.baseScene)) hashes.set(`${row.baseScene}/${row.transform}`, (await pdqFromImage(await readFile(FIXTURES + row.file))).hash);
    let compared = 0;
    for (const [scene, distances] of documented) {
      expect(distances.size).toBe(12);
      for (const [transform, distance] of distances) {
        const base = hashes.get(`${scene}/original`)!;
        const variant = hashes.get(`${scene}/${transform}`);
        expect(variant, `${scene}/${transform}`).toBeDefined();
        expect(pdqDistance(base, variant!), `${scene} → ${transform}`).toBe(distance);
        compared++;
      }
    }
    expect(compared).toBe(72);
  }, 180_000);

  it("derives the rotated and mirrored pictures' hashes from the base picture's DCT", async () => {
    // The dihedral hashes are the reference's frequency-domain shortcut, so they
    // come near (not equal to) the hash of the turned picture itself; far from it means a wrong sign or transpose.
    const all = await rows();
    // The fixtures turn clockwise; the reference's rotate90 turns anticlockwise.
    const names: Record<string, 'rotate90' | 'rotate180' | 'rotate270' | 'flipX' | 'flipY' | 'flipPlus1'> = {
      rot90: 'rotate270', rot180: 'rotate180', rot270: 'rotate90', flip_h: 'flipY', flip_v: 'flipX', transpose: 'flipPlus1',
    };
    for (const base of all.filter((r) => r.transform === 'original')) {
      const dih = await pdqDihedralFromImage(await readFile(FIXTURES + base.file));
      expect(dih.original).toBe(base.hash);
      expect(dih.quality).toBe(base.quality);
      for (const variant of all.filter((r) => r.baseScene === base.baseScene && names[r.transform])) {
        expect(pdqDistance(dih[names[variant.transform]!], variant.hash), `${variant.file}`).toBeLessThanOrEqual(24);
      }
    }
  }, 180_000);

  it('names the port and the decoders behind a hash', () => {
    const names = pdqToolVersions().map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['exhibit-pdq', 'sharp', 'libvips', 'heic-decode']));
    expect(pdqToolVersions()[0]!.version).toMatch(/^1 \(bit-exact with facebook\/ThreatExchange/);
  });
});
