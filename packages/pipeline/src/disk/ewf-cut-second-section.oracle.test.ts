import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExhibitError } from '@exhibit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySource } from './test-support/memory.source.js';
import { EwfImage } from './ewf-image.container.js';
import { hasTool, pseudoRandom, run } from './test-support/disk-image.builder.js';

/**
 * A cut in the SECOND `sectors` section of a segment: ewfacquire (20140813) ends a section at 65,534 chunks (its table
 * holds at most that many), so any segment of more chunks holds whole sectors/table pairs before the section the cut
 * falls in. The walk must start at the cut section's data (not the segment's first section) and number its chunks on
 * from the count every table before it lists (the cut segment's own included). Oracle: the raw media itself: EVERY
 * chunk the image reads is compared with the raw bytes, and every chunk it does not read fails typed
 * `[segment-truncated]`, from the first lost one on. Images: 600 MiB sparse media, 8 KiB chunks (`-b 16`: sectors per
 * chunk), 76,800 chunks; random bytes only in a band across the section boundary (so the chunks there are stored,
 * distinct, and the rest compresses to ~60 bytes a chunk).
 */

const CHUNK = 8192;
const MEDIA = 600 * 1024 * 1024;
const missing = ['ewfacquire'].filter((t) => !hasTool(t));

let dir = '';
const p = (name: string) => path.join(dir, name);

/** A sparse raw image of MEDIA bytes with pseudo-random bytes at the given chunk bands. */
function sparseMedia(name: string, bands: { chunk: number; chunks: number }[]): string {
  const file = p(name);
  const fd = openSync(file, 'w');
  try {
    for (const [i, band] of bands.entries()) writeSync(fd, pseudoRandom(band.chunks * CHUNK, 77 + i), 0, band.chunks * CHUNK, band.chunk * CHUNK);
  } finally {
    closeSync(fd);
  }
  truncateSync(file, MEDIA);
  return file;
}

function sectionsOf(bytes: Buffer): { type: string; offset: number; size: number; count?: number }[] {
  const out: { type: string; offset: number; size: number; count?: number }[] = [];
  for (let at = 13; ; ) {
    const type = bytes.subarray(at, at + 16).toString('latin1').replace(/\0.*$/s, '');
    out.push({ type, offset: at, size: Number(bytes.readBigUInt64LE(at + 24)), ...(type === 'table' ? { count: bytes.readUInt32LE(at + 76) } : {}) });
    if (type === 'done' || type === 'next') return out;
    at = Number(bytes.readBigUInt64LE(at + 16));
  }
}

/**
 * Reads every chunk of the image from the (cut) segments, comparing each with the raw media; from the first chunk that
 * fails on, every one must fail typed. Returns how many read and the first failure.
 */
async function everyChunk(segments: Buffer[], raw: string): Promise<{ read: number; firstLost: ExhibitError | null; nextLost: ExhibitError | null }> {
  const image = await EwfImage.open(segments.map((b) => new MemorySource(b)));
  expect(image.chunkBytes).toBe(CHUNK);
  const fd = openSync(raw, 'r');
  // The raw media read in blocks of 128 chunks (one read per chunk would dominate the test's time).
  const block = Buffer.alloc(128 * CHUNK);
  let blockAt = -1;
  let read = 0;
  let firstLost: ExhibitError | null = null;
  let nextLost: ExhibitError | null = null;
  try {
    for (let n = 0; n * CHUNK < image.size; n += 1) {
      let chunk: Uint8Array;
      try {
        chunk = await image.chunk(n);
      } catch (err) {
        if (!(err instanceof ExhibitError)) throw err;
        expect(err, `chunk ${n}`).toMatchObject({ code: 'corrupt-file', details: { reason: 'segment-truncated' } });
        if (firstLost) nextLost ??= err;
        firstLost ??= err;
        continue;
      }
      expect(firstLost, `chunk ${n} reads after a lost chunk`).toBeNull();
      if (blockAt !== Math.floor(n / 128)) {
        blockAt = Math.floor(n / 128);
        readSync(fd, block, 0, block.length, blockAt * block.length);
      }
      const at = (n % 128) * CHUNK;
      if (Buffer.compare(chunk, block.subarray(at, at + chunk.length)) !== 0) expect.fail(`chunk ${n} read wrong bytes (not the raw media's)`);
      read += 1;
    }
  } finally {
    closeSync(fd);
  }
  return { read, firstLost, nextLost };
}

