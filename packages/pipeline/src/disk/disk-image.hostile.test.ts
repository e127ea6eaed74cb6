import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExhibitError } from '@exhibit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRange } from './byte-source.js';
import type { ByteSource, FileSystemEntry } from './disk-reader.types.js';
import { addExfatFiles } from './test-support/exfat-image.builder.js';
import { SECTOR, mbrSector, missingTools, pseudoRandom, run, writeDynamicVhd, writeGpt } from './test-support/disk-image.builder.js';
import { EwfImage } from './ewf-image.container.js';
import { parseFatBootSector } from './fat.reader.js';
import { fileSystems, openDiskImage, type DiskImage } from './open-disk-image.js';
import { vhdChecksum } from './vhd-image.container.js';

/**
 * Hostile images: each damage is a typed failure of the affected item (a
 * problem on the entry, on the volume, or a 'corrupt-file' read), never a hang,
 * a huge allocation, or a read outside the image — every read the readers
 * make is checked against the bytes they were given (MemorySource throws on
 * anything outside, and records the furthest byte asked for).
 */

const missing = missingTools();

class MemorySource implements ByteSource {
  furthest = 0;
  constructor(private readonly bytes: Uint8Array) {}
  get size() {
    return this.bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.size, offset, length, 'memory');
    this.furthest = Math.max(this.furthest, offset + length);
    return this.bytes.slice(offset, offset + length);
  }
}

let dir = '';
const p = (name: string) => path.join(dir, name);
let fat16 = Buffer.alloc(0);

/** Offset of the 32-byte directory entry whose 8.3 name is `name11` (e.g. 'ONE     BIN'). */
function entryAt(image: Buffer, name11: string): number {
  const at = image.indexOf(Buffer.from(name11, 'latin1'));
  if (at < 0 || at % 32 !== 0) throw new Error(`no directory entry ${name11}`);
  return at;
}

const firstCluster = (image: Buffer, entry: number) => image.readUInt16LE(entry + 26);

function fatOffset(image: Buffer, cluster: number): number {
  const boot = parseFatBootSector(image.subarray(0, 512), image.length)!;
  return boot.reservedSectors * boot.sectorBytes + cluster * 2;
}

async function listAll(image: Buffer | MemorySource): Promise<{ disk: DiskImage; entries: FileSystemEntry[]; source: MemorySource }> {
  const source = image instanceof MemorySource ? image : new MemorySource(image);
  const disk = await openDiskImage([source]);
  const entries: FileSystemEntry[] = [];
  for await (const fs of fileSystems(disk)) if ('reader' in fs) for await (const e of fs.reader.entries()) entries.push(e);
  return { disk, entries, source };
}

/** XORs one byte in place. */
const flip = (bytes: Buffer, at: number, mask: number) => bytes.writeUInt8(bytes.readUInt8(at) ^ mask, at);

const byPath = (entries: FileSystemEntry[]) => new Map(entries.map((e) => [e.path, e]));

/** The sections of one EWF segment: [type, descriptor offset, size]. */
function ewfSections(segment: Buffer): [string, number, number][] {
  const out: [string, number, number][] = [];
  let at = 13;
  for (let i = 0; i < 100; i += 1) {
    const type = segment.toString('latin1', at, at + 16).replace(/\0.*$/s, '');
    out.push([type, at, Number(segment.readBigUInt64LE(at + 24))]);
    const next = Number(segment.readBigUInt64LE(at + 16));
    if (type === 'done' || type === 'next' || next <= at) break;
    at = next;
  }
  return out;
}

async function expectCode(promise: Promise<unknown>, code: string, message?: RegExp) {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ExhibitError);
  expect((err as ExhibitError).code).toBe(code);
  if (message) expect((err as ExhibitError).message).toMatch(message);
}

