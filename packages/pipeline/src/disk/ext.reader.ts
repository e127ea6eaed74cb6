import { ExhibitError, LIMITS } from '@exhibit/core';
import type { ByteSource, FileSystemEntry, FileSystemReader, FileSystemTimes, FileSystemType } from './disk-reader.types.js';
import { bytesByteSource, runsByteSource, type DataRun } from './file-byte-source.js';
import { preciseUtcTime } from './ext-time.js';
import { utf8NameOrEscaped } from './name-bytes.js';

/**
 * ext2/ext3/ext4 read from the volume's bytes: superblock, group descriptors
 * (32- and 64-bit), inodes, block maps and extent trees, directories read
 * linearly (htree index bytes are skipped), symlinks as recorded and never
 * followed. Deleted names are found the way The Sleuth Kit finds them — in
 * the slack after each live directory entry — so the listing equals
 * `fls -r -p`, except for slack 'names' that cannot be real (htree index
 * bytes, reserved inodes, NUL/control bytes, invalid UTF-8), which TSK lists
 * and Exhibit leaves out; a deleted inode's data is read back only as
 * far as its block map or extents still describe it (the ext4 kernel driver
 * clears them on deletion; debugfs does not).
 */

const SUPERBLOCK_OFFSET = 1024;
const EXT_MAGIC = 0xef53;
const INCOMPAT_FILETYPE = 0x2;
const INCOMPAT_META_BG = 0x10;
const INCOMPAT_EXTENTS = 0x40;
const INCOMPAT_64BIT = 0x80;
const INCOMPAT_FLEX_BG = 0x200;
const INCOMPAT_INLINE_DATA = 0x8000;
const COMPAT_HAS_JOURNAL = 0x4;
const COMPAT_SPARSE_SUPER2 = 0x200;
const RO_COMPAT_SPARSE_SUPER = 0x1;
const RO_COMPAT_BIGALLOC = 0x200;
const INODE_FLAG_EXTENTS = 0x80000;
const INODE_FLAG_INLINE_DATA = 0x10000000;
/** EXT4_ENCRYPT_FL: fscrypt (Android file-based encryption, ChromeOS, Linux fscrypt); contents and names are ciphertext. */
const INODE_FLAG_ENCRYPT = 0x800;
const EXTENT_MAGIC = 0xf30a;
const BG_INODE_UNINIT = 0x1;
/** The group's block bitmap was never written: only the group's own metadata is in use. */
const BG_BLOCK_UNINIT = 0x2;
const RO_COMPAT_GDT_CSUM = 0x10;
const RO_COMPAT_METADATA_CSUM = 0x400;
const MAX_NAME = 255;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

type Problem = NonNullable<FileSystemEntry['problem']>;

interface Inode {
  ino: number;
  mode: number;
  size: number;
  /** Set when the recorded size is beyond what a number or LIMITS.maxMemberBytes holds. */
  sizeProblem?: Problem;
  flags: number;
  links: number;
  blocks512: number;
  fileAcl: number;
  block: Uint8Array;
  /** The value of the in-inode system.data attribute (inline data past i_block's 60 bytes), when the inode has one. */
  inlineTail?: Uint8Array;
  times: FileSystemTimes;
  allocated: boolean;
  dtime: number;
}

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const i32 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);

function fail(code: Problem['code'], message: string): never {
  throw new ExhibitError(code, message);
}

/** True when the bytes at 1024 hold an ext superblock. */
export async function probe(source: ByteSource): Promise<boolean> {
  if (source.size < SUPERBLOCK_OFFSET + 1024) return false;
  const sb = await source.read(SUPERBLOCK_OFFSET, 1024);
  return u16(sb, 0x38) === EXT_MAGIC && u32(sb, 0x18) <= 6 && u32(sb, 0x28) > 0;
}

export async function open(source: ByteSource, options: { abortSignal?: AbortSignal } = {}): Promise<FileSystemReader> {
  const fs = await ExtFs.mount(source, options.abortSignal);
  return {
    type: fs.type,
    ...(fs.label ? { label: fs.label } : {}),
    ...(fs.volumeProblem ? { problem: fs.volumeProblem } : {}),
    entries: (o) => fs.entries(o?.abortSignal ?? options.abortSignal),
  };
}

