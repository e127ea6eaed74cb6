import { deflateSync } from 'node:zlib';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExhibitError } from '@exhibit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySource } from './test-support/memory.source.js';
import { EwfImage, adler32 } from './ewf-image.container.js';
import { fileSystems, openDiskImage } from './open-disk-image.js';
import { fls, hasTool, icatMd5, md5, missingTools, pseudoRandom, run } from './test-support/disk-image.builder.js';

/**
 * A single-segment E01 cut short inside its one `sectors` section (a copy stopped early): the table that locates the
 * section's chunks comes after it and is lost, so before the walk every chunk was lost and the image failed whole. Now
 * the chunks wholly present are found by walking the section's data, each by its own checksum (zlib's Adler-32 for a
 * compressed chunk, the stored Adler-32 after a stored one). Oracle: The Sleuth Kit's fls -r -p and icat over the UNCUT
 * E01, and istat's sector (FAT) or block (ext) list of each file, which says whether the file lies wholly in the chunks
 * the walk recovered (every one of them must then read with icat's MD5) or touches a lost one (its read must fail
 * `[segment-truncated]`).
 */

const missing = [...missingTools(), ...(hasTool('mke2fs') ? [] : ['mke2fs'])];

let dir = '';
const p = (name: string) => path.join(dir, name);

interface Listed {
  md5: string | null;
  error: ExhibitError | null;
}

/** Exhibit's listing of the (cut) E01: every entry's path, and each file's MD5 or typed read failure. */
async function list(bytes: Uint8Array): Promise<Map<string, Listed>> {
  const disk = await openDiskImage([new MemorySource(bytes)]);
  const files = new Map<string, Listed>();
  for await (const fs of fileSystems(disk)) {
    if (!('reader' in fs)) throw new Error(`volume not read: ${fs.problem.message}`);
    for await (const entry of fs.reader.entries()) {
      if (entry.kind !== 'file' || !entry.data) {
        files.set(entry.path, { md5: null, error: null });
        continue;
      }
      try {
        files.set(entry.path, { md5: md5(await entry.data().read(0, entry.size)), error: null });
      } catch (err) {
        if (!(err instanceof ExhibitError)) throw err;
        files.set(entry.path, { md5: null, error: err });
      }
    }
  }
  return files;
}

/** How many chunks from the front the cut image reads (each compared with the raw image's bytes), before its first lost one. */
async function recoveredChunks(bytes: Uint8Array, raw: Buffer): Promise<{ count: number; firstLost: ExhibitError | null }> {
  const image = await EwfImage.open([new MemorySource(bytes)]);
  for (let n = 0; n * image.chunkBytes < image.size; n += 1) {
    let chunk: Uint8Array;
    try {
      chunk = await image.chunk(n);
    } catch (err) {
      if (!(err instanceof ExhibitError)) throw err;
      return { count: n, firstLost: err };
    }
    expect(Buffer.compare(chunk, raw.subarray(n * image.chunkBytes, n * image.chunkBytes + chunk.length)), `chunk ${n}`).toBe(0);
  }
  return { count: Math.ceil(image.size / image.chunkBytes), firstLost: null };
}

/** The media bytes a file occupies (istat: FAT's sector list, ext's block list), as [start, end) runs of `unitBytes`. */
function fileUnits(e01: string, entryId: string): { units: number[]; unitBytes: number } {
  const text = run('istat', [e01, entryId]).toString('utf8');
  const fat = /\nSectors:\n([\s\S]*)$/.exec(text);
  if (fat) return { units: fat[1]!.split(/\s+/).filter(Boolean).map(Number), unitBytes: 512 };
  const ext = /\nDirect Blocks:\n([\s\S]*?)(\n\n|$)/.exec(text);
  if (!ext) throw new Error(`istat lists no sectors or blocks for ${entryId}`);
  return { units: ext[1]!.split(/\s+/).filter(Boolean).map(Number), unitBytes: 1024 };
}

