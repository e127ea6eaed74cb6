import { LIMITS, escapeLoneSurrogates } from '@exhibit/core';
import { SliceByteSource, u64, view } from './byte-source.js';
import type { ByteSource, DiskVolume } from './disk-reader.types.js';

/**
 * Volume systems: GPT (protective MBR + header with CRC-32 + entry array),
 * MBR with its extended partitions (the EBR chain, loop-safe), or none (a file
 * system starting at sector 0). A partition the table places outside the disk
 * is reported as a problem and skipped; it is never read. One that starts on
 * the disk and runs past its end (a truncated image) is read as far as the
 * disk goes, with a problem.
 */

export const SECTOR_BYTES = 512;
/**
 * Logical sector sizes a GPT is looked for at, in order. A disk with 4096-byte
 * logical sectors (4Kn drives, and many USB bridges of external drives) puts
 * its GPT header at byte 4096 and counts every LBA in 4096-byte units; the
 * header's signature and CRC-32 say which size is right (TSK tries the same).
 */
const GPT_SECTOR_SIZES = [512, 4096, 1024, 2048];

export interface VolumeProblem {
  /** Which entry: 'mbr 2', 'ebr 3', 'gpt 17', 'gpt header'. */
  where: string;
  /**
   * sector-size-inferred: the MBR's entries are read in a sector size nothing recorded, inferred from the volumes they hold.
   * read-past-entry: a note, not a failure (isVolumeNote): the file system declares more than its partition entry and is
   * read on past it (open-disk-image.ts, readPastEntryNotes), into bytes that may be another partition's.
   */
  code: 'corrupt-file' | 'limit-exceeded' | 'sector-size-inferred' | 'read-past-entry';
  message: string;
}

/**
 * A volume problem that records how the volume was read without anything failing: the volume is listed in full and it
 * makes no exit code an error (`exhibit image ls`). Only read-past-entry is one.
 */
export function isVolumeNote(problem: Pick<VolumeProblem, 'code'>): boolean {
  return problem.code === 'read-past-entry';
}

/** A file system found at a volume's first byte, as far as placing MBR entries asks. */
export interface FoundFileSystem {
  /** The size its boot sector or superblock declares, in bytes; undefined when not read. */
  declaredBytes(): Promise<number | undefined>;
}

/** The file system starting at a volume's first byte, or null when no reader here knows one there. */
export type FileSystemFinder = (volume: ByteSource) => Promise<FoundFileSystem | null>;

export interface VolumeSystem {
  scheme: 'mbr' | 'gpt' | 'none';
  volumes: DiskVolume[];
  problems: VolumeProblem[];
}

