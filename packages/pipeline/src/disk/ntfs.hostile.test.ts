import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editRecord, geometry } from '../../test/fixtures/disk/ntfs-craft.js';
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
