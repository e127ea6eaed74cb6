import { closeSync, mkdirSync, openSync, readFileSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { adler32 } from '../ewf-image.container.js';
import { run, SECTOR } from './disk-image.builder.js';

/**
 * Test support (not a test): a camera memory card as an examiner receives it
 * — FAT32 with DCIM photos, one of them deleted — built with the real tools
 * (mkfs.fat, mmd, mcopy -m, mdel) and wrapped as E01 with ewfacquire; and
 * an ext4 volume built with mke2fs -d. Used by the unpack integration test
 * and the end-to-end test through the local host.
 */

export interface CardPhoto {
  /** Path on the card, e.g. `DCIM/100MEDIA/IMG_0001.JPG`. */
  path: string;
  bytes: Buffer;
  /** Modification time written to the card: FAT keeps the wall clock (tools run with TZ=UTC), 2-second steps. */
  modified: Date;
}

export interface MemoryCard {
  raw: string;
  e01: string;
  /** The EWF header values given to ewfacquire. */
  header: { caseNumber: string; evidenceNumber: string; examiner: string; notes: string; description: string };
}

export const CARD_HEADER = {
  caseNumber: 'CASE-15',
  evidenceNumber: 'CARD-1',
  examiner: 'Examiner Jones',
  notes: 'SD card from the camera bag',
  description: 'Camera memory card',
};

/**
 * FAT32 card of `sizeKiB` (512-byte clusters; FAT32 needs 65,525 of them, so 34 MB: its E01 is
 * a few hundred KiB, as the free space is zeros) holding
 * `photos` in order, then `deleted` (paths among them) removed with mdel.
 * Files written after nothing else keep their clusters free, so a deleted
 * photo is recoverable whole.
 */
export function buildMemoryCard(dir: string, photos: CardPhoto[], deleted: string[], options: { sizeKiB?: number; compression?: 'fast' | 'none' } = {}): MemoryCard {
  const raw = path.join(dir, 'card.img');
  run('mkfs.fat', ['-C', '-F', '32', '-s', '1', '-n', 'CARD', '-i', '15150001', raw, String(options.sizeKiB ?? 34_000)]);
  const folders = new Set<string>();
  for (const photo of photos) {
    const parts = photo.path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i += 1) folders.add(parts.slice(0, i).join('/'));
  }
  for (const folder of [...folders].sort()) run('mmd', ['-i', raw, `::/${folder}`]);
  photos.forEach((photo, i) => {
    const local = path.join(dir, `photo-${i}.bin`);
    writeFileSync(local, photo.bytes);
    utimesSync(local, photo.modified, photo.modified);
    run('mcopy', ['-m', '-i', raw, local, `::/${photo.path}`]);
  });
  if (deleted.length > 0) run('mdel', ['-i', raw, ...deleted.map((p) => `::/${p}`)]);
  const target = path.join(dir, 'card');
  const h = CARD_HEADER;
  run('ewfacquire', ['-u', '-t', target, '-c', options.compression ?? 'fast', '-C', h.caseNumber, '-E', h.evidenceNumber, '-e', h.examiner, '-N', h.notes, '-D', h.description, '-m', 'removable', '-d', 'sha1', raw]);
  return { raw, e01: `${target}.E01`, header: h };
}

/**
 * A copy of an uncompressed E01 (ewfacquire -c none) with one byte of the
 * media changed and that chunk's Adler-32 recomputed: the image still reads
 * cleanly, but its media no longer hashes to what the acquisition stored.
 * With `checksum: 'left-broken'` the Adler-32 is left as acquired, as bit rot
 * or a hand edit leaves it: that chunk no longer reads (its checksum fails).
 * `mediaOffset` must fall in a chunk whose bytes occur once in the image.
 */
export function tamperEwfMedia(
  e01: string,
  raw: string,
  out: string,
  mediaOffset: number,
  chunkBytes = 64 * SECTOR,
  options: { checksum?: 'recomputed' | 'left-broken' } = {},
): void {
  const image = readFileSync(e01);
  const media = readFileSync(raw);
  const chunkStart = mediaOffset - (mediaOffset % chunkBytes);
  const chunk = media.subarray(chunkStart, chunkStart + chunkBytes);
  const at = image.indexOf(chunk);
  if (at < 0 || image.indexOf(chunk, at + 1) >= 0) throw new Error(`chunk at media offset ${chunkStart} is not stored once, uncompressed, in ${e01}`);
  const copy = Buffer.from(image);
  const within = mediaOffset - chunkStart;
  copy[at + within] = copy[at + within]! ^ 0xff;
  if (options.checksum !== 'left-broken') copy.writeUInt32LE(adler32(copy.subarray(at, at + chunkBytes)), at + chunkBytes);
  writeFileSync(out, copy);
}

/** Where `needle` starts in the raw image (the first time), e.g. a photo's bytes on the card. */
export function offsetInImage(raw: string, needle: Buffer): number {
  return readFileSync(raw).indexOf(needle);
}

/** An ext4 volume of `sizeKiB` built from a folder with mke2fs -d (fixed UUID and hash seed, so it is the same every run). */
/**
 * `inodes`: mke2fs -N, fewer inodes (smaller inode tables) than its default for the size; `blockBytes`: mke2fs -b
 * (1024 by default here), 4096 for block groups of 128 MiB (a few metadata blocks across the image, not one every 8 MiB).
 */
export function buildExt4(dir: string, files: Record<string, Buffer>, sizeKiB = 2048, options: { inodes?: number; blockBytes?: 1024 | 4096 } = {}): string {
  const root = path.join(dir, 'ext4-root');
  for (const [name, bytes] of Object.entries(files)) {
    const file = path.join(root, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, bytes);
  }
  const out = path.join(dir, 'disk.ext4.img');
  const fd = openSync(out, 'w');
  writeSync(fd, Buffer.alloc(1), 0, 1, sizeKiB * 1024 - 1);
  closeSync(fd);
  run('mke2fs', ['-q', '-t', 'ext4', '-b', String(options.blockBytes ?? 1024), ...(options.inodes ? ['-N', String(options.inodes)] : []), '-U', '15151515-1515-4515-8515-151515151515', '-E', 'hash_seed=15151515-1515-4515-8515-151515151515', '-L', 'USBSTICK', '-d', root, out]);
  return out;
}
