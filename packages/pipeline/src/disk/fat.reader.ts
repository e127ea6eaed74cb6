import { ExhibitError, LIMITS, type ExhibitErrorCode, type RecordedTime } from '@exhibit/core';
import { dosTime } from '../archive/archive-times.js';
import { ascii, functionSource, readPieces, view } from './byte-source.js';
import { oemNameOrEscaped } from './name-bytes.js';
import type { ByteSource, FileSystemEntry, FileSystemReader, FileSystemTimes, FileSystemType } from './disk-reader.types.js';

/**
 * FAT12/16/32, written from Microsoft's FAT specification. Entries are listed
 * as The Sleuth Kit's `fls -r -p` prints them: the address of a directory
 * entry is (its sector − the first sector after the FATs) × entries per sector
 * + its slot + 3, the root being 2; deleted names start with '_'; long names
 * (VFAT) are used when their checksum matches the short entry. Deleted files
 * are read back as TSK does: from the first cluster, over the clusters no file
 * holds, for the recorded size. FAT times are the writer's local wall clock:
 * kept as local text with no offset, never shifted.
 */

const ATTR_VOLUME = 0x08;
const ATTR_DIRECTORY = 0x10;
const ATTR_LFN = 0x0f;
const DELETED = 0xe5;
const FIRST_ENTRY_ID = 3;
const ENTRY_BYTES = 32;
const FAT_BLOCK_BYTES = 64 * 1024;
/** Errors of FAT #1's cross-link scan that are the image's damage (said as a note); every other one is thrown. */
const SCAN_DAMAGE: ReadonlySet<ExhibitErrorCode> = new Set<ExhibitErrorCode>(['corrupt-file', 'limit-exceeded']);
const FAT_CACHED_BLOCKS = 64;

type Problem = NonNullable<FileSystemEntry['problem']>;

interface BootSector {
  type: 'fat12' | 'fat16' | 'fat32';
  sectorBytes: number;
  clusterBytes: number;
  reservedSectors: number;
  fatCount: number;
  fatSectors: number;
  rootEntries: number;
  totalSectors: number;
  rootCluster: number;
  /** First sector after the FATs: the FAT12/16 root directory, or cluster 2 on FAT32. */
  firstDataSector: number;
  firstClusterSector: number;
  /** Highest valid cluster number. */
  lastCluster: number;
  label?: string;
}

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** Bit `n` of a one-bit-per-cluster map (a map shorter than `n` has it clear). */
const hasBit = (bits: Uint8Array, n: number) => ((bits[n >> 3] ?? 0) & (1 << (n & 7))) !== 0;

/** Parses and checks the BPB; null when sector 0 is not a FAT boot sector. */
export function parseFatBootSector(sector: Uint8Array, volumeBytes: number): BootSector | null {
  if (sector.length < 512 || !(sector[0] === 0xeb || sector[0] === 0xe9)) return null;
  const oem = ascii(sector.subarray(3, 11));
  if (oem === 'NTFS    ' || oem === 'EXFAT   ') return null;
  const dv = view(sector);
  const sectorBytes = dv.getUint16(11, true);
  const sectorsPerCluster = sector[13]!;
  const reservedSectors = dv.getUint16(14, true);
  const fatCount = sector[16]!;
  const rootEntries = dv.getUint16(17, true);
  const totalSectors = dv.getUint16(19, true) || dv.getUint32(32, true);
  const fatSectors = dv.getUint16(22, true) || dv.getUint32(36, true);
  if (!isPowerOfTwo(sectorBytes) || sectorBytes < 512 || sectorBytes > 4096) return null;
  if (!isPowerOfTwo(sectorsPerCluster) || reservedSectors === 0 || fatCount === 0 || fatCount > 4 || fatSectors === 0 || totalSectors === 0) return null;
  const rootSectors = Math.ceil((rootEntries * ENTRY_BYTES) / sectorBytes);
  const firstDataSector = reservedSectors + fatCount * fatSectors;
  const firstClusterSector = firstDataSector + rootSectors;
  if (firstClusterSector >= totalSectors) return null;
  const clusterCount = Math.floor((totalSectors - firstClusterSector) / sectorsPerCluster);
  const type = clusterCount < 4085 ? 'fat12' : clusterCount < 65525 ? 'fat16' : 'fat32';
  if (type === 'fat32' && rootEntries !== 0) return null;
  if (type !== 'fat32' && rootEntries === 0) return null;
  // The FAT must be able to describe every cluster.
  const fatBits = type === 'fat12' ? 12 : type === 'fat16' ? 16 : 32;
  if (fatSectors * sectorBytes * 8 < (clusterCount + 2) * fatBits) return null;
  // A volume shorter than its BPB claims is read as far as it goes (a volume problem); clusters past its end lie "past the
  // end of the image". A FAT12/16 root region cut short is listed as far as it goes; a volume ending inside its FATs is
  // opened too (FATs come before the root and every cluster: nothing of its files is present, said as the volume's problem).
  if (volumeBytes < 512) return null;
  const labelAt = type === 'fat32' ? 71 : 43;
  const signatureAt = type === 'fat32' ? 66 : 38;
  const label = sector[signatureAt] === 0x29 ? ascii(sector.subarray(labelAt, labelAt + 11)).trimEnd() : undefined;
  return {
    type,
    sectorBytes,
    clusterBytes: sectorsPerCluster * sectorBytes,
    reservedSectors,
    fatCount,
    fatSectors,
    rootEntries,
    totalSectors,
    rootCluster: type === 'fat32' ? dv.getUint32(44, true) : 0,
    firstDataSector,
    firstClusterSector,
    lastCluster: clusterCount + 1,
    ...(label && label !== 'NO NAME' ? { label } : {}),
  };
}

export async function probeFat(source: ByteSource, options: { abortSignal?: AbortSignal } = {}): Promise<boolean> {
  if (source.size < 512) return false;
  return parseFatBootSector(await source.read(0, 512, options), source.size) !== null;
}

/** The volume size the BPB declares (total sectors × sector size), in bytes; undefined when not read. */
export async function declaredFatBytes(source: ByteSource, options: { abortSignal?: AbortSignal } = {}): Promise<number | undefined> {
  if (source.size < 512) return undefined;
  const dv = view(await source.read(0, 512, options));
  const bytes = (dv.getUint16(0x13, true) || dv.getUint32(0x20, true)) * dv.getUint16(0x0b, true);
  return bytes > 0 ? bytes : undefined;
}

/** The named limits the FAT reader's bounded walks use (LIMITS by default; a test may set them lower). */
export interface FatLimits {
  maxFatPastLimitClusters: number;
  maxFatCrossLinkScanBytes: number;
  fatScanPieceBytes: number;
}

export async function openFat(source: ByteSource, options: { abortSignal?: AbortSignal; limits?: Partial<FatLimits> } = {}): Promise<FatReader> {
  if (source.size < 512) throw new ExhibitError('corrupt-file', 'volume too small for a FAT boot sector');
  const boot = parseFatBootSector(await source.read(0, 512, options), source.size);
  if (!boot) throw new ExhibitError('corrupt-file', 'not a FAT boot sector');
  const reader = new FatReader(source, boot, await rootLabel(source, boot, options), options.limits);
  await reader.checkVolume(options);
  return reader;
}

/**
 * The volume label entry of the root directory (attribute 0x08), which is the
 * label Windows shows and sets: relabelling a volume in Windows rewrites this
 * entry and leaves the boot sector's copy as it was (fsstat prints both).
 * Only the root's first cluster (FAT32) or its first 16 KiB (FAT12/16) are
 * looked at, where every writer puts it; null when there is none.
 */