/** The file system's size the superblock declares (blocks, with the high half on 64-bit volumes, × block size), in bytes; undefined when not read. */
export async function declaredBytes(source: ByteSource, options: { abortSignal?: AbortSignal } = {}): Promise<number | undefined> {
  if (source.size < SUPERBLOCK_OFFSET + 1024) return undefined;
  const sb = await source.read(SUPERBLOCK_OFFSET, 1024, options);
  const blockBytes = 1024 * 2 ** Math.min(u32(sb, 24), 16);
  const hi = u32(sb, 0x60) & 0x80 ? u32(sb, 0x150) : 0;
  const bytes = (hi * 2 ** 32 + u32(sb, 4)) * blockBytes;
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** The registry entry for the disk-image dispatcher. */
export const extFileSystem = { type: 'ext' as const, probe, open, declaredBytes };

/** What the reader uses of a block group's descriptor. */
interface GroupDesc {
  inodeTable: number;
  inodeBitmap: number;
  blockBitmap: number;
  /** bg_free_blocks_count: the cut check's measure of a group whose bitmap is uninitialised or unreadable. */
  freeBlocks: number;
  flags: number;
  itableUnused: number;
}

/** The cut check's reads so far: what is left of LIMITS.maxExtCutCheckBytes, the descriptor block last read, the bitmaps read. */
interface CutCheckState {
  budgetBytes: number;
  descBlockOffset: number;
  descBlock: Uint8Array;
  bitmapsSeen: Set<number>;
}

function parseGroupDesc(b: Uint8Array, descSize: number): GroupDesc {
  const wide = descSize >= 64;
  return {
    blockBitmap: u32(b, 0x00) + (wide ? u32(b, 0x20) * 2 ** 32 : 0),
    inodeBitmap: u32(b, 0x04) + (wide ? u32(b, 0x24) * 2 ** 32 : 0),
    freeBlocks: u16(b, 0x0c) + (wide ? u16(b, 0x2c) * 2 ** 16 : 0),
    inodeTable: u32(b, 0x08) + (wide ? u32(b, 0x28) * 2 ** 32 : 0),
    flags: u16(b, 0x12),
    itableUnused: u16(b, 0x1c),
  };
}

interface DirName {
  ino: number;
  name: string;
  fileType: number;
  allocated: boolean;
}

class ExtFs {
  private readonly groupDescs = new Map<number, GroupDesc>();
  private readonly bitmaps = new Map<number, Uint8Array>();

  private constructor(
    private readonly source: ByteSource,
    readonly type: FileSystemType,
    readonly label: string,
    private readonly blockSize: number,
    private readonly totalBlocks: number,
    private readonly groupCount: number,
    private readonly inodesPerGroup: number,
    private readonly inodeSize: number,
    private readonly inodesCount: number,
    private readonly descSize: number,
    private readonly gdtOffset: number,
    private readonly incompat: number,
    private readonly roCompat: number,
    /** The first inode a file may have; those below it (but the root, 2) are reserved. */
    private readonly firstIno: number,
    private readonly signal: AbortSignal | undefined,
    /** meta_bg: where each group's descriptor lies (descriptorOffset); null without meta_bg. */
    private readonly metaBg: MetaBgLayout | null = null,
    /** A finding about the whole volume that does not stop the listing (a cut that loses blocks in use is said once mounted). */
    public volumeProblem: { code: 'corrupt-file'; message: string } | null = null,
  ) {}

  static async mount(source: ByteSource, signal?: AbortSignal): Promise<ExtFs> {
    if (source.size < SUPERBLOCK_OFFSET + 1024) fail('corrupt-file', 'ext: volume too small for a superblock');
    const sb = await source.read(SUPERBLOCK_OFFSET, 1024, { abortSignal: signal });
    if (u16(sb, 0x38) !== EXT_MAGIC) fail('corrupt-file', 'ext: no superblock magic');
    const logBlock = u32(sb, 0x18);
    if (logBlock > 6) fail('limit-exceeded', `ext: block size 2^${10 + logBlock} is beyond LIMITS.maxFsBlockBytes`);
    const blockSize = 1024 << logBlock;
    if (blockSize > LIMITS.maxFsBlockBytes) fail('limit-exceeded', `ext: block size ${blockSize} is beyond LIMITS.maxFsBlockBytes`);
    const incompat = u32(sb, 0x60);
    const compat = u32(sb, 0x5c);
    const is64 = (incompat & INCOMPAT_64BIT) !== 0;
    const totalBlocks = u32(sb, 0x04) + (is64 ? u32(sb, 0x150) * 2 ** 32 : 0);
    const firstDataBlock = u32(sb, 0x14);
    const blocksPerGroup = u32(sb, 0x20);
    const inodesPerGroup = u32(sb, 0x28);
    const inodesCount = u32(sb, 0x00);
    const revLevel = u32(sb, 0x4c);
    const inodeSize = revLevel === 0 ? 128 : u16(sb, 0x58);
    // bigalloc counts allocation in clusters of blocks (blocks per group beyond a bitmap block's bits, extents
    // in clusters): a sound volume this reader does not read, not a corrupt one.
    const roCompat = u32(sb, 0x64);
    if (roCompat & RO_COMPAT_BIGALLOC) fail('unsupported-format', 'ext: bigalloc (cluster allocation) volumes are not supported');
    if (blocksPerGroup === 0 || blocksPerGroup > blockSize * 8) fail('corrupt-file', `ext: ${blocksPerGroup} blocks per group is impossible`);
    if (inodesPerGroup === 0 || inodesPerGroup > blockSize * 8) fail('corrupt-file', `ext: ${inodesPerGroup} inodes per group is impossible`);
    if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) fail('corrupt-file', `ext: inode size ${inodeSize} is impossible`);
    if (totalBlocks <= firstDataBlock) fail('corrupt-file', `ext: ${totalBlocks} blocks is impossible`);
    const groupCount = Math.ceil((totalBlocks - firstDataBlock) / blocksPerGroup);
    if (groupCount > LIMITS.maxExtGroups) fail('limit-exceeded', `ext: ${groupCount} block groups is beyond LIMITS.maxExtGroups`);
    if (inodesCount === 0 || inodesCount > groupCount * inodesPerGroup) {
      fail('corrupt-file', `ext: ${inodesCount} inodes do not fit ${groupCount} groups of ${inodesPerGroup}`);
    }
    const descSize = is64 ? u16(sb, 0xfe) : 32;
    if (descSize < 32 || descSize > 1024 || (descSize & (descSize - 1)) !== 0) fail('corrupt-file', `ext: group descriptor size ${descSize} is impossible`);
    const gdtOffset = (firstDataBlock + 1) * blockSize;
    const perBlock = blockSize / descSize;
    // meta_bg (set by resize2fs when it grows a volume past its reserved descriptor blocks, and by mke2fs on
    // request): the descriptor blocks below s_first_meta_bg follow the superblock; each later one lies in the
    // first group of its meta group (after that group's superblock backup), so only the first part is contiguous.
    const metaBg: MetaBgLayout | null =
      incompat & INCOMPAT_META_BG
        ? {
            firstMetaBg: u32(sb, 0x104),
            perBlock,
            firstDataBlock,
            blocksPerGroup,
            sparseSuper: (roCompat & RO_COMPAT_SPARSE_SUPER) !== 0,
            backupBgs: compat & COMPAT_SPARSE_SUPER2 ? [u32(sb, 0x24c), u32(sb, 0x250)] : null,
          }
        : null;
    const contiguousGroups = metaBg ? Math.min(groupCount, metaBg.firstMetaBg * perBlock) : groupCount;
    if (gdtOffset + contiguousGroups * descSize > source.size) {
      fail('corrupt-file', `ext: ${groupCount} group descriptors (from ${totalBlocks} blocks) do not fit the ${source.size}-byte volume`);
    }
    // Under meta_bg only the first descriptors are checked against the volume above, so the block count is not:
    // a count past the image (a cut acquisition, or a forged s_blocks_count) is said once for the volume,
    // and what the image holds is still listed (groups past it are skipped or their inodes get a problem).
    let volumeProblem: { code: 'corrupt-file'; message: string } | null = null;
    if (metaBg) {
      const lastMetaGroupFirst = Math.floor((groupCount - 1) / perBlock) * perBlock;
      const firstBlockBytes = (firstDataBlock + lastMetaGroupFirst * blocksPerGroup) * blockSize;
      if (firstBlockBytes >= source.size) {
        volumeProblem = {
          code: 'corrupt-file',
          message: `ext: the superblock declares ${totalBlocks} blocks of ${blockSize} bytes (${groupCount} groups), but the last meta group (from group ${lastMetaGroupFirst}) starts at byte ${firstBlockBytes}, past the end of the ${source.size}-byte volume: the groups past the end are not read`,
        };
      }
    }
    const type: FileSystemType =
      incompat & (INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG | INCOMPAT_INLINE_DATA) ? 'ext4' : compat & COMPAT_HAS_JOURNAL ? 'ext3' : 'ext2';
    const label = latin1Name(sb.subarray(0x78, 0x88));
    const fs = new ExtFs(source, type, label, blockSize, totalBlocks, groupCount, inodesPerGroup, inodeSize, inodesCount, descSize, gdtOffset, incompat, roCompat, revLevel === 0 ? 11 : u32(sb, 0x54), signal, metaBg, volumeProblem);
    // Any volume, meta_bg or not: blocks declared past the volume's end (a cut acquisition or partition, or a forged
    // count) are said for the volume when the cut loses a block in use, as the listing cannot show it; files whose
    // blocks lie past the end get their own problem. A cut that leaves out only free blocks loses nothing (as FAT and
    // exFAT). s_blocks_count counts from block 0 (block 0 included when first_data_block is 1), so a whole volume
    // declares exactly its bytes, or less when its partition is not a whole number of blocks.
    const declaredBytes = totalBlocks * blockSize;
    if (!volumeProblem && declaredBytes > source.size) {
      const cut = await fs.cutCheck(firstDataBlock, blocksPerGroup);
      if (cut !== 'kept') {
        fs.volumeProblem = {
          code: 'corrupt-file',
          message:
            `ext: the superblock declares ${totalBlocks} blocks of ${blockSize} bytes (${BigInt(totalBlocks) * BigInt(blockSize)} bytes), past the end of the ${source.size}-byte volume: the volume is cut short (or its block count is wrong), and what lies past the end is not read` +
            (cut === 'unchecked' ? ` (whether blocks in use lie past the end was not checked beyond LIMITS.maxExtCutCheckBytes, ${LIMITS.maxExtCutCheckBytes} bytes of descriptors and bitmaps)` : ''),
        };
      }
    }
    return fs;
  }

  /**
   * Whether the blocks past the present bytes hold anything ('lost': a block its group's bitmap marks in use, or
   * what says so cannot be read), or nothing ('kept'), or could not be told within LIMITS.maxExtCutCheckBytes of
   * descriptor blocks and bitmaps read ('unchecked', said as the cut: a forged group count must not make the check
   * outlast the parse step, and a declared size far past the image is said whatever its bitmaps claim).
   * A group whose bitmap is uninitialised (BLOCK_UNINIT, honoured only under GDT_CSUM or METADATA_CSUM as e2fsprogs
   * and the kernel do: only its own metadata, at its start, is in use) or unreadable (its location outside the
   * volume) is judged by its descriptor's free-blocks count, conservatively: blocks in use that cannot all lie in the
   * group's present part are lost. A descriptor or bitmap past the cut, a read that fails, or a bitmap block already
   * read for another group (never so on a sound volume: a forgery repeating one zero block) is lost too.
   * Descriptors are read a block at a time.
   */
  private async cutCheck(firstDataBlock: number, blocksPerGroup: number): Promise<'kept' | 'lost' | 'unchecked'> {
    // The first block not wholly present.
    const missing = Math.floor(this.source.size / this.blockSize);
    if (missing >= this.totalBlocks) return 'kept';
    const firstGroup = Math.max(0, Math.floor((missing - firstDataBlock) / blocksPerGroup));
    const check: CutCheckState = { budgetBytes: LIMITS.maxExtCutCheckBytes, descBlockOffset: -1, descBlock: new Uint8Array(0), bitmapsSeen: new Set() };
    for (let group = firstGroup; group < this.groupCount; group++) {
      const start = firstDataBlock + group * blocksPerGroup;
      const end = Math.min(start + blocksPerGroup, this.totalBlocks);
      const lostFrom = Math.max(start, missing);
      if (lostFrom >= end) continue;
      try {
        const outcome = await this.groupCutCheck(check, group, start, end, lostFrom, missing);
        if (outcome !== 'kept') return outcome;
      } catch (err) {
        // A descriptor outside the volume, an unreadable bitmap: what it said cannot be told, so the cut is said.
        if (err instanceof ExhibitError && !err.retryable && err.code !== 'aborted' && err.code !== 'timeout') return 'lost';
        throw err;
      }
    }
    return 'kept';
  }

  private async groupCutCheck(check: CutCheckState, group: number, start: number, end: number, lostFrom: number, missing: number): Promise<'kept' | 'lost' | 'unchecked'> {
    const offset = this.metaBg ? descriptorOffset(this.metaBg, group, this.gdtOffset, this.descSize, this.blockSize) : this.gdtOffset + group * this.descSize;
    if (offset + this.descSize > this.source.size) fail('corrupt-file', `ext: the descriptor of group ${group} lies outside the volume`);
    const blockOffset = offset - (offset % this.blockSize);
    if (blockOffset !== check.descBlockOffset) {
      const length = Math.min(this.blockSize, this.source.size - blockOffset);
      if (length > check.budgetBytes) return 'unchecked';
      check.budgetBytes -= length;
      check.descBlock = await this.read(blockOffset, length);
      check.descBlockOffset = blockOffset;
    }
    const desc = parseGroupDesc(check.descBlock.subarray(offset - blockOffset, offset - blockOffset + this.descSize), this.descSize);
    // The group's own bitmaps and inode table are in use wherever they lie (flex_bg puts them in another group).
    const tableBlocks = Math.ceil((this.inodesPerGroup * this.inodeSize) / this.blockSize);
    const lostMeta = (first: number, count: number) => first + count > missing && first < this.totalBlocks;
    if (lostMeta(desc.blockBitmap, 1) || lostMeta(desc.inodeBitmap, 1) || lostMeta(desc.inodeTable, tableBlocks)) return 'lost';
    const present = lostFrom - start;
    const inUse = end - start - Math.min(desc.freeBlocks, end - start);
    const checksummed = (this.roCompat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM)) !== 0;
    if (checksummed && desc.flags & BG_BLOCK_UNINIT) return inUse > present ? 'lost' : 'kept';
    // A bitmap outside the volume cannot be read: where the group's blocks in use lie cannot be told, so only a group
    // with none in use loses nothing.
    if (desc.blockBitmap === 0 || desc.blockBitmap >= this.totalBlocks) return inUse > 0 ? 'lost' : 'kept';
    if (check.bitmapsSeen.has(desc.blockBitmap)) return 'lost';
    check.bitmapsSeen.add(desc.blockBitmap);
    const fromBit = lostFrom - start;
    const toBit = end - start;
    const firstByte = fromBit >> 3;
    const length = Math.ceil(toBit / 8) - firstByte;
    if (length > check.budgetBytes) return 'unchecked';
    check.budgetBytes -= length;
    const bits = await this.read(desc.blockBitmap * this.blockSize + firstByte, length);
    for (let bit = fromBit; bit < toBit; bit++) {
      if ((bit & 7) === 0 && bit + 8 <= toBit) {
        if (bits[(bit >> 3) - firstByte] !== 0) return 'lost';
        bit += 7;
        continue;
      }
      if (bits[(bit >> 3) - firstByte]! & (1 << (bit & 7))) return 'lost';
    }
    return 'kept';
  }

  private read(offset: number, length: number): Promise<Uint8Array> {
    if (this.signal?.aborted) throw new ExhibitError('aborted', 'ext: listing aborted', { cause: this.signal.reason });
    return this.source.read(offset, length, { abortSignal: this.signal });
  }

  private async groupDesc(group: number): Promise<GroupDesc> {
    let desc = this.groupDescs.get(group);
    if (!desc) {
      desc = await this.readGroupDesc(group);
      this.groupDescs.set(group, desc);
    }
    return desc;
  }

  private async readGroupDesc(group: number): Promise<GroupDesc> {
    const offset = this.metaBg ? descriptorOffset(this.metaBg, group, this.gdtOffset, this.descSize, this.blockSize) : this.gdtOffset + group * this.descSize;
    if (offset + this.descSize > this.source.size) fail('corrupt-file', `ext: the descriptor of group ${group} lies outside the volume`);
    return parseGroupDesc(await this.read(offset, this.descSize), this.descSize);
  }

  private async inodeAllocated(ino: number): Promise<boolean> {
    const group = Math.floor((ino - 1) / this.inodesPerGroup);
    const index = (ino - 1) % this.inodesPerGroup;
    const desc = await this.groupDesc(group);
    if (desc.flags & BG_INODE_UNINIT) return false;
    let bitmap = this.bitmaps.get(group);
    if (!bitmap) {
      if (desc.inodeBitmap >= this.totalBlocks) return false;
      bitmap = await this.read(desc.inodeBitmap * this.blockSize, Math.ceil(this.inodesPerGroup / 8));
      this.bitmaps.set(group, bitmap);
    }
    return (bitmap[index >> 3]! & (1 << (index & 7))) !== 0;
  }

  async inode(ino: number): Promise<Inode> {
    if (ino < 1 || ino > this.inodesCount) fail('corrupt-file', `inode ${ino} is outside 1…${this.inodesCount}`);
    const group = Math.floor((ino - 1) / this.inodesPerGroup);
    const desc = await this.groupDesc(group);
    const offset = desc.inodeTable * this.blockSize + ((ino - 1) % this.inodesPerGroup) * this.inodeSize;
    if (desc.inodeTable >= this.totalBlocks || offset + this.inodeSize > this.source.size) {
      fail('corrupt-file', `inode ${ino}: inode table of group ${group} lies outside the volume`);
    }
    const b = await this.read(offset, this.inodeSize);
    const mode = u16(b, 0x00);
    const sizeHigh = u32(b, 0x6c);
    let size = u32(b, 0x04);
    let sizeProblem: Problem | undefined;
    const isFileOrDir = (mode & 0xf000) === 0x8000 || (mode & 0xf000) === 0x4000;
    if (isFileOrDir && sizeHigh !== 0) {
      const big = BigInt(sizeHigh) * 2n ** 32n + BigInt(size);
      if (big > BigInt(LIMITS.maxMemberBytes)) {
        sizeProblem = { code: 'limit-exceeded', message: `recorded size ${big} bytes is beyond LIMITS.maxMemberBytes` };
        size = 0;
      } else size = Number(big);
    }
    const extra = this.inodeSize > 128 ? u16(b, 0x80) : 0;
    const time = (secOffset: number, extraOffset: number | null, name: string) => {
      const seconds = i32(b, secOffset);
      let epoch = 0n;
      let nanos = 0;
      if (extraOffset !== null && extra >= extraOffset - 0x80 + 4) {
        const x = u32(b, extraOffset);
        epoch = BigInt(x & 3);
        nanos = x >>> 2;
      } else if (seconds === 0) return undefined;
      return preciseUtcTime(BigInt(seconds) + (epoch << 32n), nanos, `ext:${name}`);
    };
    const times: FileSystemTimes = {};
    const set = (key: keyof FileSystemTimes, value: ReturnType<typeof time>) => {
      if (value) times[key] = value;
    };
    set('accessed', time(0x08, 0x8c, 'atime'));
    set('changed', time(0x0c, 0x84, 'ctime'));
    set('modified', time(0x10, 0x88, 'mtime'));
    if (extra >= 0x94 - 0x80 + 4) set('created', time(0x90, 0x94, 'crtime'));
    const dtime = u32(b, 0x14);
    if (dtime !== 0) set('deleted', preciseUtcTime(BigInt(dtime), 0, 'ext:dtime'));
    const flags = u32(b, 0x20);
    const inlineTail = flags & INODE_FLAG_INLINE_DATA && this.inodeSize > 128 ? inodeSystemData(b, 128 + extra) : undefined;
    return {
      ino,
      mode,
      size,
      ...(sizeProblem ? { sizeProblem } : {}),
      flags,
      ...(inlineTail ? { inlineTail } : {}),
      links: u16(b, 0x1a),
      blocks512: u32(b, 0x1c),
      fileAcl: u32(b, 0x68),
      block: b.slice(0x28, 0x28 + 60),
      times,
      allocated: await this.inodeAllocated(ino),
      dtime,
    };
  }

  /** The inode's data as runs of bytes over the volume; throws a typed ExhibitError when the map is unusable. */
  async dataRuns(inode: Inode): Promise<DataRun[]> {
    const runs: DataRun[] = [];
    const bs = this.blockSize;
    const push = (logicalBlock: number, count: number, physicalBlock: number | null) => {
      if (physicalBlock !== null && (physicalBlock + count > this.totalBlocks || (physicalBlock + count) * bs > this.source.size)) {
        fail('corrupt-file', `inode ${inode.ino}: blocks ${physicalBlock}…${physicalBlock + count - 1} lie beyond the volume`);
      }
      const last = runs[runs.length - 1];
      if (last && physicalBlock !== null && last.physical !== null && last.logical + last.length === logicalBlock * bs && last.physical + last.length === physicalBlock * bs) {
        last.length += count * bs;
        return;
      }
      if (runs.length >= LIMITS.maxFsDataRuns) fail('limit-exceeded', `inode ${inode.ino}: more than LIMITS.maxFsDataRuns runs`);
      runs.push({ logical: logicalBlock * bs, length: count * bs, physical: physicalBlock === null ? null : physicalBlock * bs });
    };
    const fileBlocks = Math.ceil(inode.size / bs);
    if (inode.flags & INODE_FLAG_EXTENTS) {
      await this.walkExtents(inode, inode.block, LIMITS.maxExtExtentDepth + 1, null, push, { nodes: 0 });
      runs.sort((a, b) => a.logical - b.logical);
      for (let i = 1; i < runs.length; i++) {
        if (runs[i]!.logical < runs[i - 1]!.logical + runs[i - 1]!.length) fail('corrupt-file', `inode ${inode.ino}: extents overlap`);
      }
    } else {
      const budget = { mapped: 0 };
      const ptrs = Math.floor(bs / 4);
      // Direct blocks 0–11, then single, double and triple indirect trees.
      for (let i = 0; i < 12 && i < fileBlocks; i++) {
        const p = u32(inode.block, i * 4);
        if (p !== 0) push(i, 1, p);
      }
      let base = 12;
      for (let level = 1; level <= 3 && base < fileBlocks; level++) {
        const p = u32(inode.block, (11 + level) * 4);
        if (p !== 0) await this.walkIndirect(inode, p, level, base, fileBlocks, push, budget);
        base += ptrs ** level;
      }
    }
    return runs;
  }

  private async walkIndirect(
    inode: Inode,
    block: number,
    level: number,
    firstLogical: number,
    fileBlocks: number,
    push: (l: number, c: number, p: number | null) => void,
    budget: { mapped: number },
  ): Promise<void> {
    if (block >= this.totalBlocks || (block + 1) * this.blockSize > this.source.size) {
      fail('corrupt-file', `inode ${inode.ino}: indirect block ${block} lies beyond the volume`);
    }
    if (++budget.mapped > this.totalBlocks) fail('corrupt-file', `inode ${inode.ino}: block map names more blocks than the volume holds`);
    const b = await this.read(block * this.blockSize, this.blockSize);
    const ptrs = this.blockSize / 4;
    const span = ptrs ** (level - 1);
    for (let i = 0; i < ptrs; i++) {
      const logical = firstLogical + i * span;
      if (logical >= fileBlocks) break;
      const p = u32(b, i * 4);
      if (p === 0) continue;
      if (level === 1) {
        if (++budget.mapped > this.totalBlocks) fail('corrupt-file', `inode ${inode.ino}: block map names more blocks than the volume holds`);
        push(logical, 1, p);
      } else await this.walkIndirect(inode, p, level - 1, logical, fileBlocks, push, budget);
    }
  }

  private async walkExtents(
    inode: Inode,
    node: Uint8Array,
    depthLeft: number,
    expectDepth: number | null,
    push: (l: number, c: number, p: number | null) => void,
    budget: { nodes: number },
  ): Promise<void> {
    if (u16(node, 0) !== EXTENT_MAGIC) fail('corrupt-file', `inode ${inode.ino}: no extent header (extents cleared)`);
    const entries = u16(node, 2);
    const max = u16(node, 4);
    const depth = u16(node, 6);
    if (depth > LIMITS.maxExtExtentDepth || depthLeft <= 0) fail('limit-exceeded', `inode ${inode.ino}: extent tree deeper than LIMITS.maxExtExtentDepth`);
    if (expectDepth !== null && depth !== expectDepth) fail('corrupt-file', `inode ${inode.ino}: extent node depth ${depth}, expected ${expectDepth}`);
    if (entries > max || 12 + entries * 12 > node.length) fail('corrupt-file', `inode ${inode.ino}: extent node holds ${entries} of at most ${max} entries`);
    for (let i = 0; i < entries; i++) {
      const e = 12 + i * 12;
      const logical = u32(node, e);
      if (depth === 0) {
        let len = u16(node, e + 4);
        const uninit = len > 32768;
        if (uninit) len -= 32768;
        const start = u16(node, e + 6) * 2 ** 32 + u32(node, e + 8);
        if (len === 0) continue;
        push(logical, len, uninit ? null : start);
      } else {
        const leaf = u32(node, e + 4) + u16(node, e + 8) * 2 ** 32;
        if (leaf >= this.totalBlocks || (leaf + 1) * this.blockSize > this.source.size) {
          fail('corrupt-file', `inode ${inode.ino}: extent node at block ${leaf} lies beyond the volume`);
        }
        if (++budget.nodes > this.totalBlocks) fail('corrupt-file', `inode ${inode.ino}: extent tree names more nodes than the volume holds`);
        const child = await this.read(leaf * this.blockSize, this.blockSize);
        await this.walkExtents(inode, child, depthLeft - 1, depth - 1, push, budget);
      }
    }
  }

  /** The inode's data as a ByteSource (inline data, fast symlink, or mapped blocks). */
  async data(inode: Inode): Promise<ByteSource> {
    const kind = inode.mode & 0xf000;
    if (kind === 0xa000 && this.isFastSymlink(inode)) return bytesByteSource(inode.block.slice(0, Math.min(inode.size, 60)));
    if (inode.flags & INODE_FLAG_INLINE_DATA) return bytesByteSource(this.inlineBytes(inode));
    const runs = await this.dataRuns(inode);
    return runsByteSource(this.source, runs, inode.size);
  }

  /**
   * An inline-data inode's bytes: the 60 bytes of i_block, then the value of
   * its in-inode system.data attribute (ext4 keeps small files, symlinks and
   * directories there: Android and mke2fs -O inline_data). Both lie inside
   * the inode, so the read is bounded by the inode size. A recorded size the
   * two cannot hold is corrupt: the missing bytes are nowhere.
   */
  private inlineBytes(inode: Inode): Uint8Array {
    if (inode.size <= 60) return inode.block.slice(0, inode.size);
    const tail = inode.inlineTail;
    if (!tail || 60 + tail.length < inode.size) {
      fail('corrupt-file', `inode ${inode.ino}: inline data of ${inode.size} bytes, but i_block and system.data hold ${60 + (tail?.length ?? 0)}`);
    }
    const out = new Uint8Array(inode.size);
    out.set(inode.block.subarray(0, 60), 0);
    out.set(tail.subarray(0, inode.size - 60), 60);
    return out;
  }

  private isFastSymlink(inode: Inode): boolean {
    const aclBlocks = inode.fileAcl !== 0 ? this.blockSize / 512 : 0;
    return inode.size < 60 && inode.blocks512 - aclBlocks <= 0 && !(inode.flags & INODE_FLAG_EXTENTS);
  }

  /**
   * Where htree index bytes begin in a directory block, or the block's length
   * when it holds none. An indexed directory's first block (dx_root) is '.'
   * and '..' with '..' covering the rest, then dx_root_info (zero, hash
   * version, info length 8, levels) and the count/limit header; an interior
   * block (dx_node) is a fake entry with inode 0 and name length 0 covering
   * the whole block, then count/limit. The {hash, block} pairs that follow
   * are not names: read as directory slack they parse as garbage 'deleted
   * names' (TSK lists them, as '^'). The shape is checked, not the inode's
   * index flag, so a directory whose flag was cleared (its old index bytes
   * still there) is read the same way.
   */
  private dxIndexStart(b: Uint8Array): number {
    const bs = b.length;
    if (bs !== this.blockSize) return bs;
    const withType = (this.incompat & INCOMPAT_FILETYPE) !== 0;
    const nameLen = (o: number) => (withType ? b[o + 6]! : u16(b, o + 6));
    // The limit is the number of 8-byte entries that fit; a checksum tail (metadata_csum) takes 8 bytes.
    const limitFits = (header: number) => {
      const limit = u16(b, header);
      const count = u16(b, header + 2);
      const room = (bs - header) / 8;
      return (limit === room || limit === room - 1) && count >= 1 && count <= limit;
    };
    const dotAt = (o: number, dots: number) => nameLen(o) === dots && b[o + 8] === 0x2e && (dots === 1 || b[o + 9] === 0x2e);
    const recLen = (o: number) => {
      const r = u16(b, o + 4);
      return bs === 65536 && (r === 0 || r === 65535) ? 65536 : r;
    };
    if (
      u32(b, 0) !== 0 &&
      recLen(0) === 12 &&
      dotAt(0, 1) &&
      recLen(12) === bs - 12 &&
      dotAt(12, 2) &&
      u32(b, 24) === 0 &&
      b[29] === 8 &&
      b[30]! <= 3 &&
      limitFits(32)
    ) {
      return 24;
    }
    if (u32(b, 0) === 0 && recLen(0) === bs && nameLen(0) === 0 && limitFits(8)) return 0;
    return bs;
  }

  /**
   * A name found in slack is listed only when it could be a real entry:
   * its inode is 0, the root or a non-reserved inode, and its bytes are
   * UTF-8 with no NUL, '/' or control character. Slack holds old bytes of
   * every kind; a 'name' failing these is absent rather than wrong (TSK
   * prints such names with '^' for the bytes it cannot show).
   */
  private plausibleRecoveredName(ino: number, name: Uint8Array): string | undefined {
    if (ino !== 0 && ino !== 2 && ino < this.firstIno) return undefined;
    for (const c of name) if (c < 0x20 || c === 0x7f || c === 0x2f) return undefined;
    try {
      return STRICT_UTF8.decode(name);
    } catch {
      return undefined;
    }
  }

  /**
   * Names in one directory block, the way TSK's ext2fs_dent_parse_block reads
   * them: live entries, then whatever still parses in the slack each live
   * entry's record length leaves behind (deleted names) — except htree index
   * bytes, which are never names, and slack 'names' that cannot be real
   * (plausibleRecoveredName).
   */
  private parseDirBlock(b: Uint8Array, deletedDir: boolean, out: DirName[]): void {
    const withType = (this.incompat & INCOMPAT_FILETYPE) !== 0;
    const indexStart = this.dxIndexStart(b);
    let dellen = 0;
    let minreclen = 4;
    for (let idx = 0; idx + 12 <= b.length && idx < indexStart; idx += minreclen) {
      const ino = u32(b, idx);
      const reclen = u16(b, idx + 4);
      const namelen = withType ? b[idx + 6]! : u16(b, idx + 6);
      const fileType = withType ? b[idx + 7]! : 0;
      minreclen = (namelen + 8 + 3) & ~3;
      if (ino > this.inodesCount || namelen > MAX_NAME || namelen === 0 || reclen < minreclen || reclen % 4 !== 0 || idx + reclen > b.length) {
        minreclen = 4;
        if (dellen > 0) dellen -= 4;
        continue;
      }
      if (dellen > 0 && dellen < minreclen) {
        minreclen = 4;
        dellen -= 4;
        continue;
      }
      const nameBytes = b.subarray(idx + 8, idx + 8 + namelen);
      let name: string;
      let allocated: boolean;
      if (dellen > 0 || ino === 0 || deletedDir) {
        const recovered = this.plausibleRecoveredName(ino, nameBytes);
        if (recovered === undefined) {
          minreclen = 4;
          if (dellen > 0) dellen -= 4;
          continue;
        }
        name = recovered;
        allocated = false;
        if (dellen > 0) dellen -= minreclen;
      } else {
        // Any bytes: a byte that is not UTF-8 is kept (escaped), never replaced by U+FFFD.
        name = utf8NameOrEscaped(nameBytes);
        allocated = true;
      }
      // As TSK: the slack after any entry read outside slack — live, or deleted in place (inode 0, which the kernel
      // writes when it deletes the first entry of a block, then merges the next deletions into it) — holds deleted
      // names.
      if (dellen <= 0) {
        if (reclen - minreclen >= 12) dellen = reclen - minreclen;
        else minreclen = reclen;
      }
      out.push({ ino, name, fileType, allocated });
    }
  }

  private async readDirectory(inode: Inode, deletedDir: boolean): Promise<DirName[]> {
    if (inode.size > LIMITS.maxFsDirectoryBytes) fail('limit-exceeded', `directory inode ${inode.ino}: ${inode.size} bytes is beyond LIMITS.maxFsDirectoryBytes`);
    const out: DirName[] = [];
    if (inode.flags & INODE_FLAG_INLINE_DATA) {
      // An inline directory: i_block holds the parent's inode number (in place of '.' and '..') and then
      // entries up to byte 60; entries continue in the system.data value, each part with its own record lengths.
      const bytes = this.inlineBytes(inode);
      this.parseDirBlock(bytes.subarray(4, Math.min(60, bytes.length)), deletedDir, out);
      if (bytes.length > 60) this.parseDirBlock(bytes.subarray(60), deletedDir, out);
      return oncePerName(out);
    }
    const source = await this.data(inode);
    for (let offset = 0; offset < source.size; offset += this.blockSize) {
      const length = Math.min(this.blockSize, source.size - offset);
      this.parseDirBlock(await source.read(offset, length, { abortSignal: this.signal }), deletedDir, out);
    }
    return oncePerName(out);
  }

  /**
   * Free inodes that were used (a change time is set) and that no name points
   * to: what TSK lists under $OrphanFiles. Groups the kernel never used
   * (INODE_UNINIT, and the unused tail the group descriptor records when
   * checksums are on) are skipped, and at most LIMITS.maxExtOrphanScanInodes
   * inodes are read.
   */
  private async *freeUsedInodes(named: Set<number>): AsyncGenerator<number> {
    const trustUnused = (this.roCompat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM)) !== 0;
    let budget = LIMITS.maxExtOrphanScanInodes;
    for (let group = 0; group < this.groupCount && budget > 0; group++) {
      // A meta_bg descriptor past the end of a cut image: that group's inodes are not there either (as a table past the end, below).
      if (this.metaBg && descriptorOffset(this.metaBg, group, this.gdtOffset, this.descSize, this.blockSize) + this.descSize > this.source.size) continue;
      const desc = await this.groupDesc(group);
      if (desc.flags & BG_INODE_UNINIT) continue;
      const used = Math.min(this.inodesPerGroup - (trustUnused ? Math.min(desc.itableUnused, this.inodesPerGroup) : 0), budget);
      budget -= used;
      const tableOffset = desc.inodeTable * this.blockSize;
      if (used <= 0 || desc.inodeTable >= this.totalBlocks || tableOffset + used * this.inodeSize > this.source.size) continue;
      const perRead = Math.max(1, Math.floor((1024 * 1024) / this.inodeSize));
      for (let first = 0; first < used; first += perRead) {
        const count = Math.min(perRead, used - first);
        const table = await this.read(tableOffset + first * this.inodeSize, count * this.inodeSize);
        for (let i = 0; i < count; i++) {
          const ino = group * this.inodesPerGroup + first + i + 1;
          if (ino > this.inodesCount) return;
          if (named.has(ino) || u32(table, i * this.inodeSize + 0x0c) === 0) continue;
          if (await this.inodeAllocated(ino)) continue;
          yield ino;
        }
      }
    }
  }

  async *entries(signal?: AbortSignal): AsyncGenerator<FileSystemEntry> {
    const root = await this.inode(2);
    if ((root.mode & 0xf000) !== 0x4000) fail('corrupt-file', 'ext: inode 2 is not a directory');
    const visited = new Set<number>([2]);
    /** Inodes some name (live or deleted) points to; free, used inodes outside it are TSK's orphans. */
    const named = new Set<number>([2]);
    let count = 0;
    // Depth first, directory order; a directory's names are read before it is yielded, so an unreadable one carries the problem.
    const walk = async function* (this: ExtFs, names: DirName[], prefix: string, deletedDir: boolean, depth: number): AsyncGenerator<FileSystemEntry> {
      for (const n of names) {
        if (n.name === '.' || n.name === '..') continue;
        named.add(n.ino);
        if (signal?.aborted) throw new ExhibitError('aborted', 'ext: listing aborted', { cause: signal.reason });
        if (++count > LIMITS.maxFsEntries) fail('limit-exceeded', `ext: more than LIMITS.maxFsEntries entries`);
        const path = prefix + n.name;
        const entry: FileSystemEntry = {
          path,
          entryId: String(n.ino),
          allocated: n.allocated,
          recovered: false,
          kind: kindOfDirType(n.fileType),
          size: 0,
          times: {},
        };
        let inode: Inode | undefined;
        if (n.ino !== 0) {
          try {
            inode = await this.inode(n.ino);
          } catch (err) {
            entry.problem = problemOf(err);
          }
        }
        let children: DirName[] | undefined;
        if (inode) {
          const mkind = kindOfMode(inode.mode);
          if (mkind) entry.kind = mkind;
          entry.size = inode.size;
          // A deletion time only for an inode the bitmap says is free: ext3/4 reuse dtime on a live orphan-list inode
          // (a truncate or unlink in progress) for the next orphan's inode number, which is no time at all.
          const { deleted, ...live } = inode.times;
          entry.times = inode.allocated || !deleted ? live : { ...live, deleted };
          const reallocated = !n.allocated && inode.allocated;
          if (reallocated) {
            entry.problem = { code: 'corrupt-file', message: `deleted name: inode ${n.ino} is allocated (reused, or never freed), so its data is not this name's` };
          } else if (inode.sizeProblem) {
            entry.problem = inode.sizeProblem;
          } else if (!n.allocated && !inode.allocated && inode.size === 0 && inode.dtime !== 0 && entry.kind === 'file') {
            // What the ext4 driver leaves of a deleted file: the name, times and an emptied extent tree.
            entry.problem = { code: 'corrupt-file', message: 'deleted: the file system cleared the size and block map; the data is no longer described' };
          } else if ((entry.kind === 'file' || entry.kind === 'symlink') && inode.flags & INODE_FLAG_ENCRYPT) {
            // The blocks hold ciphertext: given as the file's data, its hash and content would be a wrong value.
            entry.problem = { code: 'unsupported-format', message: `inode ${n.ino}: contents encrypted (fscrypt); the ciphertext is not the file's data` };
          } else if (entry.kind === 'file' || entry.kind === 'symlink') {
            try {
              const data = await this.data(inode);
              entry.data = () => data;
              if (!n.allocated) entry.recovered = true;
            } catch (err) {
              entry.problem = problemOf(err, n.allocated ? undefined : 'deleted: data no longer described');
            }
          } else if (entry.kind === 'directory') {
            if (visited.has(n.ino)) {
              entry.problem = { code: 'corrupt-file', message: `directory loop: inode ${n.ino} is already listed above or elsewhere` };
            } else if (depth + 1 > LIMITS.maxFsDirectoryDepth) {
              entry.problem = { code: 'limit-exceeded', message: `directory deeper than LIMITS.maxFsDirectoryDepth` };
            } else {
              visited.add(n.ino);
              try {
                children = await this.readDirectory(inode, deletedDir || !n.allocated);
              } catch (err) {
                entry.problem = problemOf(err);
              }
            }
          }
        }
        yield entry;
        if (children) yield* walk.call(this, children, `${path}/`, deletedDir || !n.allocated, depth + 1);
      }
    };
    yield* walk.call(this, await this.readDirectory(root, false), '', false, 0);
    const orphans: DirName[] = [];
    for await (const ino of this.freeUsedInodes(named)) orphans.push({ ino, name: `OrphanFile-${ino}`, fileType: 0, allocated: false });
    yield* walk.call(this, orphans, '$OrphanFiles/', true, 0);
  }
}