const MBR_TYPES: Record<number, string> = {
  0x01: 'FAT12',
  0x04: 'FAT16 <32M',
  0x06: 'FAT16',
  0x07: 'NTFS / exFAT',
  0x0b: 'FAT32 (CHS)',
  0x0c: 'FAT32 (LBA)',
  0x0e: 'FAT16 (LBA)',
  0x83: 'Linux',
  0xee: 'GPT protective',
};
const EXTENDED = new Set([0x05, 0x0f, 0x85]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3), as GPT uses it. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i += 1) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function guidText(bytes: Uint8Array): string {
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = Array.from(bytes.subarray(from, to));
    return (reverse ? part.reverse() : part).map((b) => b.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

/**
 * The volumes of `media`. `fileSystemAt` finds the file system starting at
 * a volume's first byte, if any, and says the size it declares (each file
 * system's module reads its own header). It also tells whether sector 0 is
 * a file system's boot sector: a FAT/NTFS/exFAT BPB also ends in 0x55AA, so
 * the signature alone cannot tell an MBR from a partitionless volume.
 */
export async function readVolumeSystem(
  media: ByteSource,
  fileSystemAt: FileSystemFinder,
  options: { abortSignal?: AbortSignal; sectorBytes?: number } = {},
): Promise<VolumeSystem> {
  // The container's logical sector size, when it records one (an E01 of a 4Kn disk says 4096): the
  // first size a GPT is looked for with, and the one MBR entries count in when the table agrees (mbrPlacement).
  const hint = options.sectorBytes;
  const mbrSectorBytes = hint !== undefined && [512, 1024, 2048, 4096].includes(hint) ? hint : SECTOR_BYTES;
  const whole = (): VolumeSystem => ({
    scheme: 'none',
    volumes: [{ index: 0, offset: 0, size: media.size, scheme: 'none', type: '', label: '', source: media }],
    problems: [],
  });
  if (media.size < SECTOR_BYTES * 2) return whole();
  const mbr = await media.read(0, SECTOR_BYTES, options);
  const hasSignature = mbr[510] === 0x55 && mbr[511] === 0xaa;
  const entries = hasSignature ? mbrEntries(mbr) : [];
  if (entries.some((e) => e.type === 0xee)) {
    // The first sector size whose header is found decides; when none is, the 512-byte attempt's problems are reported.
    let firstTry: VolumeSystem | null = null;
    for (const sectorBytes of [mbrSectorBytes, ...GPT_SECTOR_SIZES.filter((size) => size !== mbrSectorBytes)]) {
      if (media.size < sectorBytes * 2) break;
      const gpt = await readGpt(media, sectorBytes, options);
      if (gpt && (gpt.volumes.length > 0 || !gpt.problems.some((p) => p.where === 'gpt header'))) return gpt;
      firstTry ??= gpt;
    }
    if (firstTry) return firstTry;
  }
  if (!hasSignature || (await fileSystemAt(media)) !== null || !plausibleMbr(entries)) return whole();
  const placed = await mbrPlacement(media, entries, mbrSectorBytes, hint !== undefined, fileSystemAt);
  const system = await readMbr(media, entries, placed.sectorBytes, options);
  if (placed.problem) system.problems.unshift(placed.problem);
  return system;
}

/**
 * The sector size the MBR's entries count in. The container's recorded size is
 * the disk's as the acquiring machine saw it, which need not be the size the
 * MBR was written with: a disk partitioned with 512-byte sectors and imaged
 * through a USB bridge presenting 4096-byte sectors records 4096. So when the
 * container records more than 512, the recorded size stands unless the disk
 * itself says 512: a file system starts at a primary partition at 512 and at
 * none at the recorded size, or the partitions fit the disk only at 512 and no
 * file system starts at any of them at the recorded size. Anything else keeps the recorded size (as
 * TSK does): a 4Kn disk whose partitions hold nothing a reader here knows
 * (BitLocker, LUKS, LVM, APFS…) counts in 4096, and so does a truncated
 * acquisition of a 4Kn disk with a known file system in any primary partition.
 *
 * A raw image records no size, and a container recording 512 may be wrong the
 * other way (a 4Kn disk imaged by a tool that writes 512 regardless): both
 * count in 512 unless the disk says 4096, and when in doubt they stay at 512.
 * The disk says 4096 only when every partition fits it at 4096; nothing
 * starts at any partition at 512 — no extended boot record, no swap, LUKS,
 * BitLocker or LVM header — and no file system found at a primary at 512
 * fills its partition (or has a size not read); and at 4096 every file system
 * found at a primary fills its partition, and one is found (fileSystemsFit).
 * What a 512-byte disk has at 8 × a primary's start — a logical partition
 * after swap, a volume inside LVM, a remnant of an earlier layout, a volume
 * image kept in an unknown partition — declares a size of its own, not 8
 * times the partition's (m1–m3, b, a, x in the tests). A 4Kn disk whose second
 * partition starts at 8 × the first's start shows the first's volume at 512
 * in the second, not filling it, so it still reads at 4096 (f). Moving off
 * 512 is an inference, never silent: an E01 recording 512 gets a corrupt-file
 * problem, a raw image a sector-size-inferred one naming the entries.
 * TSK's mmls reads such a raw image in 512 unless told `-b 4096`.
 */
async function mbrPlacement(
  media: ByteSource,
  entries: MbrEntry[],
  recorded: number,
  recordedByContainer: boolean,
  fileSystemAt: FileSystemFinder,
): Promise<{ sectorBytes: number; problem?: VolumeProblem }> {
  const used = entries.filter((e) => e.type !== 0 && e.sectors > 0);
  const primaries = used.filter((e) => !EXTENDED.has(e.type));
  const fits = (size: number) => used.every((e) => (e.start + e.sectors) * size <= media.size);
  // Any primary partition, not only the first: a 4Kn disk's first may hold what no reader here knows (LUKS, BitLocker).
  const fileSystemAtPrimary = async (size: number) => {
    for (const entry of primaries) {
      const offset = entry.start * size;
      if (offset < size || offset >= media.size) continue;
      if ((await fileSystemAt(new SliceByteSource(media, offset, Math.min(entry.sectors * size, media.size - offset)))) !== null) return true;
    }
    return false;
  };
  if (recorded === SECTOR_BYTES) {
    const big = 4096;
    if (!fits(big) || (await somethingStartsAt512(media, used))) return { sectorBytes: SECTOR_BYTES };
    const at512 = await fileSystemsFit(media, primaries, SECTOR_BYTES, fileSystemAt);
    // A file system found at 512 that fills its partition, or whose size is not read, is the 512-byte disk's own.
    // One that does not (a 4Kn disk's volume met at 512 because a partition starts at 8 × another's start) proves nothing.
    if (at512.some(({ fit }) => fit === 'fills' || fit === 'unknown')) return { sectorBytes: SECTOR_BYTES };
    const at4096 = await fileSystemsFit(media, primaries, big, fileSystemAt);
    if (at4096.length === 0 || !at4096.every(({ fit }) => fit === 'fills')) return { sectorBytes: SECTOR_BYTES };
    const why =
      `at ${big} bytes a sector every file system found at a primary partition (MBR ${at4096.map(({ slot }) => `entry ${slot}`).join(', ')}) fills it ` +
      `(declares its size, less at most ${FILL_SLACK_BYTES / 1024} KiB or 1%), and at ${SECTOR_BYTES} none fills its partition`;
    return {
      sectorBytes: big,
      // Never silent: the placement is an inference from the disk's contents, so the reader is told which and why.
      problem: {
        where: 'mbr',
        code: recordedByContainer ? ('corrupt-file' as const) : ('sector-size-inferred' as const),
        message: recordedByContainer
          ? `the image records ${SECTOR_BYTES}-byte sectors, but ${why}: the partitions are placed in ${big}-byte sectors`
          : `the raw image records no sector size and MBR entries default to ${SECTOR_BYTES} bytes, but ${why}: the partitions are placed in ${big}-byte sectors`,
      },
    };
  }
  const [recordedFits, recordedFs, smallFits, smallFs] = [fits(recorded), await fileSystemAtPrimary(recorded), fits(SECTOR_BYTES), await fileSystemAtPrimary(SECTOR_BYTES)];
  const diskSays512 = (smallFs && !recordedFs) || (smallFits && !recordedFits && !recordedFs);
  if (!diskSays512) return { sectorBytes: recorded };
  const why = smallFs ? `no file system starts at any of the MBR's partitions, and one does at ${SECTOR_BYTES}` : `the MBR's partitions run past the end of the disk and fit it at ${SECTOR_BYTES}`;
  return {
    sectorBytes: SECTOR_BYTES,
    problem: {
      where: 'mbr',
      code: 'corrupt-file',
      message: `the image records ${recorded}-byte sectors, but at ${recorded} bytes a sector ${why}: the partitions are placed in ${SECTOR_BYTES}-byte sectors`,
    },
  };
}

/**
 * Whether something a 512-byte disk puts at a partition's start is there at
 * 512 bytes a sector: an extended boot record (0x55AA) at an extended
 * partition's start, or a header of what no reader here opens — Linux swap
 * (SWAPSPACE2 at the end of its first page), LUKS, BitLocker, an LVM label in
 * its second sector. Any of them keeps the table in 512-byte sectors.
 */
async function somethingStartsAt512(media: ByteSource, used: MbrEntry[]): Promise<boolean> {
  for (const entry of used) {
    const offset = entry.start * SECTOR_BYTES;
    if (offset < SECTOR_BYTES || offset >= media.size) continue;
    const head = await media.read(offset, Math.min(SWAP_PAGE_LIMIT, media.size - offset));
    const at = (from: number, text: string) => head.length >= from + text.length && Buffer.from(head.subarray(from, from + text.length)).toString('latin1') === text;
    if (EXTENDED.has(entry.type)) {
      if (head[510] === 0x55 && head[511] === 0xaa) return true;
      continue;
    }
    if (at(0, 'LUKS\xba\xbe') || at(3, '-FVE-FS-') || at(SECTOR_BYTES, 'LABELONE')) return true;
    // Swap's signature ends its first page, whose size is the writing machine's (4 KiB on x86, up to 64 KiB elsewhere).
    for (let page = 4096; page <= SWAP_PAGE_LIMIT; page *= 2) {
      if (at(page - 10, 'SWAPSPACE2') || at(page - 10, 'SWAP-SPACE')) return true;
    }
  }
  return false;
}
const SWAP_PAGE_LIMIT = 65_536;

/**
 * How the file system found at each primary partition, placed at `size`
 * bytes a sector, compares with that partition: 'fills' when it declares the
 * partition's size less at most the slack formatters leave, 'smaller' or
 * 'larger' otherwise, 'unknown' when its size is not read. Partitions where no
 * file system starts are left out.
 *
 * Formatters size a volume from its partition: mkfs.fat, mkfs.exfat and
 * Windows' FAT/exFAT declare every sector, NTFS all but the last (its backup
 * boot sector), ext whole blocks (up to 64 KiB). A remnant of an earlier
 * layout, or a volume image nested in an unknown partition, met at 8 × a
 * start declares a size of its own, almost never that one.
 */
async function fileSystemsFit(
  media: ByteSource,
  primaries: MbrEntry[],
  size: number,
  fileSystemAt: FileSystemFinder,
): Promise<{ slot: number; fit: 'fills' | 'smaller' | 'larger' | 'unknown' }[]> {
  const out: { slot: number; fit: 'fills' | 'smaller' | 'larger' | 'unknown' }[] = [];
  for (const entry of primaries) {
    const offset = entry.start * size;
    if (offset < size || offset >= media.size) continue;
    const partitionBytes = entry.sectors * size;
    const source = new SliceByteSource(media, offset, Math.min(partitionBytes, media.size - offset));
    const found = await fileSystemAt(source);
    if (!found) continue;
    // Under SIZED_VOLUME_MIN_BYTES a volume's size counts as unknown, whatever its header declares: at 512 that keeps
    // the 512-byte reading (as mmls), the rule this placement had before each module declared its own size.
    const declared = source.size < SIZED_VOLUME_MIN_BYTES ? undefined : await found.declaredBytes();
    const fit = declared === undefined ? 'unknown' : declared > partitionBytes ? 'larger' : partitionBytes - declared <= fillSlack(partitionBytes) ? 'fills' : 'smaller';
    out.push({ slot: entry.slot, fit });
  }
  return out;
}

/**
 * What a formatter may leave of a partition past its file system: one
 * allocation unit (ext's largest block, 64 KiB, bounds NTFS's one sector too),
 * but never more than 1% of the partition, so a small volume must fill a
 * small partition closely. The reviewer's 4Kn volumes measured 1.0000 (FAT,
 * exFAT, ext) and 0.9999 (NTFS).
 */
function fillSlack(partitionBytes: number): number {
  return Math.min(FILL_SLACK_BYTES, Math.floor(partitionBytes / 100));
}
const FILL_SLACK_BYTES = 65_536;

/**
 * The least volume whose declared size places MBR entries (a boot sector and
 * an ext superblock, at 1024, both lie in its first 2048 bytes). A smaller
 * volume's size counts as unknown, as it always has here: a FAT of a few
 * sectors at 512 then keeps the disk in 512-byte sectors, as mmls reads it,
 * where its size alone (read from 512 bytes) would let a 4096 reading win.
 */
const SIZED_VOLUME_MIN_BYTES = 2048;

interface MbrEntry {
  slot: number;
  status: number;
  type: number;
  start: number;
  sectors: number;
}

function mbrEntries(sector: Uint8Array): MbrEntry[] {
  const dv = view(sector);
  const out: MbrEntry[] = [];
  for (let slot = 0; slot < 4; slot += 1) {
    const at = 446 + slot * 16;
    out.push({ slot, status: sector[at]!, type: sector[at + 4]!, start: dv.getUint32(at + 8, true), sectors: dv.getUint32(at + 12, true) });
  }
  return out;
}

/** Status bytes are 0x00 or 0x80 and at least one entry is used: otherwise this is no partition table. */
function plausibleMbr(entries: MbrEntry[]): boolean {
  return entries.every((e) => e.status === 0 || e.status === 0x80) && entries.some((e) => e.type !== 0 && e.sectors > 0);
}

function volume(
  media: ByteSource,
  index: number,
  scheme: 'mbr' | 'gpt',
  startSector: number,
  sectors: number,
  type: string,
  label: string,
  where: string,
  problems: VolumeProblem[],
  sectorBytes = SECTOR_BYTES,
): DiskVolume | null {
  const offset = startSector * sectorBytes;
  let size = sectors * sectorBytes;
  if (sectors === 0) return null;
  if (!Number.isSafeInteger(offset) || offset >= media.size || offset < sectorBytes) {
    problems.push({
      where,
      code: 'corrupt-file',
      message: `partition at sector ${startSector} of ${sectors} sectors lies outside the ${media.size}-byte disk`,
    });
    return null;
  }
  if (!Number.isSafeInteger(offset + size) || offset + size > media.size) {
    // A truncated acquisition (a failing card, an image stopped early) ends inside its last
    // partition: what the disk holds of it is read, as TSK does, and the file system reader
    // gives a problem to each entry whose bytes lie past the end.
    problems.push({
      where,
      code: 'corrupt-file',
      message: `partition at sector ${startSector} of ${sectors} sectors runs past the end of the ${media.size}-byte disk: read as far as the disk goes`,
    });
    size = media.size - offset;
  }
  return {
    index,
    offset,
    size,
    scheme,
    type,
    label,
    entry: where,
    source: new SliceByteSource(media, offset, size),
    readOnTo: (bytes) => new SliceByteSource(media, offset, Math.max(size, Math.min(bytes, media.size - offset))),
  };
}

async function readMbr(media: ByteSource, entries: MbrEntry[], sectorBytes: number, options: { abortSignal?: AbortSignal }): Promise<VolumeSystem> {
  const volumes: DiskVolume[] = [];
  const problems: VolumeProblem[] = [];
  let index = 0;
  const typeText = (t: number) => `0x${t.toString(16).padStart(2, '0')}`;
  for (const entry of entries) {
    if (entry.type === 0 || entry.sectors === 0) continue;
    if (EXTENDED.has(entry.type)) continue;
    const v = volume(media, index, 'mbr', entry.start, entry.sectors, typeText(entry.type), MBR_TYPES[entry.type] ?? '', `mbr ${entry.slot}`, problems, sectorBytes);
    if (v) volumes.push(v);
    index += 1;
  }
  // Logical partitions: each EBR holds one partition (relative to the EBR) and a link to the next EBR
  // (relative to the extended partition). Visited EBRs are remembered so a chain that loops ends.
  for (const extended of entries.filter((e) => EXTENDED.has(e.type))) {
    const visited = new Set<number>();
    let ebr = extended.start;
    let n = 0;
    while (ebr !== 0) {
      const where = `ebr ${n}`;
      if (visited.has(ebr)) {
        problems.push({ where, code: 'corrupt-file', message: `extended partition chain loops back to sector ${ebr}` });
        break;
      }
      if (visited.size >= LIMITS.maxMbrLogicalPartitions) {
        problems.push({ where, code: 'limit-exceeded', message: `more than ${LIMITS.maxMbrLogicalPartitions} logical partitions` });
        break;
      }
      visited.add(ebr);
      if ((ebr + 1) * sectorBytes > media.size) {
        problems.push({ where, code: 'corrupt-file', message: `extended boot record at sector ${ebr} lies outside the disk` });
        break;
      }
      const sector = await media.read(ebr * sectorBytes, SECTOR_BYTES, options);
      if (sector[510] !== 0x55 || sector[511] !== 0xaa) {
        problems.push({ where, code: 'corrupt-file', message: `extended boot record at sector ${ebr} has no 0x55AA signature` });
        break;
      }
      const [logical, link] = mbrEntries(sector);
      if (logical && logical.type !== 0 && logical.sectors > 0) {
        const v = volume(media, index, 'mbr', ebr + logical.start, logical.sectors, typeText(logical.type), MBR_TYPES[logical.type] ?? '', where, problems, sectorBytes);
        if (v) volumes.push(v);
        index += 1;
      }
      ebr = link && EXTENDED.has(link.type) && link.sectors > 0 ? extended.start + link.start : 0;
      n += 1;
    }
  }
  return { scheme: 'mbr', volumes, problems };
}

async function readGpt(media: ByteSource, sectorBytes: number, options: { abortSignal?: AbortSignal }): Promise<VolumeSystem | null> {
  const problems: VolumeProblem[] = [];
  const lastLba = Math.floor(media.size / sectorBytes) - 1;
  let header: DataView | null = null;
  for (const [lba, which] of [[1, 'primary'], [lastLba, 'backup']] as const) {
    const bytes = await media.read(lba * sectorBytes, sectorBytes, options);
    if (Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== 'EFI PART') {
      problems.push({ where: 'gpt header', code: 'corrupt-file', message: `${which} GPT header has no EFI PART signature` });
      continue;
    }
    const dv = view(bytes);
    const headerSize = dv.getUint32(12, true);
    if (headerSize < 92 || headerSize > sectorBytes) {
      problems.push({ where: 'gpt header', code: 'corrupt-file', message: `${which} GPT header size ${headerSize}` });
      continue;
    }
    const copy = Uint8Array.from(bytes.subarray(0, headerSize));
    copy.fill(0, 16, 20);
    if (crc32(copy) !== dv.getUint32(16, true)) {
      problems.push({ where: 'gpt header', code: 'corrupt-file', message: `${which} GPT header CRC-32 mismatch` });
      continue;
    }
    header = dv;
    break;
  }
  if (!header) return problems.length ? { scheme: 'gpt', volumes: [], problems } : null;
  const entriesLba = u64(header, 72);
  const count = header.getUint32(80, true);
  const entryBytes = header.getUint32(84, true);
  if (entryBytes < 128 || entryBytes % 8 !== 0 || entryBytes > 4096) {
    problems.push({ where: 'gpt header', code: 'corrupt-file', message: `GPT entry size ${entryBytes}` });
    return { scheme: 'gpt', volumes: [], problems };
  }
  if (count > LIMITS.maxGptEntries) {
    problems.push({ where: 'gpt header', code: 'limit-exceeded', message: `GPT declares ${count} entries, more than ${LIMITS.maxGptEntries}` });
    return { scheme: 'gpt', volumes: [], problems };
  }
  if ((entriesLba * sectorBytes) + count * entryBytes > media.size) {
    problems.push({ where: 'gpt header', code: 'corrupt-file', message: `GPT entry array at LBA ${entriesLba} lies outside the disk` });
    return { scheme: 'gpt', volumes: [], problems };
  }
  const array = await media.read(entriesLba * sectorBytes, count * entryBytes, options);
  if (crc32(array) !== header.getUint32(88, true)) {
    problems.push({ where: 'gpt entries', code: 'corrupt-file', message: 'GPT entry array CRC-32 mismatch; entries read anyway' });
  }
  const volumes: DiskVolume[] = [];
  for (let i = 0; i < count; i += 1) {
    const entry = array.subarray(i * entryBytes, (i + 1) * entryBytes);
    if (entry.subarray(0, 16).every((b) => b === 0)) continue;
    const dv = view(entry);
    const first = u64(dv, 32);
    const last = u64(dv, 40);
    // UTF-16 from evidence: a lone surrogate is escaped visibly (\u{d800}).
    const name = escapeLoneSurrogates(Buffer.from(entry.subarray(56, 128)).toString('utf16le').replace(/\0.*$/s, ''));
    if (last < first) {
      problems.push({ where: `gpt ${i}`, code: 'corrupt-file', message: `GPT entry ends (LBA ${last}) before it starts (LBA ${first})` });
      continue;
    }
    const v = volume(media, i, 'gpt', first, last - first + 1, guidText(entry.subarray(0, 16)), name, `gpt ${i}`, problems, sectorBytes);
    if (v) volumes.push(v);
  }
  return { scheme: 'gpt', volumes, problems };
}