async function rootLabel(source: ByteSource, boot: BootSector, options: { abortSignal?: AbortSignal }): Promise<string | null> {
  const offset =
    boot.type === 'fat32'
      ? (boot.firstClusterSector + (boot.rootCluster - 2) * (boot.clusterBytes / boot.sectorBytes)) * boot.sectorBytes
      : boot.firstDataSector * boot.sectorBytes;
  const length = Math.min(boot.type === 'fat32' ? boot.clusterBytes : boot.rootEntries * ENTRY_BYTES, 16 * 1024, source.size - offset);
  if (boot.type === 'fat32' && (boot.rootCluster < 2 || boot.rootCluster > boot.lastCluster)) return null;
  if (length < ENTRY_BYTES) return null;
  const bytes = await source.read(offset, length, options);
  for (let at = 0; at + ENTRY_BYTES <= bytes.length; at += ENTRY_BYTES) {
    const first = bytes[at]!;
    if (first === 0x00) break;
    const attributes = bytes[at + 11]!;
    if (first === DELETED || (attributes & 0x3f) === ATTR_LFN || !(attributes & ATTR_VOLUME) || attributes & ATTR_DIRECTORY) continue;
    const label = oemNameOrEscaped(bytes.subarray(at, at + 11)).trimEnd();
    // 'NO NAME' is what formatters write for "no label", in either copy.
    return label && label !== 'NO NAME' ? label : null;
  }
  return null;
}

/** A directory entry as read, before it becomes a FileSystemEntry. */
interface RawEntry {
  name: string;
  /** Its slot in the directory's bytes (which cluster of the chain it was read from). */
  slot: number;
  entryId: number;
  attributes: number;
  firstCluster: number;
  size: number;
  deleted: boolean;
  times: FileSystemTimes;
}

/** A directory as listed: the clusters held, the entries they hold, the bytes read, its problem; `strayed`: the chain left it for another entry's cluster. */
interface DirectoryRead {
  clusters: number[];
  /**
   * Its clusters past those listed (a directory longer than the entry limit): held, never read. One bit per cluster
   * (no list of numbers: the rest of a chain can be every cluster of the volume), how many, and the last one walked.
   */
  unlisted?: { bits: Uint8Array; count: number; last: number };
  entries: RawEntry[];
  bytes: number;
  problem?: Problem;
  strayed: boolean;
}

interface Run {
  fileOffset: number;
  volumeOffset: number;
  length: number;
}

export class FatReader implements FileSystemReader {
  readonly type: FileSystemType;
  readonly label?: string;
  /** The volume's own findings (cut short, a broken root chain), said with the volume; the listing still runs. */
  problem?: Problem;
  /** How the volume was read with nothing failing, found while listing (the directories' cross-link check not made). */
  readonly notes: { code: string; message: string }[] = [];
  private readonly fatBlocks = new Map<number, Promise<Uint8Array>>();
  /** One bit per cluster: held by the FAT32 root or an allocated file or directory already listed (cross-link detection). */
  private owned: Uint8Array = new Uint8Array(0);
  /** One bit per cluster: held by a directory (of those in `owned`), to say so of a cross-link into it. */
  private ownedByDirectory: Uint8Array = new Uint8Array(0);
  /** One bit per cluster: held by a directory past its entry limit (of those in `ownedByDirectory`), never read. */
  private unlistedDirectory: Uint8Array = new Uint8Array(0);
  /** One bit per cluster: the first cluster of an allocated entry read so far (listed or about to be), where a directory chain reaching it strays. */
  private firstClusters: Uint8Array = new Uint8Array(0);
  /** One bit per cluster: the FAT32 root's clusters (listed, and past its entry limit), to name the root as the holder of a cross-linked cluster. */
  private rootClusters: Uint8Array = new Uint8Array(0);
  /**
   * One bit per cluster that two or more FAT entries link to (a chain running into another), read once when first
   * needed; or why the check was not made (FAT #1 unreadable, or larger than maxFatCrossLinkScanBytes), kept for the
   * rest of the listing and said once as a note.
   */
  private fatLinks?: Promise<Uint8Array | string>;
  private readonly limits: FatLimits;
  /** The FAT32 root as read when the volume is opened (its problem is the volume's), listed by entries(). */
  private fat32Root?: Promise<DirectoryRead>;

  constructor(
    private readonly source: ByteSource,
    private readonly boot: BootSector,
    rootLabel: string | null = null,
    limits: Partial<FatLimits> = {},
  ) {
    this.type = boot.type;
    this.limits = { maxFatPastLimitClusters: LIMITS.maxFatPastLimitClusters, maxFatCrossLinkScanBytes: LIMITS.maxFatCrossLinkScanBytes, fatScanPieceBytes: LIMITS.fatScanPieceBytes, ...limits };
    // The root directory's label entry is the current one; the boot sector's copy can be stale.
    const label = rootLabel ?? boot.label;
    if (label) this.label = label;
  }

  /**
   * Findings about the whole volume, known before the listing: a volume shorter than its boot
   * sector declares (files whose clusters lie past the end get their own problem), a FAT12/16
   * root region cut short by it (the entries present are listed), and a FAT32 root whose chain
   * breaks, strays into another entry's cluster or is longer than the limit (what its clusters
   * before the break or the stray, or its entries up to the limit, hold is listed).
   */
  async checkVolume(options: { abortSignal?: AbortSignal } = {}): Promise<void> {
    const found: Problem[] = [];
    const b = this.boot;
    const rootCut = b.type !== 'fat32' && this.fixedRootEnd > this.source.size;
    // A cut root region loses root entries even when the FAT marks no cluster past the end in use.
    if (this.declaredBytes > this.source.size && (rootCut || (await this.cutLosesClusters(options)))) {
      found.push({ code: 'corrupt-file', message: `${b.type}: the boot sector declares ${b.totalSectors} sectors of ${b.sectorBytes} bytes (${this.declaredBytes} bytes), past the end of the ${this.source.size}-byte volume: the volume is cut short (or its sector count is wrong), and what lies past the end is not read` });
    }
    const fatCut = this.fatCut();
    if (fatCut) found.push({ code: 'corrupt-file', message: fatCut });
    if (rootCut) {
      found.push({ code: 'corrupt-file', message: `root directory: its region (bytes ${this.fixedRootOffset} to ${this.fixedRootEnd}) lies past the end of the image: ${this.fixedRootPresentSlots} of its ${b.rootEntries} entries are present and listed` });
    }
    // A FAT12/16 root (at most 65,535 slots) is never past LIMITS.maxDirectoryEntries: only the FAT32 root's chain can be.
    if (b.type === 'fat32') {
      // Read now, not only walked: whether its chain strays into an entry's cluster is known from the entries it holds.
      this.fat32Root = this.readDirectory(b.rootCluster, options);
      const { problem, strayed } = await this.fat32Root;
      if (problem) found.push({ code: problem.code, message: `root directory: ${problem.message}${problem.code === 'corrupt-file' && !strayed ? '; what its clusters before the break hold is listed' : ''}` });
    }
    for (const p of found) this.addProblem(p);
  }

  /** One problem for the volume: a limit alone keeps its code; any damage makes it corrupt-file (the checks made on opening). */
  private addProblem(p: Problem): void {
    const had = this.problem;
    this.problem = had ? { code: had.code === 'limit-exceeded' && p.code === 'limit-exceeded' ? 'limit-exceeded' : 'corrupt-file', message: `${had.message}; also ${p.message}` } : { ...p };
  }