/** Section descriptors of a whole single-segment E01 (type, offset), and its table's chunk offsets (for the forgeries). */
function sectionsOf(bytes: Buffer): { type: string; offset: number; size: number }[] {
  const out: { type: string; offset: number; size: number }[] = [];
  for (let at = 13; ; ) {
    const type = bytes.subarray(at, at + 16).toString('latin1').replace(/\0.*$/s, '');
    const next = Number(bytes.readBigUInt64LE(at + 16));
    out.push({ type, offset: at, size: Number(bytes.readBigUInt64LE(at + 24)) });
    if (type === 'done' || type === 'next') return out;
    at = next;
  }
}

function chunkOffsets(bytes: Buffer): { offset: number; compressed: boolean }[] {
  const table = sectionsOf(bytes).find((s) => s.type === 'table')!;
  const data = table.offset + 76;
  const count = bytes.readUInt32LE(data);
  const base = Number(bytes.readBigUInt64LE(data + 8));
  return Array.from({ length: count }, (_, i) => {
    const raw = bytes.readUInt32LE(data + 24 + i * 4);
    return { offset: base + (raw & 0x7fffffff), compressed: (raw & 0x80000000) !== 0 };
  });
}

/** The TSK truth over the uncut E01: each allocated file's path, MD5 (icat) and the media bytes it occupies (istat). */
function oracle(e01: string): Map<string, { md5: string; units: number[]; unitBytes: number }> {
  const out = new Map<string, { md5: string; units: number[]; unitBytes: number }>();
  for (const e of fls([e01])) {
    if (e.deleted || e.type !== 'r/r' || e.path.startsWith('$') || e.path.startsWith('lost+found')) continue;
    out.set(e.path, { md5: icatMd5([e01], e.entryId), ...fileUnits(e01, e.entryId) });
  }
  return out;
}

/**
 * Cut `e01` to `cut` bytes and hold Exhibit's listing to the oracle: the walk recovers chunks 0 … count-1 (each equal
 * to the raw media's); every file wholly inside them reads with icat's MD5, every file touching a later chunk fails
 * typed `[segment-truncated]`, and no other file is listed or fails. Returns how many files read.
 */
async function checkCut(e01: string, raw: Buffer, cut: number, truth: Map<string, { md5: string; units: number[]; unitBytes: number }>) {
  const bytes = readFileSync(e01).subarray(0, cut);
  writeFileSync(p(`cut-${path.basename(e01)}-${cut}`), bytes);
  const { count, firstLost } = await recoveredChunks(bytes, raw);
  const chunkBytes = 32_768;
  // Every chunk recovered (only the table was cut), or the first lost one fails typed.
  if (count < Math.ceil(raw.length / chunkBytes)) expect(firstLost, `cut at ${cut}`).toMatchObject({ code: 'corrupt-file', details: { reason: 'segment-truncated' } });
  else expect(firstLost).toBeNull();
  const files = await list(bytes);
  let read = 0;
  let failed = 0;
  for (const [name, t] of truth) {
    const got = files.get(name);
    expect(got, `${name} listed (cut at ${cut})`).toBeDefined();
    const inRecovered = t.units.every((u) => Math.floor((u * t.unitBytes + t.unitBytes - 1) / chunkBytes) < count);
    if (inRecovered) {
      expect(got!.md5, `${name} (cut at ${cut}, ${count} chunks recovered)`).toBe(t.md5);
      read += 1;
    } else {
      expect(got!.error, `${name} (cut at ${cut})`).toMatchObject({ code: 'corrupt-file', details: { reason: 'segment-truncated' } });
      failed += 1;
    }
  }
  // Nothing else: the listed files are TSK's.
  const listedFiles = [...files.entries()].filter(([, f]) => f.md5 !== null || f.error !== null).map(([name]) => name);
  expect(listedFiles.sort()).toEqual([...truth.keys()].sort());
  return { count, read, failed };
}