/**
 * The value of the system.data extended attribute in the inode's body (after
 * i_extra_isize): header magic 0xEA020000, then entries {name length, name
 * index, value offset, value inode, value size, hash, name} ending in four
 * zero bytes, each value at its offset from the first entry. Undefined when
 * there is no such attribute or its bytes fall outside the inode.
 */
function inodeSystemData(inode: Uint8Array, start: number): Uint8Array | undefined {
  const XATTR_MAGIC = 0xea020000;
  const SYSTEM_INDEX = 7;
  if (start + 4 > inode.length || u32(inode, start) !== XATTR_MAGIC) return undefined;
  const first = start + 4;
  for (let e = first; e + 16 <= inode.length && u32(inode, e) !== 0; ) {
    const nameLen = inode[e]!;
    const nameEnd = e + 16 + nameLen;
    if (nameEnd > inode.length) return undefined;
    const valueOffset = u16(inode, e + 2);
    const valueInode = u32(inode, e + 4);
    const valueSize = u32(inode, e + 8);
    if (inode[e + 1] === SYSTEM_INDEX && nameLen === 4 && Buffer.from(inode.subarray(e + 16, nameEnd)).toString('latin1') === 'data') {
      if (valueInode !== 0 || first + valueOffset + valueSize > inode.length) return undefined;
      return inode.slice(first + valueOffset, first + valueOffset + valueSize);
    }
    e += (16 + nameLen + 3) & ~3;
  }
  return undefined;
}