  /**
   * The image ends inside the reserved sectors or the FATs: which copy it ends in and how much of FAT #1 (the copy read)
   * is present. The root directory and every cluster lie after the FATs: none is present, so every entry's chain (and
   * the root's) lies past the end of the image before any lost FAT entry is needed; nothing is guessed from a copy.
   */
  private fatCut(): string | undefined {
    const b = this.boot;
    const fatStart = b.reservedSectors * b.sectorBytes;
    const fatBytes = b.fatSectors * b.sectorBytes;
    const fatEnd = fatStart + b.fatCount * fatBytes;
    const size = this.source.size;
    if (size >= fatEnd) return undefined;
    const region = `its ${b.fatCount} FAT${b.fatCount > 1 ? 's' : ''} (bytes ${fatStart} to ${fatEnd}, ${fatBytes} bytes each)`;
    if (size < fatStart) return `the image ends at byte ${size}, before ${region}: no FAT is present, nor the root directory or any cluster`;
    const copy = Math.floor((size - fatStart) / fatBytes) + 1;
    const first = copy > 1 ? 'FAT #1 is whole' : `FAT #1 holds the entries of clusters below ${this.fatEntriesPresent()} only`;
    return `the image ends at byte ${size}, inside FAT #${copy} of ${region}: ${first}; the root directory and every cluster lie past the end`;
  }

  /** How many FAT entries of FAT #1 (clusters 0 … n − 1) the image holds whole. */
  private fatEntriesPresent(): number {
    const b = this.boot;
    const present = Math.max(0, Math.min(this.source.size - b.reservedSectors * b.sectorBytes, b.fatSectors * b.sectorBytes));
    return b.type === 'fat12' ? Math.floor((present * 2) / 3) : Math.floor(present / (b.type === 'fat16' ? 2 : 4));
  }

  /** FAT12/16: where the fixed root region starts and ends (bytes), and how many of its slots the image holds. */
  private get fixedRootOffset(): number {
    return this.boot.firstDataSector * this.boot.sectorBytes;
  }

  private get fixedRootEnd(): number {
    return this.fixedRootOffset + this.boot.rootEntries * ENTRY_BYTES;
  }

  private get fixedRootPresentSlots(): number {
    return Math.max(0, Math.min(this.boot.rootEntries, Math.floor((this.source.size - this.fixedRootOffset) / ENTRY_BYTES)));
  }

  private overLimit(): string {
    return `directory longer than ${LIMITS.maxDirectoryEntries} entries: its first ${LIMITS.maxDirectoryEntries} are listed`;
  }

  /**
   * Whether the cut leaves out anything the FAT holds: a cluster past the present bytes whose FAT entry is in
   * use (or a FAT entry itself past the end). A cut removing only free clusters, or the sectors past the last
   * whole cluster, loses no file's bytes (TSK reads every file whole): it is no finding.
   */
  private async cutLosesClusters(options: { abortSignal?: AbortSignal }): Promise<boolean> {
    const b = this.boot;
    const spc = b.clusterBytes / b.sectorBytes;
    const presentSectors = Math.floor(this.source.size / b.sectorBytes);
    // The first cluster not wholly present.
    const missing = Math.max(2, Math.floor((presentSectors - b.firstClusterSector) / spc) + 2);
    if (missing > b.lastCluster) return false;
    if (b.type === 'fat12') {
      for (let c = missing; c <= b.lastCluster; c += 1) if (await this.inUseOrUnread(c)) return true;
      return false;
    }
    const width = b.type === 'fat32' ? 4 : 2;
    const fatBytes = b.fatSectors * b.sectorBytes;
    const end = (b.lastCluster + 1) * width;
    if (b.reservedSectors * b.sectorBytes + Math.min(end, fatBytes) > this.source.size) return true;
    for (let n = Math.floor((missing * width) / FAT_BLOCK_BYTES); n * FAT_BLOCK_BYTES < end; n += 1) {
      options.abortSignal?.throwIfAborted();
      const block = await this.fatBlock(n);
      const dv = view(block);
      const from = Math.max(missing * width - n * FAT_BLOCK_BYTES, 0);
      const to = Math.min(end - n * FAT_BLOCK_BYTES, block.length);
      for (let at = from; at + width <= to; at += width) {
        const value = width === 4 ? dv.getUint32(at, true) & 0x0fffffff : dv.getUint16(at, true);
        // Free (0) and bad-marked clusters hold no file's bytes.
        if (value !== 0 && value !== (width === 4 ? 0x0ffffff7 : 0xfff7)) return true;
      }
    }
    return false;
  }

  private async inUseOrUnread(cluster: number): Promise<boolean> {
    try {
      const value = await this.next(cluster);
      return value !== 0 && value !== 0x0ffffff7;
    } catch (err) {
      if (err instanceof ExhibitError && err.code === 'corrupt-file') return true;
      throw err;
    }
  }

  /** The clusters that hold a directory's first `maxDirectoryEntries` slots. */
  private get directoryMaxClusters(): number {
    return Math.ceil((LIMITS.maxDirectoryEntries * ENTRY_BYTES) / this.boot.clusterBytes);
  }

  private get entriesPerSector(): number {
    return this.boot.sectorBytes / ENTRY_BYTES;
  }

  private clusterOffset(cluster: number): number {
    return (this.boot.firstClusterSector + (cluster - 2) * (this.boot.clusterBytes / this.boot.sectorBytes)) * this.boot.sectorBytes;
  }

  /** The cluster's bytes lie inside the volume (not just inside the BPB's claim). */
  private clusterInVolume(cluster: number): boolean {
    return cluster >= 2 && cluster <= this.boot.lastCluster && this.clusterOffset(cluster) + this.boot.clusterBytes <= this.source.size;
  }

  private fatBlock(n: number): Promise<Uint8Array> {
    const cached = this.fatBlocks.get(n);
    if (cached) return cached;
    const fatBytes = this.boot.fatSectors * this.boot.sectorBytes;
    const start = this.boot.reservedSectors * this.boot.sectorBytes + n * FAT_BLOCK_BYTES;
    const length = Math.min(FAT_BLOCK_BYTES, fatBytes - n * FAT_BLOCK_BYTES, this.source.size - start);
    const pending = length > 0 ? this.source.read(start, length) : Promise.resolve(new Uint8Array(0));
    pending.catch(() => this.fatBlocks.delete(n));
    this.fatBlocks.set(n, pending);
    while (this.fatBlocks.size > FAT_CACHED_BLOCKS) this.fatBlocks.delete(this.fatBlocks.keys().next().value!);
    return pending;
  }

  private async fatByte(at: number): Promise<number> {
    const block = await this.fatBlock(Math.floor(at / FAT_BLOCK_BYTES));
    const byte = block[at % FAT_BLOCK_BYTES];
    if (byte === undefined) throw new ExhibitError('corrupt-file', `FAT entry at byte ${at} lies outside the volume`);
    return byte;
  }

