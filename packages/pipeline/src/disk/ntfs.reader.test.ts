import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bumpSequence, deleteFile, editRecord, sequenceOf, setParent, sparseData, streamToReparsePoint } from '../../test/fixtures/disk/ntfs-craft.js';
import { fls, hasTool, icatMd5Many, istatMany, listAll, nineDigits, timesOf, type FlsLine, type Listed } from '../../test/fixtures/disk/tsk-oracle.js';
import { openFileByteSource } from './file-byte-source.js';
import { open, probe } from './ntfs.reader.js';

const haveTools = hasTool('mkntfs', ['--version']) && hasTool('ntfscp', ['--version']) && hasTool('fls');
if (!haveTools) console.warn('NTFS reader oracle tests skipped: mkntfs, ntfscp (ntfs-3g) or fls (sleuthkit) not found');

let work: string;

function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function file(name: string, content: Buffer | string): string {
  const p = path.join(work, name);
  writeFileSync(p, content);
  return p;
}

/** A fresh NTFS volume; `compressed` makes the root compressed, so files copied in are LZNT1-compressed. */
function makeVolume(name: string, compressed: boolean): string {
  const image = path.join(work, name);
  writeFileSync(image, '');
  truncateSync(image, 8 * 1024 * 1024);
  execFileSync('mkntfs', ['-q', '-F', '-f', ...(compressed ? ['-C'] : []), '-L', name.replace('.img', ''), image], { stdio: 'ignore' });
  return image;
}

function copyIn(image: string, source: string, dest: string, stream?: string): void {
  execFileSync('ntfscp', ['-q', ...(stream ? ['-N', stream] : []), image, source, dest], { stdio: 'ignore' });
}

function idOf(image: string, pathName: string): number {
  const line = fls(image).find((l) => l.path === pathName)!;
  return Number(line.id.split('-')[0]);
}

async function readImage(image: string): Promise<{ label?: string; listed: Listed[] }> {
  const source = await openFileByteSource(image);
  try {
    expect(await probe(source)).toBe(true);
    const reader = await open(source);
    expect(reader.type).toBe('ntfs');
    return { label: reader.label, listed: await listAll(reader) };
  } finally {
    await source.close();
  }
}

/** fls's lines and Exhibit's in one comparable form; the meta type is compared for files and directories. */
function lines(listed: Listed[]): string[] {
  return listed.map(({ entry: e }) => `${e.kind === 'directory' ? 'd' : e.kind === 'file' ? 'r' : '?'} ${e.allocated ? '' : '* '}${e.entryId}\t${e.path}`).sort();
}
function oracleLines(oracle: FlsLine[], listed: Listed[]): string[] {
  const other = new Set(listed.filter((l) => l.entry.kind === 'other').map((l) => l.entry.entryId));
  return oracle.map((l) => `${other.has(l.id) ? '?' : l.meta} ${l.deleted ? '* ' : ''}${l.id}\t${l.path}`).sort();
}

