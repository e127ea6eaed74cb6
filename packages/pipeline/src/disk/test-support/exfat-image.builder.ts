import { readFileSync, writeFileSync } from 'node:fs';
import { run } from './disk-image.builder.js';

/**
 * Adds files to an exFAT volume made by mkfs.exfat (exfatprogs), in a file,
 * without mounting: no Debian tool can (exfat-fuse needs FUSE), so entry sets,
 * the cluster bitmap and FAT chains are written here from the exFAT
 * specification. The Sleuth Kit reading the result is the check on this writer.
 */

export interface ExfatFile {
  /** '/'-separated; parents must be added first. */
  path: string;
  directory?: boolean;
  data?: Buffer;
  /** Data in every other free cluster, linked by the FAT (NoFatChain clear). */
  fragmented?: boolean;
  /** Written, then its entry set marked not in use and its clusters freed. */
  deleted?: boolean;
  /**
   * The stream's valid data length, when less than the size (a file extended without writing,
   * as a preallocating writer leaves it): the data is still written to the clusters in full, so
   * the bytes past it are stale bytes a reader must not return.
   */
  validDataLength?: number;
}

/** 2024-05-06 07:08:10 as an exFAT timestamp. */
const STAMP = ((2024 - 1980) << 25) | (5 << 21) | (6 << 16) | (7 << 11) | (8 << 5) | 5;

/** Where things are in an exFAT volume, from its boot sector (the fields this writer and the tests that edit volumes use). */
export interface ExfatLayout {
  clusterBytes: number;
  clusterCount: number;
  rootCluster: number;
  /** Byte offset of cluster `c` in the volume. */
  clusterAt(c: number): number;
  /** Byte offset of FAT entry `c` (the first FAT's). */
  fatAt(c: number): number;
}

export function exfatLayout(image: Buffer): ExfatLayout {
  const sectorBytes = 2 ** image[108]!;
  const clusterBytes = sectorBytes * 2 ** image[109]!;
  const fatOffset = image.readUInt32LE(80) * sectorBytes;
  const heap = image.readUInt32LE(88) * sectorBytes;
  return {
    clusterBytes,
    clusterCount: image.readUInt32LE(92),
    rootCluster: image.readUInt32LE(96),
    clusterAt: (c) => heap + (c - 2) * clusterBytes,
    fatAt: (c) => fatOffset + c * 4,
  };
}

/** The SetChecksum of an entry set (all its bytes but the checksum's own two). */
export function entrySetChecksum(set: Uint8Array): number {
  let checksum = 0;
  for (let i = 0; i < set.length; i += 1) if (i !== 2 && i !== 3) checksum = (((checksum & 1) << 15) | (checksum >> 1)) + set[i]! & 0xffff;
  return checksum;
}

/** A zeroed `sizeBytes` file at `imagePath` formatted by `mkfs.exfat` (with `mkfsArgs`), then `files` added. */
export function buildExfat(imagePath: string, sizeBytes: number, files: ExfatFile[], mkfsArgs: string[] = []): void {
  writeFileSync(imagePath, Buffer.alloc(sizeBytes));
  run('mkfs.exfat', [...mkfsArgs, imagePath]);
  addExfatFiles(imagePath, files);
}