  /** The FAT's value for `cluster`, normalised to 32-bit meanings (end of chain ≥ 0x0ffffff8, bad = 0x0ffffff7). */
  async next(cluster: number): Promise<number> {
    const type = this.boot.type;
    const at = type === 'fat12' ? Math.floor(cluster * 1.5) : type === 'fat16' ? cluster * 2 : cluster * 4;
    const width = type === 'fat32' ? 4 : 2;
    const within = at % FAT_BLOCK_BYTES;
    let bytes: Uint8Array;
    if (within + width <= FAT_BLOCK_BYTES) {
      // One block holds the whole entry (always, but for a FAT12 pair straddling a block edge).
      bytes = (await this.fatBlock(Math.floor(at / FAT_BLOCK_BYTES))).subarray(within, within + width);
      if (bytes.length < width) throw new ExhibitError('corrupt-file', `FAT entry of cluster ${cluster} lies outside the FAT or the volume`);
    } else {
      bytes = new Uint8Array(width);
      for (let i = 0; i < width; i += 1) bytes[i] = await this.fatByte(at + i);
    }
    if (type === 'fat12') {
      const pair = bytes[0]! | (bytes[1]! << 8);
      const value = cluster & 1 ? pair >> 4 : pair & 0xfff;
      return value >= 0xff7 ? value + 0x0ffff000 : value;
    }
    if (type === 'fat16') {
      const value = bytes[0]! | (bytes[1]! << 8);
      return value >= 0xfff7 ? value + 0x0fff0000 : value;
    }
    return ((bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0) & 0x0fffffff;
  }

  /**
   * The clusters of an allocated chain, at most `maxClusters`, each one the FAT
   * links to and whose own FAT entry says it is in use. The first bad link ends
   * it with a problem naming the link (a loop, a cluster beyond the volume or
   * past the end of a cut image, a free or bad-marked cluster); the clusters
   * before it are returned. A free or bad-marked cluster is not one: nothing
   * proves it holds this chain's bytes (TSK reads the cluster a link points at
   * even when it is free; its bytes can be another directory's, or stale).
   */
  private async chain(first: number, maxClusters: number, options?: { abortSignal?: AbortSignal }): Promise<{ clusters: number[]; problem?: Problem }> {
    const clusters: number[] = [];
    const seen = new Set<number>();
    let cluster = first;
    let from: number | undefined;
    // `what` follows "cluster A links to cluster B, which …" (or "first cluster B …").
    const broken = (what: string) => ({
      clusters,
      problem: { code: 'corrupt-file', message: from === undefined ? `first cluster ${cluster} ${what}` : `cluster ${from} links to cluster ${cluster}, which ${what}` } as Problem,
    });
    while (clusters.length < maxClusters) {
      if (cluster >= 0x0ffffff8) break;
      if (seen.has(cluster)) return { clusters, problem: { code: 'corrupt-file', message: `cluster chain loops: cluster ${from} links back to cluster ${cluster}` } };
      const link = await this.link(cluster);
      if (typeof link === 'string') return broken(link);
      const value = link;
      seen.add(cluster);
      clusters.push(cluster);
      if (clusters.length % 4096 === 0) options?.abortSignal?.throwIfAborted();
      from = cluster;
      cluster = value;
    }
    return { clusters };
  }

  /**
   * The FAT's value for `cluster`, reached by a link, when the cluster is one of a chain's (in the volume, in the
   * image, its own FAT entry in use); otherwise why not, said after "…, which ".
   */
  private async link(cluster: number): Promise<number | string> {
    if (cluster < 2) return 'is not a data cluster (they start at 2)';
    if (cluster > this.boot.lastCluster) return `lies beyond the volume (last cluster ${this.boot.lastCluster})`;
    if (!this.clusterInVolume(cluster)) return `lies past the end of the image: ${this.cutShort()}`;
    const value = await this.next(cluster);
    if (value === 0) return 'is free';
    if (value === 0x0ffffff7) return 'is marked bad';
    return value;
  }

  /** The volume is shorter than its boot sector says (a cut acquisition or partition): said for the volume and for each cluster past the end. */
  private get declaredBytes(): number {
    return this.boot.totalSectors * this.boot.sectorBytes;
  }

  private cutShort(): string {
    return `the volume is cut short (${this.source.size} of the ${this.declaredBytes} bytes its boot sector declares are present)`;
  }

  /** A file's clusters: marks them as held; the first already held by an earlier entry is a cross-link, and then none is claimed. */
  private claim(clusters: number[]): Problem | undefined {
    const shared = clusters.find((cluster) => hasBit(this.owned, cluster));
    if (shared !== undefined) return this.sharedProblem(shared, false);
    this.hold(clusters, false);
    return undefined;
  }

  /** Marks clusters as held (by a directory: `directory`), for the cross-link checks of the entries listed after. */
  private hold(clusters: number[], directory: boolean): void {
    for (const cluster of clusters) {
      this.owned[cluster >> 3]! |= 1 << (cluster & 7);
      if (directory) this.ownedByDirectory[cluster >> 3]! |= 1 << (cluster & 7);
    }
  }

  /** Holds a directory's clusters past its entry limit (not read), marked so a cross-link into one says its entries are not listed; and in `also` (the root's). */
  private holdUnlisted(unlisted: DirectoryRead['unlisted'], also?: Uint8Array): void {
    if (!unlisted) return;
    const { bits } = unlisted;
    for (let i = 0; i < bits.length; i += 1) {
      const byte = bits[i]!;
      if (byte === 0) continue;
      this.owned[i]! |= byte;
      this.ownedByDirectory[i]! |= byte;
      this.unlistedDirectory[i]! |= byte;
      if (also) also[i]! |= byte;
    }
  }

  /** Marks the first clusters of the allocated entries read (a directory's, before any is listed), where a directory chain reaching one strays. */
  private recordFirstClusters(entries: RawEntry[]): void {
    for (const e of entries) {
      if (!e.deleted && e.firstCluster >= 2 && e.firstCluster <= this.boot.lastCluster) this.firstClusters[e.firstCluster >> 3]! |= 1 << (e.firstCluster & 7);
    }
  }

  /**
   * A cross-link into `shared`, held by an entry listed earlier. A directory keeps the clusters before it: the shared
   * cluster's entries are listed once, with the entry that reached it first, never again as this directory's too. When
   * that entry is a directory too (the root included), the FAT cannot say which of the two the cluster's entries belong
   * to (the earlier one may be the one whose chain strays): the problem says so, the listing already given stands.
   */
  private sharedProblem(shared: number, directory: boolean): Problem {
    // Past a directory's entry limit its clusters are held but not read: nobody lists that cluster's entries.
    const caveat = hasBit(this.unlistedDirectory, shared)
      ? `, past its first ${LIMITS.maxDirectoryEntries} entries (not read)`
      : directory
        ? ', which lists the entries it holds (whose they are the FAT cannot say)'
        : '';
    const holder = hasBit(this.rootClusters, shared) ? `the root directory${caveat}` : hasBit(this.ownedByDirectory, shared) ? `a directory listed earlier${caveat}` : 'an entry listed earlier';
    return { code: 'corrupt-file', message: `cross-linked: cluster ${shared} also belongs to ${holder}` };
  }

  /**
   * An allocated directory: its chain (directoryClusters) and the entries its clusters hold, up to the first cluster
   * that is not its own. A chain that reaches, past its first cluster, the first cluster of an allocated entry read
   * earlier (in any directory, this one's earlier clusters included), or a cluster whose first slot is a '.' entry
   * naming that cluster (a directory's start), has strayed there: the cluster is the other entry's, and its entries are
   * not listed as this directory's (TSK lists them under both). The check is made before any entry of that cluster is
   * listed. A cluster an entry listed earlier holds ends it the same way (cross-link). Nothing is held or recorded here:
   * the caller does, for what it lists.
   */
  private async readDirectory(first: number, options: { abortSignal?: AbortSignal }): Promise<DirectoryRead> {
    const found = await this.directoryClusters(first, options);
    const dir = await this.readClusters(found.clusters, found.slots, options);
    const perCluster = this.boot.clusterBytes / ENTRY_BYTES;
    const all = dir.entries(false);
    const own = new Set<number>();
    let next = 0;
    for (let k = 0; k < found.clusters.length; k += 1) {
      const cluster = found.clusters[k]!;
      const stray =
        k === 0
          ? undefined
          : hasBit(this.firstClusters, cluster) || own.has(cluster)
            ? 'the first cluster of an entry listed'
            : this.namesItself(dir.raw, k * perCluster, cluster)
              ? 'the start of a directory (its "." entry names it)'
              : undefined;
      const problem: Problem | undefined = stray
        ? { code: 'corrupt-file', message: `cluster ${found.clusters[k - 1]} links to cluster ${cluster}, which is ${stray}: the chain strays there, and what its clusters before it hold is listed` }
        : hasBit(this.owned, cluster)
          ? this.sharedProblem(cluster, true)
          : undefined;
      if (problem) {
        return { clusters: found.clusters.slice(0, k), entries: all.filter((e) => e.slot < k * perCluster), bytes: Math.min(dir.bytes, k * this.boot.clusterBytes), problem, strayed: stray !== undefined };
      }
      for (; next < all.length && all[next]!.slot < (k + 1) * perCluster; next += 1) {
        const e = all[next]!;
        if (!e.deleted && e.firstCluster >= 2) own.add(e.firstCluster);
      }
    }
    if (found.pastLimit) {
      // Past the limit the clusters are not read, but they are the directory's as far as the FAT proves it: held too,
      // so an entry listed later that shares one is a cross-link (and a later directory's chain stops there).
      const past = await this.pastLimitClusters(found.clusters, own, options);
      // Past the walk's own limit the chain is not damage: the problem keeps its code (a limit, unless a break was seen).
      const code = past.problem && !past.capped ? 'corrupt-file' : found.problem!.code;
      const problem: Problem = past.problem ? { code, message: `${found.problem!.message}; also past them: ${past.problem}` } : found.problem!;
      return { clusters: found.clusters, ...(past.unlisted.count ? { unlisted: past.unlisted } : {}), entries: all, bytes: dir.bytes, problem, strayed: false };
    }
    return { clusters: found.clusters, entries: all, bytes: dir.bytes, ...(found.problem ? { problem: found.problem } : {}), strayed: false };
  }

  /**
   * The clusters of a directory's chain past those holding its first `maxDirectoryEntries` slots (`listed`), to hold:
   * each one the FAT links to, in use, not the first cluster of an entry read (the directory's own listed ones
   * included, `ownFirsts`: the chain strays there) and not held by an entry listed earlier (a cross-link). The first
   * that is not ends the walk, with why. Bounded by maxFatPastLimitClusters (past it the rest is not held, said), a loop
   * caught with one bit per cluster, the abort signal checked as the walk goes.
   */
  private async pastLimitClusters(
    listed: number[],
    ownFirsts: Set<number>,
    options: { abortSignal?: AbortSignal },
  ): Promise<{ unlisted: NonNullable<DirectoryRead['unlisted']>; problem?: string; capped?: boolean }> {
    // One bit per cluster walked (the listed ones too, to catch a loop back into them); they are cleared at the end,
    // leaving the held ones. Never a list of numbers: the rest of a chain can be every cluster of the volume.
    const bits = new Uint8Array(Math.ceil((this.boot.lastCluster + 1) / 8));
    const mark = (c: number) => (bits[c >> 3]! |= 1 << (c & 7));
    listed.forEach(mark);
    const cap = this.limits.maxFatPastLimitClusters;
    let count = 0;
    let from = listed[listed.length - 1]!;
    let cluster = await this.next(from);
    const done = (problem?: string, capped?: boolean) => {
      for (const c of listed) bits[c >> 3]! &= ~(1 << (c & 7));
      return { unlisted: { bits, count, last: from }, ...(problem ? { problem } : {}), ...(capped ? { capped } : {}) };
    };
    while (cluster < 0x0ffffff8) {
      if (count % 4096 === 0) options.abortSignal?.throwIfAborted();
      if (count >= cap) {
        return done(`the chain goes on past the ${cap} clusters held beyond those listed (LIMITS.maxFatPastLimitClusters): the rest (from cluster ${cluster}) are not held, so a file or directory cross-linked into them is not detected`, true);
      }
      const links = `cluster ${from} links to cluster ${cluster}`;
      if (cluster >= 2 && cluster <= this.boot.lastCluster && hasBit(bits, cluster)) return done(`cluster chain loops: cluster ${from} links back to cluster ${cluster}`);
      const link = await this.link(cluster);
      if (typeof link === 'string') return done(`${links}, which ${link}`);
      if (hasBit(this.firstClusters, cluster) || ownFirsts.has(cluster)) return done(`${links}, which is the first cluster of an entry listed: the chain strays there`);
      if (hasBit(this.owned, cluster)) return done(this.sharedProblem(cluster, true).message);
      mark(cluster);
      count += 1;
      from = cluster;
      cluster = link;
    }
    return done();
  }

  /**
   * The first of a directory's clusters (past its first) that two FAT entries link to: its own previous cluster and
   * another chain's, which runs into it (two directories cross-linked, or a directory and a file or lost chain). The
   * directory listed first lists that cluster's entries (whose they are the FAT cannot say) and is told so here,
   * before it is given; the one listed later is told when its chain reaches the cluster. A cluster the directory's own
   * chain loops back to (its problem already) is not one. Its first cluster is not looked at: a chain running into an
   * entry's first cluster strays there (the entry's claim), the one whose chain strays is told.
   */
  private async mergedCluster(clusters: number[], unlisted: DirectoryRead['unlisted'], options: { abortSignal?: AbortSignal }): Promise<string | undefined> {
    if (clusters.length < 2) return undefined;
    if (!this.fatLinks) {
      // A fault that is not the image's (retryable, abort, timeout, a blob gone or changed: thrown) is not kept: the unpack
      // ends, and its next attempt reads the FAT again. Damage (an unreadable FAT block) or the size limit is kept: "not
      // checked", said once as a note, never a flag.
      // Not made, it is a note: every entry is listed as without the check, and a directory listed later that runs into
      // a directory's cluster is still flagged; only the first-listed one goes unflagged.
      const pending = this.readFatLinks(options).then((twice) => {
        if (typeof twice === 'string') this.notes.push({ code: 'cross-link-check-not-made', message: twice });
        return twice;
      });
      pending.catch(() => {
        if (this.fatLinks === pending) this.fatLinks = undefined;
      });
      this.fatLinks = pending;
    }
    const twice = await this.fatLinks;
    if (typeof twice === 'string') return undefined;
    const k = clusters.findIndex((c, i) => i > 0 && hasBit(twice, c));
    if (k < 0) return undefined;
    const shared = clusters[k]!;
    // Its own chain's last cluster walked (listed, or held past the entry limit) linking back to it is a loop, not another chain.
    const last = unlisted ? unlisted.last : clusters[clusters.length - 1]!;
    if ((await this.next(last)) === shared) return undefined;
    return `cross-linked: cluster ${clusters[k - 1]} links to cluster ${shared}, which another FAT entry links to as well (another chain runs into it): whose it is the FAT cannot say, and its entries are listed here`;
  }

  /**
   * One read of FAT #1 (as far as the image holds it), outside the FAT block cache (left warm for the walks), in pieces
   * of at most fatScanPieceBytes (a small buffer per parser thread, outside the V8 heap): one bit per cluster that two or more entries in use link to (a second map, of clusters linked to
   * once, is dropped when the read ends). Read only when a directory of more than one cluster is listed. A FAT larger
   * than maxFatCrossLinkScanBytes is not read, nor one a block of which cannot be read (damage): why not is returned.
   */
  private async readFatLinks(options: { abortSignal?: AbortSignal }): Promise<Uint8Array | string> {
    const b = this.boot;
    const notMade = 'the check for a directory whose clusters another chain runs into (said on the directory listed first) was not made';
    const width = b.type === 'fat32' ? 4 : b.type === 'fat16' ? 2 : 1.5;
    const fatStart = b.reservedSectors * b.sectorBytes;
    // FAT #1's entries of clusters 0 … lastCluster, as far as the image holds them (a FAT cut short: the volume's problem).
    const end = Math.min(Math.ceil((b.lastCluster + 1) * width), b.fatSectors * b.sectorBytes, Math.max(0, this.source.size - fatStart));
    // Checked before the bitmaps are allocated: their size follows the boot sector's cluster count, as the FAT's does.
    if (end > this.limits.maxFatCrossLinkScanBytes) {
      return `FAT #1 is ${end} bytes, more than the ${this.limits.maxFatCrossLinkScanBytes} read to find clusters two FAT entries link to (LIMITS.maxFatCrossLinkScanBytes): ${notMade}`;
    }
    const once = new Uint8Array(Math.ceil((b.lastCluster + 1) / 8));
    const twice = new Uint8Array(once.length);
    const add = (v: number) => {
      if (v < 2 || v > b.lastCluster) return;
      if (hasBit(once, v)) twice[v >> 3]! |= 1 << (v & 7);
      else once[v >> 3]! |= 1 << (v & 7);
    };
    try {
      if (b.type === 'fat12') {
        // At most 4,084 clusters (~6 KiB): entry by entry.
        for (let c = 2; c <= b.lastCluster && Math.floor(c * 1.5) + 2 <= end; c += 1) add(await this.next(c));
      } else {
        // Whole entries per piece (width 2 or 4), at least one entry whatever a test sets.
        const piece = Math.max(width, this.limits.fatScanPieceBytes - (this.limits.fatScanPieceBytes % width));
        for (let at = 0; at < end; at += piece) {
          options.abortSignal?.throwIfAborted();
          const bytes = await this.source.read(fatStart + at, Math.min(piece, end - at), options);
          const dv = view(bytes);
          for (let i = at === 0 ? 2 * width : 0; i + width <= bytes.length; i += width) add(width === 4 ? dv.getUint32(i, true) & 0x0fffffff : dv.getUint16(i, true));
        }
      }
    } catch (err) {
      // Damage only (a lost EWF chunk or a cut segment under the FAT: corrupt-file, whatever its reason; a limit of the
      // container): the check is not made. Anything else (a retryable fault, an abort, a timeout, a precondition or
      // argument failure, a blob not found) ends the unpack: it is not the evidence's, and a note would make it permanent.
      if (!(err instanceof ExhibitError) || !SCAN_DAMAGE.has(err.code)) throw err;
      return `FAT #1 could not be read whole to find clusters two FAT entries link to (${err.message}): ${notMade}`;
    }
    return twice;
  }

  /** The slot at `slot` of `bytes` is a '.' entry (a directory's first) whose first cluster is `cluster`. */
  private namesItself(bytes: Uint8Array, slot: number, cluster: number): boolean {
    const e = bytes.subarray(slot * ENTRY_BYTES, (slot + 1) * ENTRY_BYTES);
    if (e.length < ENTRY_BYTES || e[0] !== 0x2e || !(e[11]! & ATTR_DIRECTORY) || (e[11]! & 0x3f) === ATTR_LFN) return false;
    for (let i = 1; i < 11; i += 1) if (e[i] !== 0x20) return false;
    const dv = view(e);
    const high = this.boot.type === 'fat32' ? dv.getUint16(20, true) : 0;
    return ((high << 16) | dv.getUint16(26, true)) === cluster;
  }

  private runsOf(clusters: number[], size: number): Run[] {
    const runs: Run[] = [];
    const cb = this.boot.clusterBytes;
    clusters.forEach((cluster, i) => {
      const length = Math.min(cb, size - i * cb);
      if (length <= 0) return;
      const last = runs[runs.length - 1];
      const volumeOffset = this.clusterOffset(cluster);
      if (last && last.volumeOffset + last.length === volumeOffset && last.length % cb === 0) last.length += length;
      else runs.push({ fileOffset: i * cb, volumeOffset, length });
    });
    return runs;
  }

  private dataOf(runs: Run[], size: number): ByteSource {
    const source = this.source;
    const find = (offset: number) => {
      let lo = 0;
      let hi = runs.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (runs[mid]!.fileOffset <= offset) lo = mid;
        else hi = mid - 1;
      }
      return runs[lo]!;
    };
    return functionSource(
      size,
      async (offset, length, options) => {
        const out = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const run = find(offset + done);
          const within = offset + done - run.fileOffset;
          const count = Math.min(run.length - within, length - done);
          out.set(await source.read(run.volumeOffset + within, count, options), done);
          done += count;
        }
        return out;
      },
      (offset, length) => {
        if (length === 0 || runs.length === 0) return null;
        const run = find(offset);
        if (offset + length > run.fileOffset + run.length) return null;
        return source.spanInBase?.(run.volumeOffset + offset - run.fileOffset, length) ?? null;
      },
    );
  }

  /** Deleted file: from the first cluster, the clusters no allocated file holds, until the size is covered (TSK's approach). */
  private async recoverDeleted(first: number, size: number): Promise<{ runs?: Run[]; problem?: Problem }> {
    if (size === 0) return { runs: [] };
    if (!this.clusterInVolume(first)) return { problem: { code: 'corrupt-file', message: `first cluster ${first} lies beyond the volume` } };
    if ((await this.next(first)) !== 0) return { problem: { code: 'corrupt-file', message: `first cluster ${first} has been reused by an allocated file` } };
    const needed = Math.ceil(size / this.boot.clusterBytes);
    const clusters: number[] = [];
    for (let cluster = first; clusters.length < needed; cluster += 1) {
      if (!this.clusterInVolume(cluster)) return { problem: { code: 'corrupt-file', message: `recorded size runs past the end of the volume from cluster ${first}` } };
      if ((await this.next(cluster)) === 0) clusters.push(cluster);
    }
    return { runs: this.runsOf(clusters, size) };
  }

  /** Reads a directory's entries from its bytes; `entryIdOf(i)` gives the address of slot i. */
  private parseDirectory(bytes: Uint8Array, entryIdOf: (slot: number) => number, parentDeleted: boolean): RawEntry[] {
    const out: RawEntry[] = [];
    let lfn: LongNameSet | null = null;
    const slots = Math.floor(bytes.length / ENTRY_BYTES);
    for (let slot = 0; slot < slots; slot += 1) {
      const e = bytes.subarray(slot * ENTRY_BYTES, (slot + 1) * ENTRY_BYTES);
      const first = e[0]!;
      if (first === 0x00) {
        // End of directory for allocated entries; TSK keeps scanning the rest for deleted ones.
        lfn = null;
        continue;
      }
      const attributes = e[11]!;
      if ((attributes & 0x3f) === ATTR_LFN) {
        lfn = addLongNamePart(lfn, e);
        continue;
      }
      const deleted = first === DELETED || parentDeleted;
      const name = shortName(e);
      if (name === '.' || name === '..' || (attributes & ATTR_VOLUME && !(attributes & ATTR_DIRECTORY))) {
        lfn = null;
        continue;
      }
      if (!plausibleShortEntry(e)) {
        lfn = null;
        continue;
      }
      const longName = lfn && longNameOf(lfn, e);
      const fullName = longName ?? name;
      lfn = null;
      const dv = view(e);
      const highCluster = this.boot.type === 'fat32' ? dv.getUint16(20, true) : 0;
      out.push({
        name: fullName,
        slot,
        entryId: entryIdOf(slot),
        attributes,
        firstCluster: (highCluster << 16) | dv.getUint16(26, true),
        size: dv.getUint32(28, true),
        deleted,
        times: fatTimes(e),
      });
    }
    return out;
  }

  async *entries(options: { abortSignal?: AbortSignal } = {}): AsyncIterable<FileSystemEntry> {
    const boot = this.boot;
    this.owned = new Uint8Array(Math.ceil((boot.lastCluster + 1) / 8));
    this.ownedByDirectory = new Uint8Array(this.owned.length);
    this.unlistedDirectory = new Uint8Array(this.owned.length);
    this.firstClusters = new Uint8Array(this.owned.length);
    let listed = 0;
    const bump = () => {
      listed += 1;
      if (listed > LIMITS.maxFileSystemEntries) throw new ExhibitError('limit-exceeded', `more than ${LIMITS.maxFileSystemEntries} entries in one file system`);
    };

    // The root: a fixed area on FAT12/16, a cluster chain on FAT32.
    let rootEntries: RawEntry[];
    this.rootClusters = new Uint8Array(this.owned.length);
    if (boot.type === 'fat32') {
      // A broken root chain, one past the limit or one straying into an entry's cluster is the volume's problem (said when
      // opened): what its clusters before the break, up to the limit, hold is listed. Its clusters are held like a
      // directory's, so a file or directory cross-linked into them is found. Read when opened, with nothing held yet.
      const dir = await (this.fat32Root ??= this.readDirectory(boot.rootCluster, options));
      this.hold(dir.clusters, true);
      this.holdUnlisted(dir.unlisted, this.rootClusters);
      for (const c of dir.clusters) this.rootClusters[c >> 3]! |= 1 << (c & 7);
      rootEntries = dir.entries;
    } else {
      // The region as far as the image holds it (a cut volume: the volume's problem), up to the limit.
      const slots = Math.min(this.fixedRootPresentSlots, LIMITS.maxDirectoryEntries);
      const bytes = slots > 0 ? await this.source.read(this.fixedRootOffset, slots * ENTRY_BYTES, options) : new Uint8Array(0);
      rootEntries = this.parseDirectory(bytes, (slot) => FIRST_ENTRY_ID + slot, false);
    }
    this.recordFirstClusters(rootEntries);

    const ancestors = new Set<number>(boot.type === 'fat32' ? [boot.rootCluster] : []);
    const walk = async function* (this: FatReader, list: RawEntry[], prefix: string, depth: number): AsyncGenerator<FileSystemEntry> {
      for (const raw of list) {
        options.abortSignal?.throwIfAborted();
        bump();
        const path = prefix + raw.name;
        const isDirectory = (raw.attributes & ATTR_DIRECTORY) !== 0;
        const base = {
          path,
          entryId: String(raw.entryId),
          allocated: !raw.deleted,
          times: raw.times,
        };
        if (!isDirectory) {
          yield await this.fileEntry(raw, base, options);
          continue;
        }
        // Directory: read it (allocated: its chain; deleted: its first cluster, if no file holds it now).
        let children: RawEntry[] = [];
        let problem: Problem | undefined;
        let size = 0;
        if (depth + 1 > LIMITS.maxDirectoryDepth) {
          problem = { code: 'limit-exceeded', message: `directories nested deeper than ${LIMITS.maxDirectoryDepth}` };
        } else if (ancestors.has(raw.firstCluster)) {
          problem = { code: 'corrupt-file', message: `directory loop: cluster ${raw.firstCluster} is this directory's own ancestor` };
        } else if (raw.firstCluster < 2) {
          if (!raw.deleted) problem = { code: 'corrupt-file', message: `directory with first cluster ${raw.firstCluster}` };
        } else {
          try {
            if (!raw.deleted) {
              // A broken chain, a chain past the limit, one straying into another entry's cluster or sharing a cluster
              // with an entry listed earlier is this directory's problem; what its clusters before the break (up to the
              // limit, before the stray or shared one) hold is still listed. A stray or shared cluster comes before any
              // break or limit (those clusters were never reached). Its entries' first clusters are recorded before any
              // is listed, so a sibling's chain straying into one stops there.
              const dir = await this.readDirectory(raw.firstCluster, options);
              this.hold(dir.clusters, true);
              this.holdUnlisted(dir.unlisted);
              this.recordFirstClusters(dir.entries);
              problem = dir.problem;
              size = dir.bytes;
              children = dir.entries;
              // A cluster another chain runs into too: said now, on this directory listed first (the later one is told
              // when its chain reaches the cluster held here). Its entries are kept whatever the check finds: a FAT #1
              // that cannot be read is "not checked" (a volume note), never this directory's.
              const merged = await this.mergedCluster(dir.clusters, dir.unlisted, options);
              if (merged) problem = problem ? { code: 'corrupt-file', message: `${merged}; also ${problem.message}` } : { code: 'corrupt-file', message: merged };
            } else if (this.clusterInVolume(raw.firstCluster) && (await this.next(raw.firstCluster)) === 0) {
              const dir = await this.readClusters([raw.firstCluster], LIMITS.maxDirectoryEntries, options);
              size = dir.bytes;
              children = dir.entries(true);
            }
          } catch (err) {
            // Its clusters could not be read (an EWF chunk lost with a cut segment): a problem on this directory, the walk goes on.
            if (!(err instanceof ExhibitError) || err.retryable || err.code === 'aborted' || err.code === 'timeout') throw err;
            problem = { code: 'corrupt-file', message: `directory clusters unreadable: ${err.message}` };
          }
        }
        yield { ...base, recovered: raw.deleted && children.length > 0, kind: 'directory', size, ...(problem ? { problem } : {}) };
        if (children.length === 0) continue;
        ancestors.add(raw.firstCluster);
        yield* walk.call(this, children, `${path}/`, depth + 1);
        ancestors.delete(raw.firstCluster);
      }
    };
    yield* walk.call(this, rootEntries, '', 0);
  }

  private async fileEntry(raw: RawEntry, base: Pick<FileSystemEntry, 'path' | 'entryId' | 'allocated' | 'times'>, options: { abortSignal?: AbortSignal }): Promise<FileSystemEntry> {
    const entry: FileSystemEntry = { ...base, recovered: false, kind: 'file', size: raw.size };
    if (raw.deleted) {
      const { runs, problem } = await this.recoverDeleted(raw.firstCluster, raw.size);
      if (problem) return { ...entry, problem };
      const data = this.dataOf(runs!, raw.size);
      return { ...entry, recovered: true, data: () => data };
    }
    if (raw.size === 0) {
      const data = this.dataOf([], 0);
      return { ...entry, data: () => data };
    }
    const needed = Math.ceil(raw.size / this.boot.clusterBytes);
    const { clusters, problem } = await this.chain(raw.firstCluster, needed, options);
    if (problem) return { ...entry, problem };
    if (clusters.length < needed) {
      return { ...entry, problem: { code: 'corrupt-file', message: `cluster chain holds ${clusters.length} clusters; the size needs ${needed}` } };
    }
    const crossLink = this.claim(clusters);
    if (crossLink) return { ...entry, problem: crossLink };
    const data = this.dataOf(this.runsOf(clusters, raw.size), raw.size);
    return { ...entry, data: () => data };
  }

  /**
   * A directory's clusters, at most those holding its first `maxDirectoryEntries` slots, and how many slots of them are
   * its listing. A broken chain: the clusters before the break are the directory's, as far as the FAT proves it. A
   * chain holding more slots than the limit: the first `maxDirectoryEntries` are listed, the rest not read.
   */
  private async directoryClusters(first: number, options: { abortSignal?: AbortSignal }): Promise<{ clusters: number[]; slots: number; problem?: Problem; pastLimit?: boolean }> {
    const maxClusters = this.directoryMaxClusters;
    const maxSlots = LIMITS.maxDirectoryEntries;
    const perCluster = this.boot.clusterBytes / ENTRY_BYTES;
    // One cluster more than the limit's: enough to know whether the chain holds more slots than it.
    const { clusters, problem } = await this.chain(first, maxClusters + 1, options);
    if (clusters.length * perCluster > maxSlots) {
      // A cluster size that does not divide the limit's bytes (32 KiB: 977 clusters hold 1,000,448 slots) puts the limit
      // inside the last cluster walked: a break right after it was seen, and is damage, said with the limit.
      const limit = this.overLimit();
      // `pastLimit`: the chain goes on past the clusters listed (one more was walked, no break before it).
      return {
        clusters: clusters.slice(0, maxClusters),
        slots: maxSlots,
        problem: problem ? { code: 'corrupt-file', message: `${problem.message}; also ${limit}` } : { code: 'limit-exceeded', message: limit },
        ...(clusters.length > maxClusters ? { pastLimit: true } : {}),
      };
    }
    return { clusters, slots: clusters.length * perCluster, ...(problem ? { problem } : {}) };
  }

  /** The directory held by `clusters`, its first `slots` slots. */
  private async readClusters(clusters: number[], slots: number, options: { abortSignal?: AbortSignal }) {
    const cb = this.boot.clusterBytes;
    const length = Math.min(clusters.length * cb, slots * ENTRY_BYTES);
    const bytes = await readPieces(0, length, cb, (i, within, count) => this.source.read(this.clusterOffset(clusters[i]!) + within, count, options));
    const perCluster = cb / ENTRY_BYTES;
    const entryIdOf = (slot: number) => {
      const cluster = clusters[Math.floor(slot / perCluster)]!;
      const sector = this.clusterOffset(cluster) / this.boot.sectorBytes + Math.floor((slot % perCluster) / this.entriesPerSector);
      return (sector - this.boot.firstDataSector) * this.entriesPerSector + (slot % this.entriesPerSector) + FIRST_ENTRY_ID;
    };
    return { clusters, bytes: bytes.length, raw: bytes, entries: (deleted: boolean) => this.parseDirectory(bytes, entryIdOf, deleted) };
  }
}