describe.skipIf(missing.length > 0)('EWF cut in a later sectors section of a segment (oracle: the raw media)', () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ewf-second-section-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('one-segment image cut inside its second sectors section: chunks 0 to 65,533 by the first table, then the walked ones, every one the raw bytes', { timeout: 120_000 }, async () => {
    // Random chunks 65,400 to 65,655: across the boundary at 65,534.
    const raw = sparseMedia('one.img', [{ chunk: 65_400, chunks: 256 }]);
    run('ewfacquire', ['-u', '-q', '-t', p('one'), '-c', 'fast', '-b', '16', '-S', '4GiB', raw]);
    const e01 = readFileSync(p('one.E01'));
    const sections = sectionsOf(e01);
    const sectors = sections.filter((s) => s.type === 'sectors');
    expect(sectors.length).toBe(2);
    expect(sections.find((s) => s.type === 'table')!.count).toBe(65_534);
    // Cut 50 stored (random, 8,196-byte) chunks and 1,000 bytes into the second section's data.
    const second = sectors[1]!;
    const cut = second.offset + 76 + 50 * (CHUNK + 4) + 1000;
    const { read, firstLost, nextLost } = await everyChunk([e01.subarray(0, cut)], raw);
    expect(read).toBe(65_534 + 50);
    // walk-lost-chunk-said-not-in-segments-given: the chunks are there, the walk stopped at or before them.
    expect(nextLost!.message).toMatch(/^EWF chunk 65585 \(media bytes \d+ to \d+\) lies after chunk 65584, where the walk of segment 1's cut sectors section .*: it is cut by the end of the data .*; EWF segment 1: section 'sectors' .* truncated \[segment-truncated\]$/);
    expect(firstLost!.message).toMatch(/EWF chunk 65584 \(media bytes \d+ to \d+\) is not placed: the walk of segment 1's cut sectors section \(data from \d+, its table lost\) placed chunks 65534 to 65583 /);
  });

  it('two-segment image cut inside segment 2\'s second sectors section: numbered on from segment 1\'s and segment 2\'s first tables', { timeout: 120_000 }, async () => {
    // 8 MiB random in front fills segment 1 (-S 8MiB: 1,022 chunks), so segment 2's first section ends at 66,555;
    // random chunks 66,400 to 66,655 lie across that boundary.
    const raw = sparseMedia('two.img', [
      { chunk: 0, chunks: 1024 },
      { chunk: 66_400, chunks: 256 },
    ]);
    run('ewfacquire', ['-u', '-q', '-t', p('two'), '-c', 'fast', '-b', '16', '-S', '8MiB', raw]);
    const e01 = readFileSync(p('two.E01'));
    const e02 = readFileSync(p('two.E02'));
    const first = sectionsOf(e01).find((s) => s.type === 'table')!.count!;
    const seg2 = sectionsOf(e02);
    const sectors = seg2.filter((s) => s.type === 'sectors');
    expect(sectors.length).toBe(2);
    const boundary = first + seg2.find((s) => s.type === 'table')!.count!;
    // The layout the test needs: the random band straddles segment 2's section boundary.
    expect(boundary).toBeGreaterThan(66_400 + 60);
    expect(boundary).toBeLessThan(66_656 - 60);
    const cut = sectors[1]!.offset + 76 + 50 * (CHUNK + 4) + 1000;
    const { read, firstLost } = await everyChunk([e01, e02.subarray(0, cut)], raw);
    expect(read).toBe(boundary + 50);
    expect(firstLost!.message).toMatch(new RegExp(`EWF chunk ${boundary + 50} .*walk of segment 2's cut sectors section \\(data from \\d+, its table lost\\) placed chunks ${boundary} to ${boundary + 49} `));
  });
});