/**
 * Each (inode, name) once per directory, the live one when there is one, in
 * the place of the first (as TSK's tsk_fs_dir_add). When the kernel splits a
 * full htree leaf block it moves half its entries to a new block and leaves
 * their bytes behind in the old block's slack: each moved name is then read
 * twice, live where it went and 'deleted' where it was. That stale copy is no
 * deleted file: listed, it claimed a deletion that never happened.
 */
function oncePerName(names: DirName[]): DirName[] {
  const seen = new Map<string, number>();
  const out: DirName[] = [];
  for (const n of names) {
    const key = `${n.ino}/${n.name}`;
    const at = seen.get(key);
    if (at === undefined) {
      seen.set(key, out.length);
      out.push(n);
    } else if (n.allocated && !out[at]!.allocated) out[at] = n;
  }
  return out;
}

interface MetaBgLayout {
  firstMetaBg: number;
  /** Group descriptors per block. */
  perBlock: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  sparseSuper: boolean;
  /** sparse_super2: the only two groups after 0 holding a superblock backup. */
  backupBgs: [number, number] | null;
}

/** Whether a group holds a superblock backup (and so its first block is not the meta group's descriptor block), as e2fsprogs' ext2fs_bg_has_super. */
function groupHasSuper(layout: MetaBgLayout, group: number): boolean {
  if (group === 0) return true;
  if (layout.backupBgs) return group === layout.backupBgs[0] || group === layout.backupBgs[1];
  if (group === 1 || !layout.sparseSuper) return true;
  if (group % 2 === 0) return false;
  for (const base of [3, 5, 7]) {
    let n = base;
    while (n < group) n *= base;
    if (n === group) return true;
  }
  return false;
}