/**
 * The 8.3 name as TSK prints it: base and extension trimmed, lower-cased
 * where the NT flags say so, 0xE5 as '_'. Bytes above 0x7F are in the
 * writer's OEM code page, which the volume does not record: each is kept
 * escaped (name-bytes.ts), not guessed (TSK prints '^').
 */
function shortName(e: Uint8Array): string {
  const chars = Uint8Array.from(e.subarray(0, 11));
  if (chars[0] === DELETED) chars[0] = 0x5f;
  else if (chars[0] === 0x05) chars[0] = 0xe5; // a name really starting with byte 0xE5
  let base = oemNameOrEscaped(chars.subarray(0, 8)).trimEnd();
  let ext = oemNameOrEscaped(chars.subarray(8, 11)).trimEnd();
  if (e[12]! & 0x08) base = base.toLowerCase();
  if (e[12]! & 0x10) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

/**
 * The long-name entries read so far before a short entry, in disk order
 * (the name's end first). `deleted`: their first byte is 0xE5, so their
 * ordinals (and the 0x40 "last part" flag) are lost.
 */
interface LongNameSet {
  parts: string[];
  checksum: number;
  deleted: boolean;
  /** Allocated sets: the set began with the 0x40 part and each ordinal was one less than the one before. */
  ordinalsInOrder: boolean;
  /** The ordinal of the last part read (allocated sets; 1 when the set is whole). */
  lastOrdinal: number;
  /** The first part in disk order (the name's end) holds the 0x0000 terminator. */
  endTerminated: boolean;
}

function addLongNamePart(set: LongNameSet | null, e: Uint8Array): LongNameSet {
  const deleted = e[0] === DELETED;
  const ordinal = e[0]! & 0x1f;
  const checksum = e[13]!;
  const { text, terminated } = lfnText(e);
  const continues = set !== null && set.checksum === checksum && set.deleted === deleted && (deleted || (!(e[0]! & 0x40) && ordinal === set.lastOrdinal - 1));
  if (!continues) {
    return { parts: [text], checksum, deleted, ordinalsInOrder: !deleted && (e[0]! & 0x40) !== 0 && ordinal > 0, lastOrdinal: ordinal, endTerminated: terminated };
  }
  set.parts.push(text);
  set.lastOrdinal = ordinal;
  return set;
}

/**
 * The long name a short entry carries, or null when the parts before it are
 * not provably its whole name. The checksum ties the parts to the short
 * name, not to each other: when a later entry reuses the first slot of a
 * deleted set (a camera writing IMG_0005.JPG where "Holiday photograph.jpg"
 * was), the parts left are the name's beginning and read as a shorter,
 * wrong name. An allocated set must run from the 0x40 part down to ordinal
 * 1; a deleted set (ordinals lost) is taken only when its first part in disk
 * order holds the name's terminator. A deleted name whose length is a
 * multiple of 13 has none, and keeps its short name: right, if less telling.
 * Nothing in the slots proves such a name whole, not even ending in its short
 * name's extension: 'Quarterly report 2019a.pdf.pdf' whose first slot was
 * reused leaves 'Quarterly report 2019a.pdf', a name the file never had.
 */
function longNameOf(set: LongNameSet, e: Uint8Array): string | null {
  if (set.deleted !== (e[0] === DELETED)) return null;
  if (!lfnMatches(e, set.checksum)) return null;
  if (set.deleted ? !set.endTerminated : !(set.ordinalsInOrder && set.lastOrdinal === 1)) return null;
  return [...set.parts].reverse().join('');
}

function lfnText(e: Uint8Array): { text: string; terminated: boolean } {
  const units: number[] = [];
  for (const [from, to] of [[1, 11], [14, 26], [28, 32]] as const) {
    for (let i = from; i < to; i += 2) units.push(e[i]! | (e[i + 1]! << 8));
  }
  const end = units.indexOf(0);
  return { text: String.fromCharCode(...(end === -1 ? units : units.slice(0, end)).filter((u) => u !== 0xffff)), terminated: end !== -1 };
}

function sfnChecksum(name: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i += 1) sum = (((sum & 1) << 7) + (sum >> 1) + name[i]!) & 0xff;
  return sum;
}

