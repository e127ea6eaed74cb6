import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { crc32 } from '../volume-system.reader.js';
import { vhdChecksum } from '../vhd-image.container.js';

/**
 * Test support (not a test): builds disk images with the real tools
 * (dosfstools, mtools, ewf-tools) and asks The Sleuth Kit what is in them.
 * Partition tables and VHD wrappers are written here byte by byte from the
 * specifications; TSK reading them back is what checks those writers.
 */

export const SECTOR = 512;

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

export const TOOLS = ['mkfs.fat', 'mkfs.exfat', 'mcopy', 'mmd', 'mdel', 'mdeltree', 'fls', 'icat', 'istat', 'mmls', 'ewfacquire', 'ewfinfo', 'ewfverify', 'split'];
export const missingTools = () => TOOLS.filter((t) => !hasTool(t));

export function run(command: string, args: string[], options: { input?: string } = {}): Buffer {
  // env(1) adds the two settings to the inherited environment, so this module reads no environment variables itself.
  return execFileSync('env', ['TZ=UTC', 'MTOOLS_SKIP_CHECK=1', command, ...args], { maxBuffer: 256 * 1024 * 1024, ...options, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Deterministic incompressible bytes (so EWF chunks stay stored, segments split). */
export function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

export interface MbrPartition {
  type: number;
  startSector: number;
  sectors: number;
}

/** Writes a 16-byte MBR/EBR partition entry (LBA only; CHS set to the 0xFE/0xFF "use LBA" values). */
function entry(buf: Buffer, at: number, p: MbrPartition | undefined): void {
  if (!p) return;
  buf[at] = 0;
  buf.set([0xfe, 0xff, 0xff], at + 1);
  buf[at + 4] = p.type;
  buf.set([0xfe, 0xff, 0xff], at + 5);
  buf.writeUInt32LE(p.startSector, at + 8);
  buf.writeUInt32LE(p.sectors, at + 12);
}

/** An MBR (or EBR) sector: up to four entries and the 0x55AA signature, no boot code. */
export function mbrSector(entries: (MbrPartition | undefined)[]): Buffer {
  const sector = Buffer.alloc(SECTOR);
  entries.forEach((p, i) => entry(sector, 446 + i * 16, p));
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

export function writeAt(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

function guidBytes(text: string): Buffer {
  const hex = text.replace(/-/g, '');
  const b = Buffer.from(hex, 'hex');
  // First three fields little-endian.
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

export const MS_BASIC_DATA = 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7';

/**
 * Protective MBR, primary and backup GPT headers and entry arrays (128 entries of 128 bytes).
 * `sectorBytes` is the disk's logical sector: every LBA (diskSectors, first, last) counts in it.
 */
export function writeGpt(path: string, diskSectors: number, partitions: { first: number; last: number; name: string; type?: string }[], sectorBytes = SECTOR): void {
  writeAt(path, 0, mbrSector([{ type: 0xee, startSector: 1, sectors: Math.min(diskSectors - 1, 0xffffffff) }]));
  const entriesSectors = (128 * 128) / sectorBytes;
  const entries = Buffer.alloc(128 * 128);
  partitions.forEach((p, i) => {
    const e = entries.subarray(i * 128, (i + 1) * 128);
    guidBytes(p.type ?? MS_BASIC_DATA).copy(e, 0);
    guidBytes(`0000000${i + 1}-1111-2222-3333-444455556666`).copy(e, 16);
    e.writeBigUInt64LE(BigInt(p.first), 32);
    e.writeBigUInt64LE(BigInt(p.last), 40);
    Buffer.from(p.name, 'utf16le').copy(e, 56);
  });
  const entriesCrc = crc32(entries);
  const header = (current: number, backup: number, entriesLba: number) => {
    const h = Buffer.alloc(SECTOR);
    h.write('EFI PART', 0, 'latin1');
    h.writeUInt32LE(0x00010000, 8);
    h.writeUInt32LE(92, 12);
    h.writeBigUInt64LE(BigInt(current), 24);
    h.writeBigUInt64LE(BigInt(backup), 32);
    h.writeBigUInt64LE(BigInt(2 + entriesSectors), 40);
    h.writeBigUInt64LE(BigInt(diskSectors - 2 - entriesSectors), 48);
    guidBytes('01234567-89ab-cdef-0123-456789abcdef').copy(h, 56);
    h.writeBigUInt64LE(BigInt(entriesLba), 72);
    h.writeUInt32LE(128, 80);
    h.writeUInt32LE(128, 84);
    h.writeUInt32LE(entriesCrc, 88);
    h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
    return h;
  };
  writeAt(path, sectorBytes, header(1, diskSectors - 1, 2));
  writeAt(path, 2 * sectorBytes, entries);
  writeAt(path, (diskSectors - 1 - entriesSectors) * sectorBytes, entries);
  writeAt(path, (diskSectors - 1) * sectorBytes, header(diskSectors - 1, 1, diskSectors - 1 - entriesSectors));
}

function vhdFooter(size: number, type: 2 | 3, dataOffset: bigint): Buffer {
  const f = Buffer.alloc(512);
  f.write('conectix', 0, 'latin1');
  f.writeUInt32BE(2, 8);
  f.writeUInt32BE(0x00010000, 12);
  f.writeBigUInt64BE(dataOffset, 16);
  f.writeUInt32BE(0, 24);
  f.write('exhb', 28, 'latin1');
  f.writeUInt32BE(0x00010000, 32);
  f.write('Wi2k', 36, 'latin1');
  f.writeBigUInt64BE(BigInt(size), 40);
  f.writeBigUInt64BE(BigInt(size), 48);
  // CHS geometry as the specification computes it, capped.
  const totalSectors = Math.min(size / 512, 65535 * 16 * 255);
  let spt = 17;
  let heads = Math.max(Math.ceil(totalSectors / 17 / 1024), 4);
  if (heads > 16) {
    spt = 63;
    heads = 16;
  }
  const cylinders = Math.floor(totalSectors / spt / heads);
  f.writeUInt16BE(cylinders, 56);
  f[58] = heads;
  f[59] = spt;
  f.writeUInt32BE(type, 60);
  pseudoRandom(16, 7).copy(f, 68);
  f.writeUInt32BE(vhdChecksum(f, 64), 64);
  return f;
}

/** A fixed VHD: the raw disk followed by its footer. */
export function writeFixedVhd(raw: string, out: string): void {
  const data = readFileSync(raw);
  writeFileSync(out, Buffer.concat([data, vhdFooter(data.length, 2, 0xffffffffffffffffn)]));
}

/**
 * A dynamic VHD: footer copy, dynamic header, BAT, then one bitmap+block per
 * block that holds any non-zero byte (all-zero blocks stay unallocated). In
 * allocated blocks, all-zero sectors get a clear bitmap bit and zero data, so
 * both the BAT and the sector bitmap are exercised.
 */
export function writeDynamicVhd(raw: string, out: string, blockBytes = 512 * 1024): void {
  const data = readFileSync(raw);
  const blocks = Math.ceil(data.length / blockBytes);
  const batBytes = Math.ceil((blocks * 4) / 512) * 512;
  const bitmapBytes = Math.ceil(blockBytes / 512 / 8 / 512) * 512;
  const parts: Buffer[] = [];
  const footer = vhdFooter(data.length, 3, 512n);
  parts.push(footer);
  const header = Buffer.alloc(1024);
  header.write('cxsparse', 0, 'latin1');
  header.writeBigUInt64BE(0xffffffffffffffffn, 8);
  header.writeBigUInt64BE(1536n, 16);
  header.writeUInt32BE(0x00010000, 24);
  header.writeUInt32BE(blocks, 28);
  header.writeUInt32BE(blockBytes, 32);
  header.writeUInt32BE(vhdChecksum(header, 36), 36);
  parts.push(header);
  const bat = Buffer.alloc(batBytes, 0xff);
  parts.push(bat);
  let sector = (512 + 1024 + batBytes) / 512;
  for (let b = 0; b < blocks; b += 1) {
    const block = Buffer.alloc(blockBytes);
    data.copy(block, 0, b * blockBytes, Math.min((b + 1) * blockBytes, data.length));
    if (block.every((x) => x === 0)) continue;
    const bitmap = Buffer.alloc(bitmapBytes);
    for (let s = 0; s < blockBytes / 512; s += 1) {
      if (block.subarray(s * 512, (s + 1) * 512).some((x) => x !== 0)) bitmap[s >> 3]! |= 0x80 >> (s & 7);
      else block.fill(0xaa, s * 512, (s + 1) * 512); // junk under a clear bit must read as zeros
    }
    bat.writeUInt32BE(sector, b * 4);
    parts.push(bitmap, block);
    sector += (bitmapBytes + blockBytes) / 512;
  }
  parts.push(footer);
  writeFileSync(out, Buffer.concat(parts));
}

export interface TskEntry {
  type: string;
  deleted: boolean;
  entryId: string;
  path: string;
}

/**
 * `fls -r -p` without the volume label entry, TSK's virtual files ($MBR, $FAT1, $FAT2,
 * $OrphanFiles and below) and the exFAT metadata files TSK lists ($ALLOC_BITMAP, $UPCASE_TABLE):
 * file-system structures, not files.
 */
export function fls(images: string[], options: { sectorOffset?: number; imageType?: string } = {}): TskEntry[] {
  const args = ['-r', '-p', ...(options.imageType ? ['-i', options.imageType] : []), ...(options.sectorOffset ? ['-o', String(options.sectorOffset)] : []), ...images];
  const out: TskEntry[] = [];
  for (const line of run('fls', args).toString('utf8').split('\n')) {
    const m = /^(\S+) (\* )?(\d+(?:-\d+-\d+)?):\t(.*)$/.exec(line);
    if (!m) continue;
    const [, type, star, entryId, path] = m;
    if (path!.endsWith('(Volume Label Entry)') || /^\$(MBR|FAT1|FAT2|OrphanFiles|ALLOC_BITMAP|UPCASE_TABLE)(\/|$)/.test(path!)) continue;
    out.push({ type: type!, deleted: !!star, entryId: entryId!, path: path! });
  }
  return out;
}

export function icatMd5(images: string[], entryId: string, options: { sectorOffset?: number; imageType?: string } = {}): string {
  const args = [...(options.imageType ? ['-i', options.imageType] : []), ...(options.sectorOffset ? ['-o', String(options.sectorOffset)] : []), ...images, entryId];
  return md5(run('icat', args));
}

/** istat's Written / Accessed / Created, as "YYYY-MM-DDTHH:MM:SS" (TZ=UTC, so TSK prints the FAT wall clock unchanged). */
export function istatTimes(images: string[], entryId: string, options: { sectorOffset?: number } = {}): Record<string, string> {
  const args = [...(options.sectorOffset ? ['-o', String(options.sectorOffset)] : []), ...images, entryId];
  const out: Record<string, string> = {};
  for (const line of run('istat', args).toString('utf8').split('\n')) {
    const m = /^(Written|Accessed|Created):\t(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)/.exec(line);
    if (m) out[m[1]!] = `${m[2]}T${m[3]}`;
  }
  return out;
}

/**
 * mmls's partitions (slots like 000:001 for DOS, 000 for GPT; not Meta or unallocated), as [start, length] in
 * mmls's units: the image's sectors, or `sectorBytes` (mmls -b) when given.
 */
export function mmls(images: string[], imageType?: string, sectorBytes?: number): [number, number][] {
  const out: [number, number][] = [];
  for (const line of run('mmls', [...(imageType ? ['-i', imageType] : []), ...(sectorBytes ? ['-b', String(sectorBytes)] : []), ...images]).toString('utf8').split('\n')) {
    const m = /^\d+:\s+\d+(?::\d+)?\s+(\d+)\s+\d+\s+(\d+)/.exec(line);
    if (m) out.push([Number(m[1]), Number(m[2])]);
  }
  return out;
}