describe.skipIf(missing.length > 0)('EWF single segment cut inside its sectors section (oracle: TSK over the uncut E01)', { timeout: 300_000 }, () => {
  const card = () => readFileSync(p('card.img'));
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-ewf-cut-walk-'));
    // A 40 MiB FAT16 card: incompressible and compressible files interleaved (a compressed image then stores some
    // chunks stored, some compressed), 2 KiB clusters; acquired whole in one segment, uncompressed, fast and best.
    const img = p('card.img');
    run('mkfs.fat', ['-C', '-F', '16', '-s', '4', '-n', 'CUT', img, '40960']);
    run('mmd', ['-i', img, '::/DCIM']);
    for (let i = 1; i <= 10; i += 1) {
      writeFileSync(p(`r${i}.bin`), pseudoRandom(i * 190_000 + 7, i));
      writeFileSync(p(`t${i}.txt`), `line ${i} of a compressible file\n`.repeat(Math.ceil((i * 130_000) / 30)));
      run('mcopy', ['-i', img, p(`r${i}.bin`), `::/DCIM/R${i}.BIN`]);
      run('mcopy', ['-i', img, p(`t${i}.txt`), `::/T${i}.TXT`]);
    }
    for (const c of ['none', 'fast', 'best']) run('ewfacquire', ['-u', '-q', '-t', p(`card-${c}`), '-c', c, '-b', '64', img]);
    // ext4 (mke2fs -d), 1 KiB blocks, a size that is not a whole number of chunks (its last chunk is 1536 bytes).
    mkdirSync(p('tree/sub'), { recursive: true });
    for (let i = 1; i <= 4; i += 1) {
      writeFileSync(p(`tree/sub/r${i}.bin`), pseudoRandom(i * 300_001, 40 + i));
      writeFileSync(p(`tree/t${i}.txt`), `ext line ${i}\n`.repeat(Math.ceil((i * 200_003) / 12)));
    }
    run('truncate', ['-s', String(8 * 1024 * 1024 + 3 * 512), p('ext.img')]);
    run('mke2fs', ['-q', '-t', 'ext4', '-b', '1024', '-d', p('tree'), '-F', p('ext.img')]);
    run('ewfacquire', ['-u', '-q', '-t', p('ext-fast'), '-c', 'fast', '-b', '64', p('ext.img')]);
  }, 300_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('single-segment-e01-cut-in-sectors-section-loses-every-chunk', async () => {
    // The audit's tr1.E01: the first 400,000 bytes of a compressed 40 MiB card. Before the walk: "EWF chunk 0 … is not
    // in the segments given … [segment-truncated]", the image failed whole. Now its front chunks read.
    const e01 = readFileSync(p('card-fast.E01'));
    expect(sectionsOf(e01).filter((s) => s.type === 'sectors')).toHaveLength(1);
    const files = await list(e01.subarray(0, 400_000));
    const read = [...files.values()].filter((f) => f.md5 !== null);
    expect(read.length).toBeGreaterThan(0);
    const truth = oracle(p('card-fast.E01'));
    for (const [name, f] of files) if (f.md5 !== null) expect(f.md5, name).toBe(truth.get(name)!.md5);
  });

  for (const c of ['none', 'fast', 'best'] as const) {
    it(`-c ${c}: cut at several points inside the sectors section, and just after it (its table cut), every file is icat's or fails typed`, async () => {
      const e01 = p(`card-${c}.E01`);
      const whole = readFileSync(e01);
      const sectors = sectionsOf(whole).find((s) => s.type === 'sectors')!;
      const table = sectionsOf(whole).find((s) => s.type === 'table')!;
      const truth = oracle(e01);
      expect(truth.size).toBe(20);
      const end = sectors.offset + sectors.size;
      const results: Record<number, { count: number; read: number; failed: number }> = {};
      for (const cut of [400_000, Math.floor(end * 0.35), Math.floor(end * 0.7), end - 1000, table.offset + 50]) {
        results[cut] = await checkCut(e01, card(), cut, truth);
      }
      // The cut inside the table: the sectors section is whole, every chunk is recovered, every file reads.
      expect(results[table.offset + 50]).toMatchObject({ count: 1280, read: 20, failed: 0 });
      // Deeper cuts recover more: the walk goes on as far as the data does.
      const counts = Object.values(results).map((r) => r.count);
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
      expect(results[400_000]!.count).toBeGreaterThan(0);
      // A cut through the files: some read whole, the ones through and after the cut fail.
      expect(results[Math.floor(end * 0.35)]!.read).toBeGreaterThan(0);
      expect(results[Math.floor(end * 0.35)]!.failed).toBeGreaterThan(0);
      expect(results[Math.floor(end * 0.7)]!.read).toBeGreaterThan(results[400_000]!.read);
    });
  }

  it('ext4 (mke2fs -d), compressed, its last chunk shorter: cut at several points, every file is icat\'s or fails typed', async () => {
    const e01 = p('ext-fast.E01');
    const whole = readFileSync(e01);
    const raw = readFileSync(p('ext.img'));
    const sectors = sectionsOf(whole).find((s) => s.type === 'sectors')!;
    const table = sectionsOf(whole).find((s) => s.type === 'table')!;
    const truth = oracle(e01);
    expect(truth.size).toBe(8);
    const end = sectors.offset + sectors.size;
    for (const cut of [Math.floor(end * 0.5), Math.floor(end * 0.8)]) {
      const r = await checkCut(e01, raw, cut, truth);
      expect(r.read).toBeGreaterThan(0);
      expect(r.failed).toBeGreaterThan(0);
    }
    // The table cut: all 257 chunks, the last of 1536 bytes (stored compressed to its own size) included.
    expect(await checkCut(e01, raw, table.offset + 50, truth)).toMatchObject({ count: 257, read: 8, failed: 0 });
  });

  it('ewf-cut-walk-hostile: a chunk inflating past its size, to less than it, or with a wrong Adler-32 is not placed, and the walk stops there', async () => {
    const whole = readFileSync(p('card-fast.E01'));
    const raw = card();
    const chunks = chunkOffsets(whole);
    // Two neighbouring compressed chunks, and a stored one (an incompressible cluster).
    const k = chunks.findIndex((c, i) => i > 4 && c.compressed && chunks[i + 1]!.compressed);
    const s = chunks.findIndex((c, i) => i > 4 && !c.compressed);
    expect(k).toBeGreaterThan(4);
    expect(s).toBeGreaterThan(4);
    const cutAfter = (n: number) => chunks[n + 3]!.offset;
    const forged = (n: number, replacement: Buffer) => Buffer.concat([whole.subarray(0, chunks[n]!.offset), replacement, whole.subarray(chunks[n + 1]!.offset, cutAfter(n))]);
    const cases: [string, Buffer, number, RegExp][] = [
      ['inflates past the chunk size', forged(k, deflateSync(raw.subarray(0, 32_768 * 3))), k, /inflates to more than the chunk's 32768 bytes/],
      ['inflates to less', forged(k, deflateSync(raw.subarray(k * 32_768, k * 32_768 + 32_768 - 512))), k, /inflates to 32256 bytes, not 32768/],
      ['a zlib stream with a wrong Adler-32', (() => {
        const b = forged(k, Buffer.from(whole.subarray(chunks[k]!.offset, chunks[k + 1]!.offset)));
        const at = chunks[k + 1]!.offset - 1;
        b[at] = b[at]! ^ 0x01;
        return b;
      })(), k, /incorrect data check/],
      ['a stored chunk with a wrong Adler-32', (() => {
        const b = Buffer.from(whole.subarray(0, cutAfter(s)));
        const at = chunks[s]!.offset + 32_768;
        b[at] = b[at]! ^ 0x01;
        return b;
      })(), s, /verifies neither as 32768 stored bytes with their Adler-32/],
    ];
    for (const [what, bytes, at, why] of cases) {
      const { count, firstLost } = await recoveredChunks(bytes, raw);
      expect(count, what).toBe(at);
      expect(firstLost, what).toMatchObject({ code: 'corrupt-file', details: { reason: 'segment-truncated' }, message: expect.stringMatching(why) });
      // Every later chunk stays lost, though wholly present and good: never a guessed placement.
      const image = await EwfImage.open([new MemorySource(bytes)]);
      await expect(image.chunk(at + 1), what).rejects.toMatchObject({ details: { reason: 'segment-truncated' } });
    }
    // The forged stored chunk checks out against its own Adler-32 when it is right (the checksum the walk reads is EWF's).
    expect(adler32(whole.subarray(chunks[s]!.offset, chunks[s]!.offset + 32_768))).toBe(whole.readUInt32LE(chunks[s]!.offset + 32_768));
  });
});