function compareWithOracle(image: string, listed: Listed[]): number {
  expect(lines(listed)).toEqual(oracleLines(fls(image, { orphans: true }), listed));
  const withData = listed.filter((l) => l.entry.kind === 'file');
  const ids = withData.map((l) => l.entry.entryId);
  const icat = icatMd5Many(image, ids);
  const istat = istatMany(image, [...new Set(ids.map((id) => id.split('-')[0]!))]);
  for (const { entry, md5, error } of withData) {
    expect({ path: entry.path, error, problem: entry.problem }).toEqual({ path: entry.path, error: undefined, problem: undefined });
    // $BadClus:$Bad is a sparse stream the size of the volume with an initialised size of 0: icat
    // prints nothing, Exhibit reads the recorded size as zeros (what Windows returns for it).
    if (entry.path !== '$BadClus:$Bad') expect({ path: entry.path, md5 }).toEqual({ path: entry.path, md5: icat.get(entry.entryId) });
    const t = timesOf(istat.get(entry.entryId.split('-')[0]!)!);
    // A FILETIME of 0 (mkntfs leaves $MFT's so) is "not recorded"; istat prints it wrapped to 2076-11-29T08:54:34.
    for (const k of Object.keys(t)) if (t[k] === '2076-11-29T08:54:34.000000000') delete t[k];
    expect({ path: entry.path, cr: nineDigits(entry.times.created?.local), m: nineDigits(entry.times.modified?.local), c: nineDigits(entry.times.changed?.local), a: nineDigits(entry.times.accessed?.local) }).toEqual({
      path: entry.path,
      cr: t['Created'],
      m: t['File Modified'],
      c: t['MFT Modified'],
      a: t['Accessed'],
    });
  }
  return withData.length;
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'exhibit-ntfs-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!haveTools)('NTFS reader against The Sleuth Kit', () => {
  it('resident and non-resident files, an index spilling into $INDEX_ALLOCATION, alternate data streams, an $ATTRIBUTE_LIST: listing, MD5 and times equal TSK', async () => {
    const image = makeVolume('plain.img', false);
    copyIn(image, file('small.txt', 'resident data\n'), 'small.txt');
    copyIn(image, file('photo.jpg', bytes(300_000, 1)), 'IMG_0001.JPG');
    copyIn(image, file('ads.bin', bytes(5000, 2)), 'IMG_0001.JPG', 'Zone.Identifier');
    copyIn(image, file('tiny-ads.txt', '[ZoneTransfer]\r\nZoneId=3\r\n'), 'small.txt', 'Zone.Identifier');
    // Six more streams overflow the 1 KiB record: ntfs-3g moves attributes out and writes an $ATTRIBUTE_LIST.
    copyIn(image, file('listed.bin', bytes(400, 7)), 'many-streams.txt');
    for (let i = 1; i <= 6; i++) copyIn(image, file(`s${i}.bin`, bytes(300, 20 + i)), 'many-streams.txt', `stream${i}`);
    for (let i = 0; i < 10; i++) copyIn(image, file(`n${i}.txt`, bytes(100 + i * 37, 10 + i)), `document-with-a-long-file-name-${String(i).padStart(2, '0')}.txt`);
    const { label, listed } = await readImage(image);
    expect(label).toBe('plain');
    const compared = compareWithOracle(image, listed);
    expect(compared).toBeGreaterThan(25);
    const ads = listed.find((l) => l.entry.path === 'IMG_0001.JPG:Zone.Identifier')!.entry;
    expect(ads).toMatchObject({ stream: 'Zone.Identifier', size: 5000, allocated: true });
    expect(listed.some((l) => l.entry.path.startsWith('$Extend/'))).toBe(true);
    expect(listed.filter((l) => l.entry.path.startsWith('many-streams.txt')).map((l) => l.entry.path)).toEqual([
      'many-streams.txt',
      ...[1, 2, 3, 4, 5, 6].map((i) => `many-streams.txt:stream${i}`),
    ]);
    expect(execFileSync('istat', [image, listed.find((l) => l.entry.path === 'many-streams.txt')!.entry.entryId], { encoding: 'utf8' })).toContain('$ATTRIBUTE_LIST');
  });

  it('ntfs-extension-record-stream-ids-collide: streams moved to extension records keep ids unique, numbered as TSK numbers them', async () => {
    // Thirty streams overflow the base record and two extension records. Each extension record numbers its
    // attributes from 0 again, so the stream ids written there collide with each other and with the base's.
    const image = makeVolume('many-streams.img', false);
    copyIn(image, file('base.txt', 'base\n'), 'ads.txt');
    for (let i = 1; i <= 30; i++) copyIn(image, file(`ads${i}.bin`, bytes(200 + i, 60 + i)), 'ads.txt', `stream${i}`);
    const { listed } = await readImage(image);
    // Before: 22 streams were listed under their raw, colliding ids (e.g. stream9 as 64-128-3, which icat
    // does not know, and stream10 as 64-128-4, which icat reads as stream1).
    compareWithOracle(image, listed);
    const streams = listed.filter((l) => l.entry.path.startsWith('ads.txt:'));
    expect(streams).toHaveLength(30);
    expect(new Set(streams.map((l) => l.entry.entryId)).size).toBe(30);
    for (const l of streams) {
      const i = Number(l.entry.path.slice('ads.txt:stream'.length));
      expect({ path: l.entry.path, md5: l.md5 }).toEqual({ path: l.entry.path, md5: createHash('md5').update(bytes(200 + i, 60 + i)).digest('hex') });
    }
  });

  it('ntfs-deleted-file-extension-records-lost: a deleted file whose name lies in an extension record, and one of whose extension records was reused, are listed as TSK lists them', async () => {
    // Thirty streams move the $FILE_NAME and most streams out to extension records. Deleted as NTFS deletes
    // (base record freed, name removed from the root's index), its name is only in an extension record.
    const image = makeVolume('deleted-extension.img', false);
    copyIn(image, file('base.txt', 'base\n'), 'ads.txt');
    for (let i = 1; i <= 30; i++) copyIn(image, file(`del${i}.bin`, bytes(200 + i, 90 + i)), 'ads.txt', `stream${i}`);
    const base = idOf(image, 'ads.txt');
    deleteFile(image, base);
    let listed = (await readImage(image)).listed;
    // Before: its name was looked for in the base record only, so it was listed as $OrphanFiles/OrphanFile-64.
    compareWithOracle(image, listed);
    expect(listed.find((l) => l.entry.path === 'ads.txt:stream30')?.entry).toMatchObject({ allocated: false, recovered: true });
    // An extension record freed with the file and reused by another (its base reference names that file now):
    // what the base record and the other extension records hold is still read.
    const extensions: Array<{ record: number; hasName: boolean }> = [];
    for (let record = base + 1; record < base + 8; record++) {
      editRecord(image, record, (r) => {
        if (r.toString('latin1', 0, 4) !== 'FILE' || r.readUIntLE(0x20, 6) !== base) return;
        let hasName = false;
        for (let pos = r.readUInt16LE(0x14); r.readUInt32LE(pos) !== 0xffffffff; pos += r.readUInt32LE(pos + 4)) hasName ||= r.readUInt32LE(pos) === 0x30;
        extensions.push({ record, hasName });
      });
    }
    const reused = extensions.find((e) => !e.hasName)!;
    expect(reused).toBeDefined();
    editRecord(image, reused.record, (r) => r.writeUIntLE(3, 0x20, 6)); // now an extension of record 3
    listed = (await readImage(image)).listed;
    // Before: the whole file was one entry with a corrupt-file problem, its streams and data not listed.
    compareWithOracle(image, listed);
    const deleted = listed.find((l) => l.entry.path === 'ads.txt')!.entry;
    expect(deleted).toMatchObject({ allocated: false, recovered: true });
    expect(deleted.problem).toBeUndefined();
  });

  it('ntfs-deleted-file-extension-record-of-another-use-read: an extension record naming the deleted file\'s record with another sequence number is not read as its own', async () => {
    // The record number of a deleted file is reused, freed and reused again: an extension record left from another
    // use names the same base record with another sequence number. Its streams are not this file's.
    const image = makeVolume('deleted-extension-seq.img', false);
    copyIn(image, file('base.txt', 'base\n'), 'ads.txt');
    for (let i = 1; i <= 30; i++) copyIn(image, file(`seq${i}.bin`, bytes(300 + i, 40 + i)), 'ads.txt', `stream${i}`);
    const base = idOf(image, 'ads.txt');
    deleteFile(image, base); // its sequence number bumped, as NTFS frees a record
    const seq = sequenceOf(image, base);
    let other: { record: number; streams: string[] } | undefined;
    for (let record = base + 1; record < base + 8 && !other; record++) {
      editRecord(image, record, (r) => {
        if (r.toString('latin1', 0, 4) !== 'FILE' || r.readUIntLE(0x20, 6) !== base) return;
        const streams: string[] = [];
        let hasName = false;
        for (let pos = r.readUInt16LE(0x14); r.readUInt32LE(pos) !== 0xffffffff; pos += r.readUInt32LE(pos + 4)) {
          hasName ||= r.readUInt32LE(pos) === 0x30;
          if (r.readUInt32LE(pos) === 0x80 && r[pos + 9]! > 0) streams.push(r.toString('utf16le', pos + r.readUInt16LE(pos + 0x0a), pos + r.readUInt16LE(pos + 0x0a) + r[pos + 9]! * 2));
        }
        if (hasName || streams.length === 0) return;
        expect(r.readUInt16LE(0x26)).toBe(seq - 1);
        r.writeUInt16LE(seq + 3, 0x26); // a later use of the record number
        other = { record, streams };
      });
    }
    expect(other).toBeDefined();
    const { listed } = await readImage(image);
    const paths = listed.map((l) => l.entry.path);
    expect(paths).toContain('ads.txt');
    expect(listed.find((l) => l.entry.path === 'ads.txt')!.entry.problem).toBeUndefined();
    // Before: its streams were listed as the deleted file's, with their content.
    for (const stream of other!.streams) expect(paths).not.toContain(`ads.txt:${stream}`);
    const kept = listed.filter((l) => l.entry.path.startsWith('ads.txt:'));
    expect(kept.length).toBe(30 - other!.streams.length);
    for (const l of kept) {
      const i = Number(l.entry.path.slice('ads.txt:stream'.length));
      expect({ path: l.entry.path, md5: l.md5 }).toEqual({ path: l.entry.path, md5: createHash('md5').update(bytes(300 + i, 40 + i)).digest('hex') });
    }
  });

  it('LZNT1-compressed files, a deleted file (record freed, name removed from its index) and an orphan equal TSK; deleted ones are flagged and recovered', async () => {
    const image = makeVolume('compressed.img', true);
    const text = Buffer.from('forensic evidence compresses well. '.repeat(3000));
    copyIn(image, file('text.txt', text), 'report.txt');
    copyIn(image, file('mixed.bin', Buffer.concat([bytes(40_000, 3), Buffer.alloc(70_000), text.subarray(0, 30_000)])), 'mixed.bin');
    copyIn(image, file('gone.jpg', bytes(50_000, 4)), 'gone.jpg');
    copyIn(image, file('orphan.jpg', bytes(9_000, 5)), 'orphan.jpg');
    deleteFile(image, idOf(image, 'gone.jpg'));
    // A deleted file whose folder is gone (its parent reference's sequence no longer matches): TSK's $OrphanFiles.
    const orphan = idOf(image, 'orphan.jpg');
    deleteFile(image, orphan);
    editRecord(image, orphan, (r) => {
      for (let pos = r.readUInt16LE(0x14); r.readUInt32LE(pos) !== 0xffffffff; pos += r.readUInt32LE(pos + 4)) {
        if (r.readUInt32LE(pos) === 0x30) r.writeUInt16LE(99, pos + r.readUInt16LE(pos + 0x14) + 6);
      }
    });
    const { listed } = await readImage(image);
    compareWithOracle(image, listed);
    expect(listed.find((l) => l.entry.path === '$OrphanFiles/orphan.jpg')?.entry).toMatchObject({ allocated: false, recovered: true, size: 9000 });
    const gone = listed.find((l) => l.entry.path === 'gone.jpg')!;
    expect(gone.entry).toMatchObject({ allocated: false, recovered: true });
    const report = listed.find((l) => l.entry.path === 'report.txt')!;
    expect(report.md5).toBe(execFileSync('md5sum', [path.join(work, 'text.txt')], { encoding: 'utf8' }).split(' ')[0]);
  });

  // ntfs-3g through FUSE is the one tool here that deletes a folder as NTFS does (each record freed, its
  // sequence number bumped); without FUSE (or root) the test is skipped and says so.
  it('ntfs-deleted-folder-files-listed-as-orphans: a deleted folder tree is listed where it was, as TSK lists it', async (ctx) => {
    const image = makeVolume('deleted-folder.img', false);
    const mnt = path.join(work, 'mnt');
    mkdirSync(mnt);
    try {
      execFileSync('ntfs-3g', ['-o', 'loop', image, mnt], { stdio: 'ignore' });
    } catch {
      ctx.skip('ntfs-3g could not mount (no FUSE or not root): no tool here deletes an NTFS folder without it');
    }
    try {
      mkdirSync(path.join(mnt, 'Holiday', 'Day 1'), { recursive: true });
      writeFileSync(path.join(mnt, 'Holiday', 'Day 1', 'IMG_0001.JPG'), bytes(9_000, 30));
      writeFileSync(path.join(mnt, 'Holiday', 'notes.txt'), 'resident notes\n');
      writeFileSync(path.join(mnt, 'kept.txt'), 'kept\n');
      rmSync(path.join(mnt, 'Holiday'), { recursive: true });
    } finally {
      execFileSync('umount', [mnt], { stdio: 'ignore' });
    }
    const { listed } = await readImage(image);
    compareWithOracle(image, listed);
    // Before: the folder was listed but not read, and its files appeared as $OrphanFiles/IMG_0001.JPG etc.
    const byPath = new Map(listed.map((l) => [l.entry.path, l]));
    expect(byPath.get('Holiday')?.entry).toMatchObject({ allocated: false, kind: 'directory' });
    expect(byPath.get('Holiday/Day 1')?.entry).toMatchObject({ allocated: false, kind: 'directory' });
    expect(byPath.get('Holiday/notes.txt')?.entry).toMatchObject({ allocated: false, recovered: true });
    const photo = byPath.get('Holiday/Day 1/IMG_0001.JPG')!;
    expect(photo.entry).toMatchObject({ allocated: false, recovered: true, size: 9_000 });
    expect(photo.md5).toBe(createHash('md5').update(bytes(9_000, 30)).digest('hex'));
    expect(listed.filter((l) => l.entry.path.startsWith('$OrphanFiles/') && !/OrphanFile-\d+$/.test(l.entry.path))).toEqual([]);
  });

  it('ntfs-wof-cloud-placeholder-read-as-zeros: WOF-compressed files and cloud placeholders not downloaded get a problem, not zeros as content', async (ctx) => {
    const image = makeVolume('reparse.img', false);
    const mnt = path.join(work, 'mnt-reparse');
    mkdirSync(mnt);
    try {
      execFileSync('ntfs-3g', ['-o', 'loop,streams_interface=windows', image, mnt], { stdio: 'ignore' });
    } catch {
      ctx.skip('ntfs-3g could not mount (no FUSE or not root): no tool here sets a reparse point without it');
    }
    // Reparse buffers as Windows writes them: tag, data length, reserved, then the tag's data.
    const reparse = (tag: number, data: Buffer) => Buffer.concat([Buffer.from(Uint32Array.of(tag).buffer), Buffer.from(Uint16Array.of(data.length, 0).buffer), data]);
    const wof = reparse(0x80000017, Buffer.from(Uint32Array.of(1, 2, 1, 0).buffer)); // WOF, file provider, XPRESS4K
    const cloud = reparse(0x9000601a, Buffer.alloc(8, 1)); // IO_REPARSE_TAG_CLOUD_6 (OneDrive)
    try {
      // CompactOS leaves the unnamed $DATA sparse (all zeros) and the compressed bytes in a named stream.
      writeFileSync(path.join(mnt, 'notepad.exe'), '');
      truncateSync(path.join(mnt, 'notepad.exe'), 70_000);
      writeFileSync(path.join(mnt, 'notepad.exe:WofCompressedData'), bytes(9_000, 40));
      writeFileSync(path.join(mnt, 'online-only.docx'), '');
      truncateSync(path.join(mnt, 'online-only.docx'), 50_000);
      writeFileSync(path.join(mnt, 'downloaded.docx'), bytes(20_000, 41));
      writeFileSync(path.join(mnt, 'plain.txt'), 'plain\n');
      const setReparse = (name: string, value: Buffer) =>
        execFileSync('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], "system.ntfs_reparse_data", bytes.fromhex(sys.argv[2]))', path.join(mnt, name), value.toString('hex')]);
      setReparse('notepad.exe', wof);
      setReparse('online-only.docx', cloud);
      setReparse('downloaded.docx', cloud);
    } finally {
      execFileSync('umount', [mnt], { stdio: 'ignore' });
    }
    const { listed } = await readImage(image);
    const byPath = new Map(listed.map((l) => [l.entry.path, l]));
    // Before: both read as 70,000 and 50,000 zero bytes, an MD5 no real file has.
    expect(byPath.get('notepad.exe')?.entry).toMatchObject({ size: 70_000, problem: { code: 'unsupported-format', message: expect.stringMatching(/WOF/) } });
    expect(byPath.get('notepad.exe')?.entry.data).toBeUndefined();
    expect(byPath.get('online-only.docx')?.entry).toMatchObject({ problem: { code: 'unsupported-format', message: expect.stringMatching(/cloud placeholder/) } });
    // The compressed stream is listed as the stream it is; a downloaded cloud file and a plain one are read.
    expect(byPath.get('notepad.exe:WofCompressedData')?.md5).toBe(createHash('md5').update(bytes(9_000, 40)).digest('hex'));
    expect(byPath.get('downloaded.docx')?.md5).toBe(createHash('md5').update(bytes(20_000, 41)).digest('hex'));
    expect(byPath.get('plain.txt')?.entry.problem).toBeUndefined();
    // TSK gives the zeros as the content.
    expect(execFileSync('icat', [image, byPath.get('notepad.exe')!.entry.entryId]).equals(Buffer.alloc(70_000))).toBe(true);
  });

  it('ntfs-nonresident-reparse-point-read-as-zeros: a cloud placeholder or WOF file whose reparse data lies in clusters gets a problem, not its $DATA as content', async () => {
    // Reparse data too large for the 1 KiB record (a cloud provider's long placeholder data) is stored
    // non-resident. Built without FUSE: a stream written non-resident becomes the $REPARSE_POINT.
    const image = makeVolume('reparse-nonresident.img', false);
    const reparse = (tag: number, data: Buffer) => Buffer.concat([Buffer.from(Uint32Array.of(tag).buffer), Buffer.from(Uint16Array.of(data.length, 0).buffer), data]);
    copyIn(image, file('placeholder.bin', bytes(50_000, 50)), 'online-only.docx');
    copyIn(image, file('cloud-reparse.bin', reparse(0x9000601a, bytes(3_000, 51))), 'online-only.docx', 'zz'); // IO_REPARSE_TAG_CLOUD_6
    copyIn(image, file('wof-data.bin', bytes(70_000, 52)), 'notepad.exe');
    copyIn(image, file('wof-reparse.bin', reparse(0x80000017, bytes(2_000, 53))), 'notepad.exe', 'zz');
    copyIn(image, file('symlink-like.bin', bytes(20_000, 54)), 'other-reparse.txt');
    copyIn(image, file('other-reparse.bin', reparse(0xa000000c, bytes(2_000, 55))), 'other-reparse.txt', 'zz'); // a symbolic link's tag: $DATA is the content
    for (const name of ['online-only.docx', 'notepad.exe', 'other-reparse.txt']) streamToReparsePoint(image, idOf(image, name), 'zz');
    sparseData(image, idOf(image, 'online-only.docx')); // not downloaded: the $DATA is one sparse run
    const { listed } = await readImage(image);
    const byPath = new Map(listed.map((l) => [l.entry.path, l]));
    expect(execFileSync('istat', [image, String(idOf(image, 'online-only.docx'))], { encoding: 'utf8' })).toMatch(/\$REPARSE_POINT \(192-\d+\)\s+Name: N\/A\s+Non-Resident/);
    // Before: the placeholder read as 50,000 zeros and the WOF file as its $DATA, only the resident reparse tag was looked at.
    expect(byPath.get('online-only.docx')?.entry).toMatchObject({ size: 50_000, problem: { code: 'unsupported-format', message: expect.stringMatching(/cloud placeholder/) } });
    expect(byPath.get('online-only.docx')?.entry.data).toBeUndefined();
    expect(byPath.get('notepad.exe')?.entry).toMatchObject({ size: 70_000, problem: { code: 'unsupported-format', message: expect.stringMatching(/WOF/) } });
    expect(byPath.get('notepad.exe')?.entry.data).toBeUndefined();
    expect(byPath.get('other-reparse.txt')?.md5).toBe(createHash('md5').update(bytes(20_000, 54)).digest('hex'));
  });

  it('ntfs-reused-folder-record-adopts-older-files: a folder record freed, reused and freed again lists only the files of the folder it held last', async () => {
    // Record 11 ($Extend, a directory on every fresh volume) stands for a folder deleted twice: it held old.txt,
    // was deleted (sequence + 1), reused for a folder holding newer.txt, and deleted again (sequence + 1).
    // Built without FUSE: the files are deleted from the root, then their $FILE_NAME pointed at record 11.
    const image = makeVolume('reused-folder.img', false);
    copyIn(image, file('old.txt', 'in the folder the record held first\n'), 'old.txt');
    copyIn(image, file('newer.txt', 'in the folder that reused the record\n'), 'newer.txt');
    const [oldId, newerId] = [idOf(image, 'old.txt'), idOf(image, 'newer.txt')];
    const first = sequenceOf(image, 11);
    deleteFile(image, oldId);
    deleteFile(image, newerId);
    setParent(image, oldId, 11, first);
    setParent(image, newerId, 11, first + 1);
    deleteFile(image, 11); // the reusing folder deleted: sequence first + 1 → first + 2
    bumpSequence(image, 11);
    expect(sequenceOf(image, 11)).toBe(first + 2);
    const { listed } = await readImage(image);
    const paths = listed.map((l) => l.entry.path);
    expect(listed.find((l) => l.entry.path === '$Extend')?.entry).toMatchObject({ allocated: false, kind: 'directory' });
    expect(listed.find((l) => l.entry.path === '$Extend/newer.txt')?.entry).toMatchObject({ allocated: false, recovered: true });
    // old.txt names the record with a sequence number two behind: another folder, so not in this one.
    expect(paths).not.toContain('$Extend/old.txt');
    expect(paths).toContain('$OrphanFiles/old.txt');
    // As TSK lists them (it checks the same sequence number).
    const concerned = (l: string) => /(old|newer)\.txt$|\t\$Extend$/.test(l);
    const ours = lines(listed).filter(concerned);
    expect(ours).toHaveLength(3);
    expect(ours).toEqual(oracleLines(fls(image, { orphans: true }), listed).filter(concerned));
  });
});