describe.skipIf(missing.length > 0)('hostile disk images', { timeout: 60_000 }, () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-hostile-'));
    run('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'HOSTILE', p('fat16.img'), '4096']);
    const i = p('fat16.img');
    run('mmd', ['-i', i, '::/DIRA', '::/DIRA/DIRB']);
    writeFileSync(p('one'), pseudoRandom(3000, 1));
    run('mcopy', ['-i', i, p('one'), '::/DIRA/ONE.BIN']);
    run('mcopy', ['-i', i, p('one'), '::/DIRA/DIRB/DEEP.BIN']);
    run('mcopy', ['-i', i, p('one'), '::/TWO.BIN']);
    run('mcopy', ['-i', i, p('one'), '::/THREE.BIN']);
    fat16 = readFileSync(i);
    // A small EWF for chunk-level damage: stored chunks in two segments, and a compressed one.
    writeFileSync(p('media.raw'), pseudoRandom(1_600_000, 9));
    run('ewfacquire', ['-u', '-t', p('stored'), '-c', 'none', '-S', '1MiB', '-b', '64', p('media.raw')]);
    run('ewfacquire', ['-u', '-t', p('packed'), '-c', 'fast', p('fat16.img')]);
    // Another image split the same way, for segments mixed from two images.
    writeFileSync(p('other.raw'), pseudoRandom(2_200_000, 10));
    run('ewfacquire', ['-u', '-t', p('other'), '-c', 'none', '-S', '1MiB', '-b', '64', p('other.raw')]);
  }, 60_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the undamaged base image lists every file with data', async () => {
    const { entries } = await listAll(fat16);
    expect(entries.map((e) => e.path)).toEqual(['DIRA', 'DIRA/DIRB', 'DIRA/DIRB/DEEP.BIN', 'DIRA/ONE.BIN', 'TWO.BIN', 'THREE.BIN']);
    expect(entries.filter((e) => e.problem)).toEqual([]);
  });

  it('directory loop: a subdirectory pointing at its ancestor is a problem on that entry; the walk ends', async () => {
    const image = Buffer.from(fat16);
    image.writeUInt16LE(firstCluster(image, entryAt(image, 'DIRA       ')), entryAt(image, 'DIRB       ') + 26);
    const { entries } = await listAll(image);
    expect(byPath(entries).get('DIRA/DIRB')?.problem).toMatchObject({ code: 'corrupt-file', message: expect.stringMatching(/directory loop/) });
    expect(byPath(entries).has('TWO.BIN')).toBe(true);
    // A directory pointing at cluster 0 (the FAT16 root) is refused too.
    const toRoot = Buffer.from(fat16);
    toRoot.writeUInt16LE(0, entryAt(toRoot, 'DIRB       ') + 26);
    expect(byPath((await listAll(toRoot)).entries).get('DIRA/DIRB')?.problem?.code).toBe('corrupt-file');
  });

  it('cross-linked clusters: the second file claiming a cluster has a problem and no data', async () => {
    const image = Buffer.from(fat16);
    image.writeUInt16LE(firstCluster(image, entryAt(image, 'ONE     BIN')), entryAt(image, 'TWO     BIN') + 26);
    const files = byPath((await listAll(image)).entries);
    expect(files.get('DIRA/ONE.BIN')?.problem).toBeUndefined();
    expect(files.get('TWO.BIN')).toMatchObject({ problem: { code: 'corrupt-file', message: expect.stringMatching(/cross-linked/) } });
    expect(files.get('TWO.BIN')?.data).toBeUndefined();
  });

  it('a cluster chain that leaves the volume, or loops, is a problem of that file only', async () => {
    const image = Buffer.from(fat16);
    const one = firstCluster(image, entryAt(image, 'ONE     BIN'));
    image.writeUInt16LE(0xfff0, fatOffset(image, one)); // beyond the last cluster, not an end marker
    const three = firstCluster(image, entryAt(image, 'THREE   BIN'));
    image.writeUInt16LE(three, fatOffset(image, three)); // points at itself
    const { entries, source } = await listAll(image);
    const files = byPath(entries);
    expect(files.get('DIRA/ONE.BIN')?.problem?.message).toMatch(/beyond the volume/);
    expect(files.get('THREE.BIN')?.problem?.message).toMatch(/loops/);
    expect(files.get('TWO.BIN')?.problem).toBeUndefined();
    expect(source.furthest).toBeLessThanOrEqual(image.length);
  });

  it('absurd sizes: a 4 GiB file size on a 4 MiB volume fails that file without reading or allocating it', async () => {
    const image = Buffer.from(fat16);
    image.writeUInt32LE(0xffffffff, entryAt(image, 'THREE   BIN') + 28);
    const files = byPath((await listAll(image)).entries);
    expect(files.get('THREE.BIN')).toMatchObject({ size: 0xffffffff, problem: { code: 'corrupt-file' } });
    // A BPB with zero sectors per cluster is not a FAT file system at all.
    const bpb = Buffer.from(fat16);
    bpb[13] = 0;
    const disk = await openDiskImage([new MemorySource(bpb)]);
    const opened = [];
    for await (const fs of fileSystems(disk)) opened.push(fs);
    expect(opened).toMatchObject([{ problem: { code: 'unsupported-format' } }]);
  });

  it('a truncated volume: files past its end fail with a problem, the others are read', async () => {
    const boot = parseFatBootSector(fat16.subarray(0, 512), fat16.length)!;
    const cut = fat16.subarray(0, (boot.firstClusterSector + 12) * SECTOR); // keeps the directories and the first file
    const { entries, source } = await listAll(Buffer.from(cut));
    expect(entries.some((e) => e.problem?.message.match(/past the end of the image: the volume is cut short/))).toBe(true);
    expect(entries.some((e) => e.kind === 'file' && !e.problem)).toBe(true);
    expect(source.furthest).toBeLessThanOrEqual(cut.length);
  });

  it('exFAT: a directory loop, a chain leaving the volume and an absurd data length each fail only their entry', async () => {
    const img = p('exfat.img');
    writeFileSync(img, Buffer.alloc(4 * 1024 * 1024));
    run('mkfs.exfat', [img]);
    addExfatFiles(img, [
      { path: 'DIR', directory: true },
      { path: 'DIR/SUB', directory: true },
      { path: 'DIR/chained.bin', data: pseudoRandom(20_000, 1), fragmented: true },
      { path: 'huge.bin', data: pseudoRandom(5_000, 2) },
      { path: 'fine.bin', data: pseudoRandom(5_000, 3) },
    ]);
    const image = readFileSync(img);
    /** The stream-extension entry of the entry set named `name`: the entry before its first name entry. */
    const streamOf = (name: string) => image.indexOf(Buffer.from(name, 'utf16le')) - 2 - 32;
    image.writeUInt32LE(image.readUInt32LE(streamOf('DIR') + 20), streamOf('SUB') + 20); // SUB → DIR's cluster
    const chained = image.readUInt32LE(streamOf('chained.bin') + 20);
    const fatAt = image.readUInt32LE(80) * 512 + chained * 4;
    image.writeUInt32LE(0x7ffffff0, fatAt); // the chain's second link points past the volume
    image.writeBigUInt64LE(1n << 50n, streamOf('huge.bin') + 24);
    const { entries, source } = await listAll(image);
    const files = byPath(entries);
    expect(files.get('DIR/SUB')?.problem?.message).toMatch(/directory loop/);
    expect(files.get('DIR/chained.bin')?.problem?.message).toMatch(/beyond the volume/);
    expect(files.get('huge.bin')).toMatchObject({ size: 2 ** 50, problem: { code: 'corrupt-file' } });
    expect(files.get('fine.bin')?.problem).toBeUndefined();
    expect(source.furthest).toBeLessThanOrEqual(image.length);
  });

  it('partition tables pointing outside the disk, and an EBR chain that loops, are problems; the good partition is still read', async () => {
    const disk = Buffer.alloc(2048 * SECTOR + fat16.length + 4096 * SECTOR);
    fat16.copy(disk, 2048 * SECTOR);
    const diskSectors = disk.length / SECTOR;
    const ext = 2048 + fat16.length / SECTOR;
    mbrSector([
      { type: 0x06, startSector: 2048, sectors: fat16.length / SECTOR },
      { type: 0x0c, startSector: diskSectors + 100, sectors: 1000 }, // starts past the end
      { type: 0x83, startSector: 4096, sectors: 0xfffffff0 }, // runs past the end: read up to it
      { type: 0x05, startSector: ext, sectors: 4096 },
    ]).copy(disk, 0);
    // The EBR's link points back at itself.
    mbrSector([{ type: 0x83, startSector: 16, sectors: 16 }, { type: 0x05, startSector: 0, sectors: 4096 }]).copy(disk, ext * SECTOR);
    const { disk: opened, entries, source } = await listAll(disk);
    expect(opened.volumeSystem.scheme).toBe('mbr');
    expect(opened.volumeSystem.problems.map((problem) => problem.where)).toEqual(['mbr 1', 'mbr 2', 'ebr 1']);
    expect(opened.volumeSystem.problems[2]!.message).toMatch(/loops/);
    // The one starting on the disk and running past its end is read as far as the disk goes (a truncated image).
    expect(opened.volumeSystem.problems[1]!.message).toMatch(/runs past the end/);
    expect(opened.volumeSystem.volumes.map((v) => [v.offset / SECTOR, v.size / SECTOR])).toEqual([
      [2048, fat16.length / SECTOR],
      [4096, diskSectors - 4096],
      [ext + 16, 16],
    ]);
    expect(entries.filter((e) => e.kind === 'file')).toHaveLength(4);
    expect(source.furthest).toBeLessThanOrEqual(disk.length);
  });

  it('GPT: a bad primary header CRC falls back to the backup; with both bad there are no volumes, only problems', async () => {
    writeFileSync(p('gpt.img'), Buffer.alloc(12_288 * SECTOR));
    writeGpt(p('gpt.img'), 12_288, [{ first: 2048, last: 2048 + fat16.length / SECTOR - 1, name: 'data' }]);
    const gpt = readFileSync(p('gpt.img'));
    fat16.copy(gpt, 2048 * SECTOR);
    flip(gpt, SECTOR + 40, 0xff); // first usable LBA changed: the CRC no longer matches
    const one = await listAll(Buffer.from(gpt));
    expect(one.disk.volumeSystem.problems.map((x) => x.message)).toEqual(['primary GPT header CRC-32 mismatch']);
    expect(one.disk.volumeSystem.volumes).toHaveLength(1);
    flip(gpt, (12_288 - 1) * SECTOR + 40, 0xff);
    const none = await listAll(Buffer.from(gpt));
    expect(none.disk.volumeSystem).toMatchObject({ scheme: 'gpt', volumes: [] });
    expect(none.disk.volumeSystem.problems).toHaveLength(2);
  });

  it('EWF: a stored chunk failing its Adler-32 fails reads of that chunk only', async () => {
    const segments = readdirSync(dir).filter((f) => /^stored\.E\d\d$/.test(f)).sort().map((f) => readFileSync(p(f)));
    expect(segments.length).toBeGreaterThanOrEqual(2);
    const damaged = segments.map((s) => Buffer.from(s));
    const [, sectorsAt] = ewfSections(damaged[0]!).find(([type]) => type === 'sectors')!;
    flip(damaged[0]!, sectorsAt + 76 + 100, 0x01); // inside chunk 0
    const image = await EwfImage.open(damaged.map((s) => new MemorySource(s)));
    await expectCode(image.read(0, 512), 'corrupt-file', /Adler-32/);
    expect(Buffer.from(await image.read(32 * 1024, 512))).toEqual(pseudoRandom(1_600_000, 9).subarray(32 * 1024, 32 * 1024 + 512));
  });

  it('EWF: a damaged chunk table is replaced by table2; with both damaged the chunks fail as corrupt', async () => {
    const segment = readFileSync(p('stored.E01'));
    const sections = ewfSections(segment);
    const [, tableAt] = sections.find(([type]) => type === 'table')!;
    const [, table2At] = sections.find(([type]) => type === 'table2')!;
    const oneBad = Buffer.from(segment);
    flip(oneBad, tableAt + 76 + 24, 0x40); // chunk 0's offset
    const rest = readdirSync(dir).filter((f) => /^stored\.E0[2-9]$/.test(f)).sort().map((f) => new MemorySource(readFileSync(p(f))));
    const rescued = await EwfImage.open([new MemorySource(oneBad), ...rest]);
    expect(Buffer.from(await rescued.read(0, 4096))).toEqual(pseudoRandom(1_600_000, 9).subarray(0, 4096));
    const bothBad = Buffer.from(oneBad);
    flip(bothBad, table2At + 76 + 24, 0x40);
    const broken = await EwfImage.open([new MemorySource(bothBad), ...rest]);
    await expectCode(broken.read(0, 4096), 'corrupt-file', /table/);
  });

  it('EWF: a compressed chunk that does not inflate is corrupt; an absurd chunk size is refused', async () => {
    const segment = readFileSync(p('packed.E01'));
    const [, sectorsAt] = ewfSections(segment).find(([type]) => type === 'sectors')!;
    const damaged = Buffer.from(segment);
    for (let i = 0; i < 16; i += 1) flip(damaged, sectorsAt + 76 + 2 + i, 0xff); // into the first deflate stream
    const image = await EwfImage.open([new MemorySource(damaged)]);
    await expectCode(image.read(0, 512), 'corrupt-file', /chunk 0/);
    const absurd = Buffer.from(segment);
    const [, volumeAt] = ewfSections(absurd).find(([type]) => type === 'volume' || type === 'disk')!;
    absurd.writeUInt32LE(0x7fffffff, volumeAt + 76 + 8); // sectors per chunk
    await expectCode(EwfImage.open([new MemorySource(absurd)]), 'limit-exceeded');
  });

  it('EWF: a truncated segment, a missing middle segment and a missing last segment are incomplete images: what they lost fails typed', async () => {
    const names = readdirSync(dir).filter((f) => /^stored\.E\d\d$/.test(f)).sort();
    const segments = names.map((f) => readFileSync(p(f)));
    const last = segments[segments.length - 1]!;
    const lostChunk = async (given: Buffer[], reason: string, message: RegExp) => {
      const image = await EwfImage.open(given.map((s) => new MemorySource(s)));
      expect(image.incomplete[0]).toMatchObject({ reason, message: expect.stringMatching(message) });
      // The chunks of the lost part fail their reads, naming why: never zeros.
      await expectCode(image.read(image.size - 512, 512), 'corrupt-file', new RegExp(`(is not in the segments given|is not placed|lies after chunk \\d+, where the walk).*\\[${reason}\\]`));
    };
    await lostChunk([...segments.slice(0, -1), last.subarray(0, Math.floor(last.length / 2))], 'segment-truncated', /truncated/);
    // Cut in its closing sections (hash, done) only: every chunk reads, but the image is still incomplete (no stored-hash check).
    const closing = await EwfImage.open([...segments.slice(0, -1), last.subarray(0, last.length - 200)].map((s) => new MemorySource(s)));
    expect(closing.incomplete).toEqual([{ reason: 'segment-truncated', message: expect.stringMatching(/truncated/) }]);
    expect((await closing.read(closing.size - 512, 512)).length).toBe(512);
    if (segments.length >= 3) await lostChunk([segments[0]!, segments[2]!], 'segment-missing', /segment 2 is missing/);
    await lostChunk(segments.slice(0, -1), 'segment-missing', new RegExp(`ends with 'next': segment ${segments.length} is missing`));
    // Segment 1 holds the volume section the others are checked against: without it there is no image.
    await expectCode(EwfImage.open(segments.slice(1).map((s) => new MemorySource(s))), 'corrupt-file', /segment 1 is missing/);
  });

  it('EWF segments: a repeated segment, a segment of another image (its geometry or set identifier), a segment after the done section are typed failures naming the segment', async () => {
    const load = (stem: string) => readdirSync(dir).filter((f) => new RegExp(`^${stem}\\.E\\d\\d$`).test(f)).sort().map((f) => readFileSync(p(f)));
    const stored = load('stored');
    const other = load('other');
    expect(stored.length).toBeGreaterThanOrEqual(2);
    expect(other.length).toBeGreaterThanOrEqual(3);
    const open = async (segments: Buffer[]) => {
      const sources = segments.map((s) => new MemorySource(s));
      const result = await EwfImage.open(sources).then(
        () => null,
        (err: unknown) => err,
      );
      sources.forEach((s, i) => expect(s.furthest).toBeLessThanOrEqual(segments[i]!.length));
      return result as ExhibitError | null;
    };
    const reasonOf = async (segments: Buffer[]) => {
      const err = await open(segments);
      expect(err).toBeInstanceOf(ExhibitError);
      expect(err!.code).toBe('corrupt-file');
      return { reason: err!.details?.['reason'], message: err!.message };
    };
    expect(await open(stored)).toBeNull();
    expect(await open([...stored].reverse())).toBeNull();
    expect(await reasonOf([stored[0]!, stored[1]!, stored[1]!])).toMatchObject({ reason: 'segment-duplicated', message: expect.stringMatching(/segment 2 was given twice/) });
    // other.E02 in the place of stored.E02: its data section describes another media.
    expect(await reasonOf([stored[0]!, other[1]!])).toMatchObject({ reason: 'segment-from-another-image', message: expect.stringMatching(/EWF segment 2 is from another image: its sectorCount/) });
    // Same geometry, another set identifier (EnCase writes one; ewfacquire 2014 writes zeros): patched into stored.E02's data section.
    const foreign = Buffer.from(stored[1]!);
    const [, dataAt] = ewfSections(foreign).find(([type]) => type === 'data')!;
    Buffer.from('0123456789abcdef0123456789abcdef', 'hex').copy(foreign, dataAt + 76 + 64);
    expect(await reasonOf([stored[0]!, foreign])).toMatchObject({ reason: 'segment-from-another-image', message: expect.stringMatching(/set identifier 0123456789abcdef/) });
    // A complete image followed by another image's third segment.
    expect(await reasonOf([...stored, other[stored.length]!])).toMatchObject({ reason: 'segment-from-another-image', message: expect.stringMatching(/done section/) });
    // Missing middle and truncated segments open as incomplete images, naming their reason (ewf-incomplete.hostile.test.ts).
    const incomplete = async (segments: Buffer[]) => (await EwfImage.open(segments.map((s) => new MemorySource(s)))).incomplete;
    expect(await incomplete([other[0]!, other[2]!])).toEqual([{ reason: 'segment-missing', message: expect.stringMatching(/segment 2 is missing/) }]);
    expect(await incomplete([other[0]!, other[1]!.subarray(0, 500_000), other[2]!])).toEqual([{ reason: 'segment-truncated', message: expect.stringMatching(/segment 2.*truncated/) }]);
    expect(await incomplete([other[0]!, other[1]!])).toEqual([{ reason: 'segment-missing', message: expect.stringMatching(/segment 3 is missing/) }]);
  });

  it('Ex01 (EWF2), VHDX and differencing VHD are recognised and refused as unsupported, with the reason', async () => {
    // ewfacquire 20140813 (Debian) writes no EWF2 even with -f encase7-v2: the Ex01 file header is written here.
    const ex01 = Buffer.alloc(4096);
    Buffer.from([0x45, 0x56, 0x46, 0x32, 0x0d, 0x0a, 0x81, 0x00, 0x02, 0x01]).copy(ex01);
    await expectCode(openDiskImage([new MemorySource(ex01)]), 'unsupported-format', /EWF version 2/);
    const vhdx = Buffer.alloc(1024 * 1024);
    vhdx.write('vhdxfile', 0, 'latin1');
    await expectCode(openDiskImage([new MemorySource(vhdx)]), 'unsupported-format', /VHDX/);
    writeDynamicVhd(p('fat16.img'), p('dyn.vhd'));
    const differencing = readFileSync(p('dyn.vhd'));
    const footerAt = differencing.length - 512;
    differencing.writeUInt32BE(4, footerAt + 60);
    differencing.writeUInt32BE(vhdChecksum(differencing.subarray(footerAt), 64), footerAt + 64);
    await expectCode(openDiskImage([new MemorySource(differencing)]), 'unsupported-format', /differencing/);
  });

  it('dynamic VHD: a BAT entry pointing outside the file fails the reads of that block, never reads outside', async () => {
    writeDynamicVhd(p('fat16.img'), p('bat.vhd'));
    const vhd = readFileSync(p('bat.vhd'));
    vhd.writeUInt32BE(0x7fffff00, 1536 + 3 * 4); // block 3 (bytes 1.5–2 MiB of the media)
    const source = new MemorySource(vhd);
    const disk = await openDiskImage([source]);
    await expectCode(disk.media.read(3 * 512 * 1024, 512), 'corrupt-file', /outside the file/);
    expect((await disk.media.read(0, 512))[510]).toBe(0x55);
    expect(source.furthest).toBeLessThanOrEqual(vhd.length);
  });
});
