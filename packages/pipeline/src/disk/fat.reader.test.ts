import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyseEntryName } from '../archive/entry-name.js';
import { FileByteSource } from './byte-source.js';
import type { FileSystemEntry } from './disk-reader.types.js';
import { openFat } from './fat.reader.js';
import { fls, missingTools, run } from './test-support/disk-image.builder.js';

/**
 * FAT directory shapes that real cards carry and the oracle images do not:
 * each built with mkfs.fat and mtools at test time, compared with TSK's
 * `fls -r -p` where TSK is right, and with the structure bytes where it is not.
 */

const missing = missingTools();
if (missing.length) console.warn(`FAT reader tests skipped: ${missing.join(', ')} not found (apt-get install sleuthkit dosfstools mtools)`);

let dir = '';
const p = (name: string) => path.join(dir, name);

function newVolume(name: string): string {
  const img = p(name);
  run('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'CARD', img, '8192']);
  return img;
}

function put(img: string, name: string, text: string): void {
  writeFileSync(p('payload'), text);
  run('mcopy', ['-i', img, p('payload'), `::${name}`]);
}

async function list(img: string): Promise<FileSystemEntry[]> {
  const source = await FileByteSource.open(img);
  try {
    const out: FileSystemEntry[] = [];
    for await (const e of (await openFat(source)).entries()) out.push(e);
    return out;
  } finally {
    await source.close();
  }
}

describe.skipIf(missing.length > 0)('FAT directory shapes', () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-fat-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fat-deleted-lfn-first-slot-reused-truncated-name: a deleted long name whose first slot a new file took keeps its short name', async () => {
    const img = newVolume('reused.img');
    // 47 characters: four long-name slots, the name's end ("otograph.jpg") in the first.
    put(img, '/A very long file name of the holiday photograph.jpg', 'holiday\n');
    put(img, '/Deleted but whole.jpg', 'whole\n');
    run('mdel', ['-i', img, '::/A very long file name of the holiday photograph.jpg', '::/Deleted but whole.jpg']);
    // A short-only name needs one slot: mtools (like a camera or Windows) takes the first free one,
    // the deleted set's first slot. The three slots left hold the name's first 39 characters.
    put(img, '/IMG_0005.JPG', 'new photo\n');
    const entries = await list(img);
    const tsk = fls([img]);
    // TSK joins the three parts left and prints a name the file never had.
    expect(tsk.find((e) => e.entryId === '8')?.path).toBe('A very long file name of the holiday ph');
    expect(entries.find((e) => e.entryId === '8')).toMatchObject({ path: '_VERYL~1.JPG', allocated: false });
    expect(entries.some((e) => e.path.startsWith('A very long file name'))).toBe(false);
    // A deleted set still whole (its name's end holds the terminator) keeps its long name; the rest is TSK's listing.
    const asTsk = (e: FileSystemEntry) => ({ entryId: e.entryId, path: e.path, deleted: !e.allocated });
    expect(entries.filter((e) => e.entryId !== '8').map(asTsk)).toEqual(tsk.filter((e) => e.entryId !== '8').map(({ entryId, path: name, deleted }) => ({ entryId, path: name, deleted })));
    expect(entries.find((e) => e.path === 'Deleted but whole.jpg')).toMatchObject({ allocated: false });
  });

  it('fat-deleted-lfn-cut-at-13-listed-as-whole: a deleted long name cut to a multiple of 13 by a reused first slot keeps its short name, even ending in its extension', async () => {
    const img = newVolume('cut13.img');
    // 30 characters: three slots, the first (in disk order) holding only "pdf" and the terminator.
    put(img, '/Quarterly report 2019a.pdf.pdf', 'original\n');
    run('mdel', ['-i', img, '::/Quarterly report 2019a.pdf.pdf']);
    // NEW.TXT takes that first slot: the two left hold the first 26 characters, full, no terminator,
    // ending in ".pdf" like the short name's extension: nothing tells the cut name from a whole one.
    put(img, '/NEW.TXT', 'new\n');
    const entries = await list(img);
    const tsk = fls([img]);
    const cut = tsk.find((e) => e.path === 'Quarterly report 2019a.pdf');
    expect(cut).toMatchObject({ deleted: true }); // fls prints the name the file never had
    expect(entries.find((e) => e.entryId === cut!.entryId)).toMatchObject({ path: '_UARTE~1.PDF', allocated: false });
    expect(entries.some((e) => e.path.startsWith('Quarterly report'))).toBe(false);
    expect(entries.find((e) => e.path === 'NEW.TXT')).toMatchObject({ allocated: true });
  });

  it('fat-oem-short-name-read-as-latin1: short-only names with OEM code page bytes keep each byte, escaped, never a guessed letter', async () => {
    const img = newVolume('oem.img');
    // mtools (in a UTF-8 locale), like Windows, stores a name that fits 8.3 in the OEM code page as a
    // short entry only: 'ÉTÉ.TXT' as 90 54 90 (CP850), 'ärger.txt' as 8E 'RGER' 'TXT' with the NT
    // lower-case flags. mtools' conversion depends on the test's locale, so the ASCII names are
    // written and their first bytes set to those code page bytes.
    put(img, '/ETE.TXT', 'one\n');
    put(img, '/arger.txt', 'two\n');
    put(img, '/plain.txt', 'three\n');
    const bytes = readFileSync(img);
    for (const [name, patch] of [['ETE     TXT', [0x90, 0x54, 0x90]], ['ARGER   TXT', [0x8e]]] as const) {
      const at = bytes.indexOf(Buffer.from(name, 'latin1'));
      expect(at).toBeGreaterThan(0);
      bytes.set(patch, at);
    }
    writeFileSync(img, bytes);
    const entries = await list(img);
    // Latin-1 made 0x90 the C1 control U+0090 and 0x8E U+008E; the volume does not say its code page.
    expect(entries.map((e) => e.path)).toEqual(['\udc90T\udc90.TXT', '\udc8erger.txt', 'plain.txt']);
    // TSK prints '^' for each such byte: the same names, less exactly.
    expect(entries.map((e) => e.path.replace(/[\udc80-\udcff]/g, '^'))).toEqual(fls([img]).map((e) => e.path));
    // The entry-name analysis shows the byte visibly and flags the name.
    const named = analyseEntryName(entries[1]!.path, { maxNameBytes: 1024, entryIndex: 1 });
    expect(named).toMatchObject({ recordedName: '\\u{dc8e}rger.txt', displayPath: '\\u{dc8e}rger.txt' });
    expect(named.flags).toContain('odd-name');
  });

  it('fat-label-from-boot-sector-after-relabel: the label is the root directory\'s label entry, which Windows rewrites; the boot sector keeps the old one', async () => {
    const img = newVolume('relabelled.img'); // formatted as CARD: both copies say so
    const bytes = readFileSync(img);
    // Relabelled in Windows: only the root directory's entry changes.
    const at = bytes.indexOf(Buffer.from('CARD       \x08', 'latin1'), 512);
    expect(at).toBeGreaterThan(512);
    bytes.write('HOLIDAY 24 ', at, 'latin1');
    writeFileSync(img, bytes);
    const fsstat = run('fsstat', [img]).toString();
    expect(fsstat).toMatch(/Volume Label \(Boot Sector\): CARD/);
    expect(fsstat).toMatch(/Volume Label \(Root Directory\): HOLIDAY 24/);
    const source = await FileByteSource.open(img);
    try {
      expect((await openFat(source)).label).toBe('HOLIDAY 24');
    } finally {
      await source.close();
    }
    // No label entry in the root: the boot sector's label stands.
    const plain = p('boot-label-only.img');
    run('mkfs.fat', ['-C', '-F', '12', '-n', 'BOOTONLY', plain, '1024']);
    const raw = readFileSync(plain);
    raw[raw.indexOf(Buffer.from('BOOTONLY   \x08', 'latin1'), 512)] = 0xe5; // the entry deleted
    writeFileSync(plain, raw);
    const other = await FileByteSource.open(plain);
    try {
      expect((await openFat(other)).label).toBe('BOOTONLY');
    } finally {
      await other.close();
    }
  });
});