/** A long name belongs to the short entry when their checksums agree (a deleted entry lost its first byte: any will do). */
function lfnMatches(e: Uint8Array, checksum: number): boolean {
  if (e[0] !== DELETED) return sfnChecksum(e) === checksum;
  const copy = Uint8Array.from(e.subarray(0, 11));
  for (let b = 0x20; b < 0x100; b += 1) {
    copy[0] = b;
    if (sfnChecksum(copy) === checksum) return true;
  }
  return false;
}

/** Rejects slack that is not a directory entry (TSK applies similar checks before listing deleted entries). */
function plausibleShortEntry(e: Uint8Array): boolean {
  if (e[11]! & 0xc0) return false;
  for (let i = 0; i < 11; i += 1) {
    const c = e[i]!;
    if (i === 0 && (c === DELETED || c === 0x05)) continue;
    if (c < 0x20 || c === 0x22 || c === 0x2a || c === 0x2b || c === 0x2c || c === 0x2f || c === 0x3a || c === 0x3b || c === 0x3c || c === 0x3d || c === 0x3e || c === 0x3f || c === 0x5c || c === 0x7c) return false;
  }
  return e[0] !== 0x20;
}

function fatTimes(e: Uint8Array): FileSystemTimes {
  const dv = view(e);
  const times: FileSystemTimes = {};
  const modified = dosTime(dv.getUint16(24, true), dv.getUint16(22, true), 'fat:written');
  if (modified) times.modified = modified;
  const accessDate = dv.getUint16(18, true);
  const accessed = accessDate ? dosTime(accessDate, 0, 'fat:accessed') : undefined;
  if (accessed) times.accessed = accessed;
  const created = dosTime(dv.getUint16(16, true), dv.getUint16(14, true), 'fat:created');
  if (created) times.created = withHundredths(created, e[13]!);
  return times;
}

/** The creation time's 10-ms count (0–199) adds up to two seconds to the 2-second DOS time. */
function withHundredths(time: RecordedTime, tens: number): RecordedTime {
  if (tens === 0 || tens > 199) return time;
  const extraSeconds = Math.floor(tens / 100);
  const hundredths = tens % 100;
  const [date, clock] = time.local.split('T') as [string, string];
  const [h, m, s] = clock.split(':').map(Number) as [number, number, number];
  const seconds = s + extraSeconds;
  const pad = (n: number) => String(n).padStart(2, '0');
  return { ...time, local: `${date}T${pad(h)}:${pad(m)}:${pad(seconds)}.${pad(hundredths)}0` };
}

