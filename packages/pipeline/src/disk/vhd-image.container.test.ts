import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesByteSource } from './file-byte-source.js';
import { pseudoRandom, writeDynamicVhd } from './test-support/disk-image.builder.js';
import { VhdImage } from './vhd-image.container.js';

/**
 * Where a dynamic VHD's media lies in place in the file (spanInBase): only
 * within one block whose sectors in the range all have their bitmap bit set,
 * and only once that block's bitmap has been read. A wrong span would record
 * a member's bytes as file bytes a reader never returns (a clear bit reads as
 * zeros), so every other case is null, never a guess.
 */
const BLOCK = 8 * 1024;

describe('VhdImage.spanInBase (dynamic)', () => {
  let dir = '';
  let raw: Buffer;
  let file: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-vhd-span-'));
    // Four blocks: data, data with an all-zero sector at 1024 (its bit left clear), all zeros (unallocated), data.
    raw = Buffer.concat([pseudoRandom(BLOCK, 1), pseudoRandom(BLOCK, 2), Buffer.alloc(BLOCK), pseudoRandom(BLOCK, 4)]);
    raw.fill(0, BLOCK + 1024, BLOCK + 1536);
    writeFileSync(path.join(dir, 'raw'), raw);
    writeDynamicVhd(path.join(dir, 'raw'), path.join(dir, 'disk.vhd'), BLOCK);
    file = readFileSync(path.join(dir, 'disk.vhd'));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // The file as a blob would be: every range of it lies in place.
  const open = () => VhdImage.open({ ...bytesByteSource(file), spanInBase: (offset: number, length: number) => (offset >= 0 && length >= 0 && offset + length <= file.length ? { offset, length } : null) });
  const inFile = (span: { offset: number; length: number } | null) => (span ? file.subarray(span.offset, span.offset + span.length) : null);

  it('is the block\'s data in the file once the block was read, for a range whose sectors are all allocated', async () => {
    const vhd = await open();
    expect(vhd.spanInBase(100, 3000)).toBeNull();
    expect(Buffer.from(await vhd.read(100, 10))).toEqual(raw.subarray(100, 110));
    expect(inFile(vhd.spanInBase(100, 3000))).toEqual(raw.subarray(100, 3100));
    expect(inFile(vhd.spanInBase(0, BLOCK))).toEqual(raw.subarray(0, BLOCK));
    await vhd.read(3 * BLOCK, 1);
    expect(inFile(vhd.spanInBase(3 * BLOCK + 7, 500))).toEqual(raw.subarray(3 * BLOCK + 7, 3 * BLOCK + 507));
  });

  it('is null across two blocks, over a sector whose bit is clear, in an unallocated block, outside the media', async () => {
    const vhd = await open();
    await vhd.read(0, 2 * BLOCK + 10);
    expect(vhd.spanInBase(BLOCK - 10, 20)).toBeNull();
    // The clear sector reads as zeros: a span over it would give the file's junk there instead.
    expect(vhd.spanInBase(BLOCK + 1000, 100)).toBeNull();
    expect(vhd.spanInBase(BLOCK + 1535, 1)).toBeNull();
    expect(inFile(vhd.spanInBase(BLOCK + 1536, 512))).toEqual(raw.subarray(BLOCK + 1536, BLOCK + 2048));
    expect(inFile(vhd.spanInBase(BLOCK, 1024))).toEqual(raw.subarray(BLOCK, BLOCK + 1024));
    expect(vhd.spanInBase(2 * BLOCK, 10)).toBeNull();
    expect(vhd.spanInBase(4 * BLOCK - 1, 2)).toBeNull();
    expect(vhd.spanInBase(-1, 2)).toBeNull();
    expect(vhd.spanInBase(0, 0)).toBeNull();
  });
});
