import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LIMITS } from '@exhibit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editRecord, geometry, sequenceOf, writeAt } from '../../test/fixtures/disk/ntfs-craft.js';
import { fls, hasTool, listAll } from '../../test/fixtures/disk/tsk-oracle.js';
import { bytesByteSource } from './file-byte-source.js';
import { lznt1Decompress } from './ntfs-lznt1.js';
import { open } from './ntfs.reader.js';

/**
 * Hostile NTFS volumes: a torn record (bad fixup), a run beyond the volume, a
 * directory that names itself, an impossible attribute, absurd record sizes —
 * each a typed problem on the entry or a typed failure of the volume.
 */
const haveTools = hasTool('mkntfs', ['--version']) && hasTool('ntfscp', ['--version']) && hasTool('fls');
if (!haveTools) console.warn('NTFS hostile tests skipped: mkntfs or ntfscp (ntfs-3g) or fls (sleuthkit) not found');

let work: string;
let image: string;
const ids: Record<string, number> = {};

function findAttr(r: Buffer, type: number): number {
  for (let pos = r.readUInt16LE(0x14); r.readUInt32LE(pos) !== 0xffffffff; pos += r.readUInt32LE(pos + 4)) if (r.readUInt32LE(pos) === type) return pos;
  throw new Error(`no attribute 0x${type.toString(16)}`);
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'exhibit-ntfs-hostile-'));
  image = path.join(work, 'hostile.img');
  writeFileSync(image, '');
  truncateSync(image, 8 * 1024 * 1024);
  execFileSync('mkntfs', ['-q', '-F', '-f', image], { stdio: 'ignore' });
  for (const name of ['torn.bin', 'far-run.bin', 'bad-attr.bin', 'fine.bin']) {
    const local = path.join(work, name);
    writeFileSync(local, Buffer.alloc(20_000, name.length));
    execFileSync('ntfscp', ['-q', image, local, name], { stdio: 'ignore' });
  }
  for (const line of fls(image)) ids[line.path] = Number(line.id.split('-')[0]);

  const g = geometry(image);
  // A torn write: the last two bytes of the record's first sector no longer carry the update sequence number.
  const torn = g.mftOffset + ids['torn.bin']! * g.recordSize + 510;
  const b = readFileSync(image);
  b.writeUInt16LE(b.readUInt16LE(torn) ^ 0xffff, torn);
  writeFileSync(image, b);
  // The data run's cluster offset moved far past the volume's end.
  editRecord(image, ids['far-run.bin']!, (r) => {
    const data = findAttr(r, 0x80);
    const run = data + r.readUInt16LE(data + 0x20);
    const lenBytes = r[run]! & 0x0f;
    const offBytes = r[run]! >> 4;
    r.writeUIntLE(2 ** (8 * Math.min(offBytes, 6) - 2), run + 1 + lenBytes, Math.min(offBytes, 6));
  });
  // An attribute whose length runs past the record.
  editRecord(image, ids['bad-attr.bin']!, (r) => {
    const data = findAttr(r, 0x80);
    r.writeUInt32LE(0x7ffffff8, data + 4);
  });
  // $Extend's index names $Extend itself where $Quota was: a directory loop.
  editRecord(image, 11, (r) => {
    const root = findAttr(r, 0x90);
    const header = root + r.readUInt16LE(root + 0x14) + 0x10;
    for (let pos = header + r.readUInt32LE(header); !(r.readUInt32LE(pos + 12) & 2); pos += r.readUInt16LE(pos + 8)) {
      if (r.toString('utf16le', pos + 0x10 + 0x42, pos + 0x10 + 0x42 + 12) === '$Quota') {
        r.writeUInt32LE(11, pos);
        r.writeUInt16LE(0, pos + 4);
        r.writeUInt16LE(r.readUInt16LE(0x10), pos + 6);
      }
    }
  });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!haveTools)('NTFS reader on hostile volumes', () => {
  it('a torn record, a run beyond the volume, an impossible attribute and a directory loop are typed problems on those entries; the rest is read', async () => {
    const listed = await listAll(await open(bytesByteSource(readFileSync(image))));
    const problem = (p: string) => listed.find((l) => l.entry.path === p)?.entry.problem;
    expect(problem('torn.bin')).toMatchObject({ code: 'corrupt-file', message: expect.stringContaining('bad fixup') });
    expect(problem('far-run.bin')).toMatchObject({ code: 'corrupt-file', message: expect.stringContaining('beyond the volume') });
    expect(problem('bad-attr.bin')).toMatchObject({ code: 'corrupt-file', message: expect.stringContaining('impossible length') });
    expect(problem('$Extend/$Quota')).toMatchObject({ code: 'corrupt-file', message: expect.stringContaining('directory loop') });
    const fine = listed.find((l) => l.entry.path === 'fine.bin')!;
    expect(fine.md5).toBe(createHash('md5').update(Buffer.alloc(20_000, 'fine.bin'.length)).digest('hex'));
    expect(fine.entry.problem).toBeUndefined();
    expect(fine.entry.size).toBe(20_000);
  });

  it('an aborted listing stops with a typed aborted error', async () => {
    const controller = new AbortController();
    const reader = await open(bytesByteSource(readFileSync(image)));
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const e of reader.entries({ abortSignal: controller.signal })) {
          seen.push(e.path);
          controller.abort();
        }
      })(),
    ).rejects.toMatchObject({ code: 'aborted' });
    expect(seen.length).toBeLessThan(4);
  });

  it('absurd MFT record sizes and an MFT outside the volume are typed failures of the volume', async () => {
    const base = readFileSync(image);
    const withByte = (offset: number, value: number) => {
      const b = Buffer.from(base);
      b[offset] = value;
      return bytesByteSource(b);
    };
    await expect(open(withByte(0x40, 0x100 - 40))).rejects.toMatchObject({ code: 'limit-exceeded' }); // 2^40-byte records
    await expect(open(withByte(0x40, 100))).rejects.toMatchObject({ code: 'limit-exceeded' }); // 100 clusters: not a power of two
    await expect(open(withByte(0x37, 0x7f))).rejects.toMatchObject({ code: 'corrupt-file' }); // MFT cluster far outside
  });

  it('ntfs-attribute-list-attributes-unbounded: a list naming 1 800 extension records of 39 attributes each fails that file (limit-exceeded), fast; the rest is read', async () => {
    // A hostile $ATTRIBUTE_LIST may name up to 40 000 records of dozens of attributes each (~1.3M), and each was
    // matched against every attribute kept so far: quadratic, unbounded (minutes here). Built on a fresh volume:
    // the MFT's run is lengthened over the free MFT zone, filled with extension records of x.bin, and x.bin's
    // base record given a non-resident list naming each of them.
    const img = path.join(work, 'many-attributes.img');
    writeFileSync(img, '');
    truncateSync(img, 64 * 1024 * 1024);
    execFileSync('mkntfs', ['-q', '-F', '-f', '-c', '4096', img], { stdio: 'ignore' });
    for (const name of ['x.bin', 'fine.bin']) {
      writeFileSync(path.join(work, name), Buffer.alloc(3000, name.length));
      execFileSync('ntfscp', ['-q', img, path.join(work, name), name], { stdio: 'ignore' });
    }
    const rec: Record<string, number> = {};
    for (const line of fls(img)) rec[line.path] = Number(line.id.split('-')[0]);
    const x = rec['x.bin']!;
    const g = geometry(img);
    expect([g.clusterSize, g.recordSize]).toEqual([4096, 1024]);
    // The MFT's one run, lengthened (a 2-byte length) over the free MFT zone that follows it.
    let firstCrafted = 0;
    let clusters = 0;
    editRecord(img, 0, (r) => {
      const data = findAttr(r, 0x80);
      const run = data + r.readUInt16LE(data + 0x20);
      expect(r[run]).toBe(0x11);
      const start = r[run + 2]!;
      firstCrafted = Number(r.readBigUInt64LE(data + 0x30)) / g.recordSize;
      clusters = Math.ceil(((firstCrafted + 1800) * g.recordSize) / g.clusterSize);
      expect(start * g.clusterSize).toBe(g.mftOffset);
      Buffer.from([0x12, clusters & 0xff, clusters >> 8, start, 0]).copy(r, run);
      r.writeBigUInt64LE(BigInt(clusters - 1), data + 0x18);
      for (const at of [0x28, 0x30, 0x38]) r.writeBigUInt64LE(BigInt(clusters * g.clusterSize), data + at);
    });
    const crafted = (clusters * g.clusterSize) / g.recordSize - firstCrafted;
    const seq = sequenceOf(img, x);
    const listBytes = Buffer.alloc(crafted * 0x20);
    for (let k = 0; k < crafted; k++) {
      const number = firstCrafted + k;
      const r = Buffer.alloc(g.recordSize);
      r.write('FILE', 0, 'latin1');
      r.writeUInt16LE(0x30, 4); // update sequence array
      r.writeUInt16LE(3, 6);
      r.writeUInt16LE(1, 0x10);
      r.writeUInt16LE(0x38, 0x14);
      r.writeUInt16LE(1, 0x16); // in use
      r.writeUInt32LE(g.recordSize, 0x1c);
      r.writeUIntLE(x, 0x20, 6); // base record: x.bin
      r.writeUInt16LE(seq, 0x26);
      r.writeUInt32LE(number, 0x2c);
      let pos = 0x38;
      for (let j = 0; j < 39; j++, pos += 0x18) {
        r.writeUInt32LE(0x1000 + k * 64 + j, pos); // a type of its own: never a piece of another, never an id taken
        r.writeUInt32LE(0x18, pos + 4);
        r.writeUInt16LE(0x18, pos + 0x0a);
        r.writeUInt16LE(j, pos + 0x0e);
        r.writeUInt16LE(0x18, pos + 0x14);
      }
      r.writeUInt32LE(0xffffffff, pos);
      r.writeUInt32LE(pos + 8, 0x18);
      r.writeUInt16LE(1, 0x30); // update sequence number; the sectors' last two bytes (zero) are kept in the array
      r.writeUInt16LE(1, 510);
      r.writeUInt16LE(1, 1022);
      writeAt(img, g.mftOffset + number * g.recordSize, r);
      // The list names one attribute of each record: every record is then read, with all its attributes.
      const e = k * 0x20;
      listBytes.writeUInt32LE(0x1000 + k * 64, e);
      listBytes.writeUInt16LE(0x20, e + 4);
      listBytes[e + 7] = 0x1a;
      listBytes.writeUIntLE(number, e + 0x10, 6);
      listBytes.writeUInt16LE(1, e + 0x16);
    }
    const listCluster = 3000; // free on a fresh 64 MiB volume (its files lie at 2051-2128 and 8191 on)
    const listClusters = Math.ceil(listBytes.length / g.clusterSize);
    writeAt(img, listCluster * g.clusterSize, listBytes);
    editRecord(img, x, (r) => {
      const used = r.readUInt32LE(0x18);
      const si = r.readUInt16LE(0x14);
      const after = si + r.readUInt32LE(si + 4); // attributes in type order: the list follows $STANDARD_INFORMATION
      const list = Buffer.alloc(0x48);
      list.writeUInt32LE(0x20, 0);
      list.writeUInt32LE(0x48, 4);
      list[8] = 1; // non-resident
      list.writeUInt16LE(0x40, 0x0a);
      list.writeUInt16LE(r.readUInt16LE(0x28), 0x0e);
      list.writeBigUInt64LE(BigInt(listClusters - 1), 0x18);
      list.writeUInt16LE(0x40, 0x20);
      list.writeBigUInt64LE(BigInt(listClusters * g.clusterSize), 0x28);
      list.writeBigUInt64LE(BigInt(listBytes.length), 0x30);
      list.writeBigUInt64LE(BigInt(listBytes.length), 0x38);
      Buffer.from([0x21, listClusters, listCluster & 0xff, listCluster >> 8]).copy(list, 0x40);
      const tail = Buffer.from(r.subarray(after, used));
      list.copy(r, after);
      tail.copy(r, after + list.length);
      r.writeUInt32LE(used + list.length, 0x18);
      r.writeUInt16LE(r.readUInt16LE(0x28) + 1, 0x28);
    });
    expect(crafted * 39).toBeGreaterThan(LIMITS.maxNtfsAttributesPerFile);

    const started = Date.now();
    const listed = await listAll(await open(bytesByteSource(readFileSync(img))));
    // Before: out.find/out.some over every attribute kept, ~70 000 of them (minutes, no limit).
    expect(Date.now() - started).toBeLessThan(20_000);
    const entry = (p: string) => listed.find((l) => l.entry.path === p);
    expect(entry('x.bin')?.entry.problem).toMatchObject({ code: 'limit-exceeded', message: expect.stringContaining('LIMITS.maxNtfsAttributesPerFile') });
    expect(entry('fine.bin')?.entry.problem).toBeUndefined();
    expect(entry('fine.bin')?.md5).toBe(createHash('md5').update(Buffer.alloc(3000, 'fine.bin'.length)).digest('hex'));
  });

  it('LZNT1: a back reference before the start of the chunk or a chunk past the data is corrupt-file, never a read outside', () => {
    const out = new Uint8Array(4096);
    // Chunk header: compressed, 4 bytes; flag byte 0x01 then a back reference at output position 0.
    expect(() => lznt1Decompress(Uint8Array.from([0x02, 0xb0, 0x01, 0x00, 0x10]), out)).toThrow(expect.objectContaining({ code: 'corrupt-file' }));
    expect(() => lznt1Decompress(Uint8Array.from([0xff, 0xbf, 0x00, 0x41]), out)).toThrow(expect.objectContaining({ code: 'corrupt-file' }));
    // A literal then a back reference of distance 1, length 3: "aaaa".
    const ok = new Uint8Array(4);
    expect(lznt1Decompress(Uint8Array.from([0x03, 0xb0, 0x02, 0x61, 0x00, 0x00]), ok)).toBe(4);
    expect(Buffer.from(ok).toString()).toBe('aaaa');
  });
});