export function addExfatFiles(imagePath: string, files: ExfatFile[]): void {
  const img = readFileSync(imagePath);
  const { clusterBytes, clusterCount, rootCluster, clusterAt: at, fatAt } = exfatLayout(img);
  let bitmapOffset = -1;
  for (let e = at(rootCluster); e < at(rootCluster) + clusterBytes; e += 32) if (img[e] === 0x81) bitmapOffset = at(img.readUInt32LE(e + 20));
  if (bitmapOffset < 0) throw new Error('no allocation bitmap');
  const isFree = (c: number) => (img[bitmapOffset + ((c - 2) >> 3)]! & (1 << ((c - 2) & 7))) === 0;
  const setBit = (c: number, on: boolean) => {
    const i = bitmapOffset + ((c - 2) >> 3);
    img[i] = on ? img[i]! | (1 << ((c - 2) & 7)) : img[i]! & ~(1 << ((c - 2) & 7));
  };
  const allocate = (count: number, spread: boolean): number[] => {
    const out: number[] = [];
    for (let c = 2; c <= clusterCount + 1 && out.length < count; c += 1) {
      if (!isFree(c)) {
        if (!spread) out.length = 0; // contiguous: start again after an allocated cluster
        continue;
      }
      if (spread && out.length && c === out[out.length - 1]! + 1) continue; // leave a gap
      out.push(c);
    }
    if (out.length < count) throw new Error('volume full');
    for (const c of out) setBit(c, true);
    return out;
  };
  const dirs = new Map<string, { cluster: number; next: number }>([['', { cluster: rootCluster, next: -1 }]]);
  const slotIn = (dir: { cluster: number; next: number }, count: number) => {
    if (dir.next < 0) {
      dir.next = 0;
      while (img[at(dir.cluster) + dir.next * 32] !== 0) dir.next += 1;
    }
    const offset = at(dir.cluster) + dir.next * 32;
    dir.next += count;
    if (dir.next * 32 > clusterBytes) throw new Error('directory full (one cluster per directory here)');
    return offset;
  };
  for (const file of files) {
    const parts = file.path.split('/');
    const name = parts.pop()!;
    const parent = dirs.get(parts.join('/'))!;
    const size = file.directory ? clusterBytes : (file.data?.length ?? 0);
    const needed = Math.ceil(size / clusterBytes);
    const clusters = needed ? allocate(needed, !!file.fragmented) : [];
    if (file.directory) img.fill(0, at(clusters[0]!), at(clusters[0]!) + clusterBytes);
    clusters.forEach((c, i) => {
      if (file.data) file.data.copy(img, at(c), i * clusterBytes, Math.min((i + 1) * clusterBytes, file.data.length));
      if (file.fragmented) img.writeUInt32LE(i + 1 < clusters.length ? clusters[i + 1]! : 0xffffffff, fatAt(c));
    });
    const nameEntries = Math.ceil(name.length / 15);
    const set = Buffer.alloc(32 * (2 + nameEntries));
    set[0] = 0x85;
    set[1] = 1 + nameEntries;
    set.writeUInt16LE(file.directory ? 0x10 : 0x20, 4);
    set.writeUInt32LE(STAMP, 8); // created
    set.writeUInt32LE(STAMP + 1, 12); // modified, two seconds later
    set.writeUInt32LE(STAMP & 0xffff0000, 16); // accessed: the date
    set[20] = 137; // created + 1.37 s
    set[21] = 0;
    set[22] = 0x80 | 4; // created: UTC+01:00
    set[23] = 0x80 | (0x80 - 8); // modified: UTC-02:00
    set[24] = 0; // accessed: no offset recorded
    const stream = set.subarray(32, 64);
    stream[0] = 0xc0;
    stream[1] = 0x01 | (file.fragmented ? 0 : 0x02);
    stream[3] = name.length;
    let hash = 0;
    for (const ch of name.toUpperCase()) {
      const code = ch.charCodeAt(0);
      for (const byte of [code & 0xff, code >> 8]) hash = (((hash & 1) << 15) | (hash >> 1)) + byte & 0xffff;
    }
    stream.writeUInt16LE(hash, 4);
    stream.writeBigUInt64LE(BigInt(file.validDataLength ?? size), 8);
    stream.writeUInt32LE(clusters[0] ?? 0, 20);
    stream.writeBigUInt64LE(BigInt(size), 24);
    for (let n = 0; n < nameEntries; n += 1) {
      const e = set.subarray(64 + n * 32, 96 + n * 32);
      e[0] = 0xc1;
      Buffer.from(name.slice(n * 15, n * 15 + 15), 'utf16le').copy(e, 2);
    }
    set.writeUInt16LE(entrySetChecksum(set), 2);
    if (file.deleted) {
      for (let i = 0; i < set.length; i += 32) set[i] = set[i]! & 0x7f;
      for (const c of clusters) setBit(c, false);
    }
    set.copy(img, slotIn(parent, set.length / 32));
    if (file.directory) dirs.set(file.path, { cluster: clusters[0]!, next: 0 });
  }
  writeFileSync(imagePath, img);
}