/** Where a group's descriptor lies under meta_bg (e2fsprogs' ext2fs_descriptor_block_loc2 for the primary copy). */
function descriptorOffset(layout: MetaBgLayout, group: number, gdtOffset: number, descSize: number, blockSize: number): number {
  const descBlock = Math.floor(group / layout.perBlock);
  if (descBlock < layout.firstMetaBg) return gdtOffset + group * descSize;
  const first = descBlock * layout.perBlock;
  const block = layout.firstDataBlock + first * layout.blocksPerGroup + (groupHasSuper(layout, first) ? 1 : 0);
  return block * blockSize + (group % layout.perBlock) * descSize;
}

function kindOfMode(mode: number): FileSystemEntry['kind'] | null {
  switch (mode & 0xf000) {
    case 0x8000:
      return 'file';
    case 0x4000:
      return 'directory';
    case 0xa000:
      return 'symlink';
    case 0:
      return null;
    default:
      return 'other';
  }
}

function kindOfDirType(t: number): FileSystemEntry['kind'] {
  return t === 1 ? 'file' : t === 2 ? 'directory' : t === 7 ? 'symlink' : 'other';
}

function problemOf(err: unknown, prefix?: string): Problem {
  if (err instanceof ExhibitError && (err.code === 'corrupt-file' || err.code === 'limit-exceeded' || err.code === 'unsupported-format')) {
    return { code: err.code, message: prefix ? `${prefix}: ${err.message}` : err.message };
  }
  throw err;
}

function latin1Name(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(end === -1 ? bytes : bytes.subarray(0, end)).toString('utf8');
}
