import { ExhibitError, LIMITS, type RecordedTime, escapeLoneSurrogates } from '@exhibit/core';
import { ascii, functionSource, readPieces, u64, view } from './byte-source.js';
import type { ByteSource, FileSystemEntry, FileSystemReader, FileSystemTimes } from './disk-reader.types.js';

/**
 * exFAT, from Microsoft's published exFAT specification. A file is an entry
 * set (file 0x85, stream extension 0xC0, names 0xC1); its data is contiguous
 * when the stream's NoFatChain flag is set, otherwise a chain in the FAT.
 * Allocation is the cluster bitmap, not the FAT. Entry ids follow The Sleuth
 * Kit: (sector − cluster heap start) × entries per sector + slot + 3, the
 * address of the file (0x85) entry. Deleted entry sets (in-use bit clear)
 * are listed and read back from their first cluster over free clusters.
 * Times are the wall clock with, when the writer recorded one, its UTC offset.
 */

const ENTRY_BYTES = 32;
const FIRST_ENTRY_ID = 3;
const IN_USE = 0x80;

type Problem = NonNullable<FileSystemEntry['problem']>;

interface ExfatBoot {
  sectorBytes: number;
  clusterBytes: number;
  fatOffset: number;
  heapSector: number;
  clusterCount: number;
  rootCluster: number;
  /** VolumeLength: the volume's size in sectors, as the boot sector declares it. */
  volumeSectors: number;
}

export function parseExfatBootSector(sector: Uint8Array, volumeBytes: number): ExfatBoot | null {
  if (sector.length < 512 || ascii(sector.subarray(3, 11)) !== 'EXFAT   ') return null;
  const dv = view(sector);
  const sectorShift = sector[108]!;
  const clusterShift = sector[109]!;
  if (sectorShift < 9 || sectorShift > 12 || clusterShift > 25 - sectorShift) return null;
  const sectorBytes = 2 ** sectorShift;
  const boot: ExfatBoot = {
    sectorBytes,
    clusterBytes: sectorBytes * 2 ** clusterShift,
    fatOffset: dv.getUint32(80, true) * sectorBytes,
    heapSector: dv.getUint32(88, true),
    clusterCount: dv.getUint32(92, true),
    rootCluster: dv.getUint32(96, true),
    volumeSectors: Number(dv.getBigUint64(72, true)),
  };
  if (boot.fatOffset === 0 || boot.heapSector === 0 || boot.clusterCount === 0 || boot.rootCluster < 2 || boot.rootCluster > boot.clusterCount + 1) return null;
  if (boot.heapSector * sectorBytes > volumeBytes) return null;
  return boot;
}

export async function probeExfat(source: ByteSource, options: { abortSignal?: AbortSignal } = {}): Promise<boolean> {
  return source.size >= 512 && parseExfatBootSector(await source.read(0, 512, options), source.size) !== null;
}

/** The volume size the boot sector declares (VolumeLength × bytes per sector), in bytes; undefined when not read. */
export async function declaredExfatBytes(source: ByteSource, options: { abortSignal?: AbortSignal } = {}): Promise<number | undefined> {
  if (source.size < 512) return undefined;
  const sector = await source.read(0, 512, options);
  const bytes = Number(view(sector).getBigUint64(0x48, true)) * 2 ** Math.min(sector[0x6c]!, 12);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

export async function openExfat(source: ByteSource, options: { abortSignal?: AbortSignal } = {}): Promise<ExfatReader> {
  if (source.size < 512) throw new ExhibitError('corrupt-file', 'volume too small for an exFAT boot sector');
  const boot = parseExfatBootSector(await source.read(0, 512, options), source.size);
  if (!boot) throw new ExhibitError('corrupt-file', 'not an exFAT boot sector');
  const reader = new ExfatReader(source, boot);
  await reader.init(options);
  return reader;
}

interface RawSet {
  name: string;
  entryId: number;
  attributes: number;
  firstCluster: number;
  size: number;
  /**
   * The stream's ValidDataLength, at most the size: how far the writer has written. The
   * specification has reads past it return zeros (a file extended without writing, as a
   * preallocating recorder or downloader leaves it, holds whatever those clusters held before).
   */
  validLength: number;
  contiguous: boolean;
  deleted: boolean;
  times: FileSystemTimes;
}

interface Run {
  fileOffset: number;
  volumeOffset: number;
  length: number;
}

export class ExfatReader implements FileSystemReader {
  readonly type = 'exfat' as const;
  label?: string;
  /** The volume's own findings (cut short, a broken root chain), said with the volume; the listing still runs. */
  problem?: Problem;
  private bitmap: Uint8Array = new Uint8Array(0);
  private owned: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly source: ByteSource,
    private readonly boot: ExfatBoot,
  ) {}

  private get lastCluster() {
    return this.boot.clusterCount + 1;
  }

  private clusterOffset(cluster: number) {
    return this.boot.heapSector * this.boot.sectorBytes + (cluster - 2) * this.boot.clusterBytes;
  }

  private clusterInVolume(cluster: number) {
    return cluster >= 2 && cluster <= this.lastCluster && this.clusterOffset(cluster) + this.boot.clusterBytes <= this.source.size;
  }

  private allocated(cluster: number) {
    return (this.bitmap[(cluster - 2) >> 3]! & (1 << ((cluster - 2) & 7))) !== 0;
  }

  private async next(cluster: number): Promise<number> {
    const at = this.boot.fatOffset + cluster * 4;
    if (at + 4 > this.source.size) throw new ExhibitError('corrupt-file', `FAT entry of cluster ${cluster} lies outside the volume`);
    return view(await this.source.read(at, 4)).getUint32(0, true);
  }

  /** Reads the root's bitmap and label entries; the bitmap says which clusters are allocated. */
  async init(options: { abortSignal?: AbortSignal }): Promise<void> {
    const found: string[] = [];
    const declaredBytes = this.boot.volumeSectors * this.boot.sectorBytes;
    const cut = declaredBytes > this.source.size;
    // The bitmap entry is read from the root's clusters before a break in its chain (the bitmap is not known yet);
    // the first one counts, and it must lie in the clusters the verified chain holds (below), or a stray link to a
    // free cluster holding a stale 0x81 entry would swap the bitmap.
    const root = await this.directoryBytes(this.boot.rootCluster, false, 0, options);
    if (root.problem && (root.problem.code === 'limit-exceeded' || root.clusters.length === 0)) throw new ExhibitError(root.problem.code, `exFAT root directory: ${root.problem.message}`);
    let bitmapAt = -1;
    for (let at = 0; at + ENTRY_BYTES <= root.bytes.length; at += ENTRY_BYTES) {
      const e = root.bytes.subarray(at, at + ENTRY_BYTES);
      if (e[0] === 0x81 && (e[1]! & 1) === 0) {
        const dv = view(e);
        const first = dv.getUint32(20, true);
        const length = u64(dv, 24);
        if (length < Math.ceil(this.boot.clusterCount / 8) || length > LIMITS.maxDiskReadBytes || !this.clusterInVolume(first)) {
          throw new ExhibitError('corrupt-file', `exFAT allocation bitmap of ${length} bytes at cluster ${first}`);
        }
        this.bitmap = await this.source.read(this.clusterOffset(first), length, options).catch(() => {
          throw new ExhibitError('corrupt-file', 'exFAT allocation bitmap lies outside the volume');
        });
        bitmapAt = at;
        break;
      }
    }
    if (this.bitmap.length === 0) throw new ExhibitError('corrupt-file', `exFAT root directory has no allocation bitmap${root.problem ? ` (${root.problem.message})` : ''}`);
    // A cut that leaves out only clusters the bitmap marks free (or the sectors past the heap) loses no file's bytes: no finding.
    if (cut && this.cutLosesClusters()) {
      found.push(`exfat: the boot sector declares ${this.boot.volumeSectors} sectors of ${this.boot.sectorBytes} bytes (${declaredBytes} bytes), past the end of the ${this.source.size}-byte volume: the volume is cut short (or its length is wrong), and what lies past the end is not read`);
    }
    // Read again with the bitmap known, as the listing reads it: a link to a free cluster ends the root there.
    const listed = await this.directoryBytes(this.boot.rootCluster, false, 0, options);
    if (bitmapAt + ENTRY_BYTES > listed.bytes.length) {
      throw new ExhibitError('corrupt-file', `exFAT allocation bitmap entry lies in a root cluster the root's chain does not hold (${listed.problem?.message ?? 'after its end'})`);
    }
    // The label is the first 0x83 entry of the verified root (UTF-16 from evidence: a lone surrogate is escaped visibly, \u{d800}).
    for (let at = 0; at + ENTRY_BYTES <= listed.bytes.length; at += ENTRY_BYTES) {
      const e = listed.bytes.subarray(at, at + ENTRY_BYTES);
      if (e[0] === 0x83) {
        this.label = escapeLoneSurrogates(Buffer.from(e.subarray(2, 2 + Math.min(e[1]!, 11) * 2)).toString('utf16le'));
        break;
      }
    }
    if (listed.problem) found.push(`root directory: ${listed.problem.message}; what its clusters before the break hold is listed`);
    if (found.length) this.problem = { code: 'corrupt-file', message: found.join('; also ') };
  }

  /** A cluster not wholly present is allocated in the bitmap. */
  private cutLosesClusters(): boolean {
    const heap = this.boot.heapSector * this.boot.sectorBytes;
    const missing = Math.max(2, Math.floor((this.source.size - heap) / this.boot.clusterBytes) + 2);
    let c = missing;
    for (; c <= this.lastCluster && (c - 2) % 8 !== 0; c += 1) if (this.allocated(c)) return true;
    // Whole bytes of the bitmap at once; the last byte's bits past the last cluster are zero by the specification.
    for (; c + 7 <= this.lastCluster; c += 8) if (this.bitmap[(c - 2) >> 3] !== 0) return true;
    for (; c <= this.lastCluster; c += 1) if (this.allocated(c)) return true;
    return false;
  }

  /** Says how a cluster past the end of a cut image is missing. */
  private cutShort(): string {
    return `the volume is cut short (${this.source.size} of the ${this.boot.volumeSectors * this.boot.sectorBytes} bytes its boot sector declares are present)`;
  }

  /**
   * Why `cluster` (the chain's first, or the one `from` links to) is not one of the chain's, or null: outside the
   * cluster heap, past the end of a cut image, or (linked by the FAT, once the bitmap is read) free in the
   * allocation bitmap, so nothing proves it holds the chain's bytes.
   */
  private notInChain(cluster: number, from: number | undefined): Problem | null {
    const what = this.outsideHeap(cluster) ?? (from !== undefined && this.bitmap.length > 0 && !this.allocated(cluster) ? 'is free in the allocation bitmap' : null);
    if (what === null) return null;
    return { code: 'corrupt-file', message: from === undefined ? `first cluster ${cluster} ${what}` : `cluster ${from} links to cluster ${cluster}, which ${what}` };
  }

  private outsideHeap(cluster: number): string | null {
    if (cluster < 2) return 'is not a data cluster (they start at 2)';
    if (cluster > this.lastCluster) return `lies beyond the volume (last cluster ${this.lastCluster})`;
    if (!this.clusterInVolume(cluster)) return `lies past the end of the image: ${this.cutShort()}`;
    return null;
  }

  private async clusters(first: number, bytes: number, contiguous: boolean, options?: { abortSignal?: AbortSignal }): Promise<{ clusters: number[]; problem?: Problem }> {
    const needed = Math.ceil(bytes / this.boot.clusterBytes);
    const clusters: number[] = [];
    if (needed === 0) return { clusters };
    if (needed > this.boot.clusterCount) return { clusters, problem: { code: 'corrupt-file', message: `size of ${bytes} bytes exceeds the volume` } };
    if (contiguous) {
      for (let i = 0; i < needed; i += 1) {
        const outside = this.outsideHeap(first + i);
        if (outside) return { clusters, problem: { code: 'corrupt-file', message: `contiguous run from cluster ${first}: cluster ${first + i} ${outside}` } };
        clusters.push(first + i);
      }
      return { clusters };
    }
    const seen = new Set<number>();
    let cluster = first;
    let from: number | undefined;
    while (clusters.length < needed) {
      if (seen.has(cluster)) return { clusters, problem: { code: 'corrupt-file', message: `cluster chain loops: cluster ${from} links back to cluster ${cluster}` } };
      const out = this.notInChain(cluster, from);
      if (out) return { clusters, problem: out };
      seen.add(cluster);
      clusters.push(cluster);
      if (clusters.length % 4096 === 0) options?.abortSignal?.throwIfAborted();
      if (clusters.length === needed) break;
      from = cluster;
      cluster = await this.next(cluster);
      if (cluster >= 0xfffffff7) return { clusters, problem: { code: 'corrupt-file', message: `cluster chain ends after ${clusters.length} clusters; the size needs ${needed}` } };
    }
    return { clusters };
  }

  private claim(clusters: number[]): Problem | undefined {
    for (const c of clusters) if (this.owned[c >> 3]! & (1 << (c & 7))) return { code: 'corrupt-file', message: `cross-linked: cluster ${c} also belongs to an entry listed earlier` };
    for (const c of clusters) this.owned[c >> 3]! |= 1 << (c & 7);
    return undefined;
  }

  private runsOf(clusters: number[], size: number): Run[] {
    const runs: Run[] = [];
    const cb = this.boot.clusterBytes;
    clusters.forEach((cluster, i) => {
      const length = Math.min(cb, size - i * cb);
      if (length <= 0) return;
      const last = runs[runs.length - 1];
      const volumeOffset = this.clusterOffset(cluster);
      if (last && last.volumeOffset + last.length === volumeOffset) last.length += length;
      else runs.push({ fileOffset: i * cb, volumeOffset, length });
    });
    return runs;
  }

  /** The data over `runs`; bytes at or past `validLength` read as zeros (never the stale bytes of the clusters). */
  private dataOf(runs: Run[], size: number, validLength: number): ByteSource {
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
        const valid = Math.max(0, Math.min(length, validLength - offset));
        let done = 0;
        while (done < valid) {
          const run = find(offset + done);
          const within = offset + done - run.fileOffset;
          const count = Math.min(run.length - within, valid - done);
          out.set(await source.read(run.volumeOffset + within, count, options), done);
          done += count;
        }
        return out;
      },
      (offset, length) => {
        if (length === 0 || runs.length === 0 || offset + length > validLength) return null;
        const run = find(offset);
        if (offset + length > run.fileOffset + run.length) return null;
        return source.spanInBase?.(run.volumeOffset + offset - run.fileOffset, length) ?? null;
      },
    );
  }

  private async directoryBytes(first: number, contiguous: boolean, size: number, options: { abortSignal?: AbortSignal }) {
    const maxBytes = LIMITS.maxDirectoryEntries * ENTRY_BYTES;
    let clusters: number[];
    let problem: Problem | undefined;
    if (size === 0) {
      // The root has no recorded size: its FAT chain to the end marker.
      clusters = [];
      const seen = new Set<number>();
      let cluster = first;
      let from: number | undefined;
      while (cluster < 0xfffffff7) {
        if (seen.has(cluster)) {
          problem = { code: 'corrupt-file', message: `cluster chain loops: cluster ${from} links back to cluster ${cluster}` };
          break;
        }
        const out = this.notInChain(cluster, from);
        if (out) {
          problem = out;
          break;
        }
        if (clusters.length * this.boot.clusterBytes >= maxBytes) {
          problem = { code: 'limit-exceeded', message: `directory longer than ${LIMITS.maxDirectoryEntries} entries` };
          break;
        }
        seen.add(cluster);
        clusters.push(cluster);
        from = cluster;
        cluster = await this.next(cluster);
      }
    } else if (size > maxBytes) {
      return { clusters: [], bytes: new Uint8Array(0), problem: { code: 'limit-exceeded', message: `directory of ${size} bytes` } as Problem };
    } else {
      ({ clusters, problem } = await this.clusters(first, size, contiguous, options));
    }
    // A broken chain: the clusters before the break are the directory's, as far as the FAT and bitmap prove it.
    if (problem?.code === 'limit-exceeded') return { clusters, bytes: new Uint8Array(0), problem };
    const cb = this.boot.clusterBytes;
    const bytes = await readPieces(0, clusters.length * cb, cb, (i, within, count) => this.source.read(this.clusterOffset(clusters[i]!) + within, count, options));
    return { clusters, bytes, problem };
  }

  private entryIdOf(clusters: number[], slot: number): number {
    const perCluster = this.boot.clusterBytes / ENTRY_BYTES;
    const perSector = this.boot.sectorBytes / ENTRY_BYTES;
    const cluster = clusters[Math.floor(slot / perCluster)]!;
    const sector = this.clusterOffset(cluster) / this.boot.sectorBytes + Math.floor((slot % perCluster) / perSector);
    return (sector - this.boot.heapSector) * perSector + (slot % perSector) + FIRST_ENTRY_ID;
  }

  private parseDirectory(bytes: Uint8Array, clusters: number[], parentDeleted: boolean): RawSet[] {
    const out: RawSet[] = [];
    const slots = Math.floor(bytes.length / ENTRY_BYTES);
    for (let slot = 0; slot < slots; slot += 1) {
      const e = bytes.subarray(slot * ENTRY_BYTES, (slot + 1) * ENTRY_BYTES);
      if ((e[0]! & 0x7f) !== 0x05) continue;
      const deleted = (e[0]! & IN_USE) === 0;
      const secondaries = e[1]!;
      if (secondaries < 2 || secondaries > 18 || slot + secondaries >= slots) continue;
      const stream = bytes.subarray((slot + 1) * ENTRY_BYTES, (slot + 2) * ENTRY_BYTES);
      if ((stream[0]! & 0x7f) !== 0x40 || (stream[0]! & IN_USE) !== (e[0]! & IN_USE)) continue;
      const sv = view(stream);
      const nameLength = stream[3]!;
      let name = '';
      for (let n = 2; n <= secondaries && name.length < nameLength; n += 1) {
        const part = bytes.subarray((slot + n) * ENTRY_BYTES, (slot + n + 1) * ENTRY_BYTES);
        if ((part[0]! & 0x7f) !== 0x41) break;
        name += Buffer.from(part.subarray(2, 32)).toString('utf16le');
      }
      name = name.slice(0, nameLength);
      if (!name) continue;
      const fv = view(e);
      out.push({
        name,
        entryId: this.entryIdOf(clusters, slot),
        attributes: fv.getUint16(4, true),
        firstCluster: sv.getUint32(20, true),
        size: u64(sv, 24),
        validLength: Math.min(u64(sv, 8), u64(sv, 24)),
        contiguous: (stream[1]! & 0x02) !== 0,
        deleted: deleted || parentDeleted,
        times: exfatTimes(e),
      });
      slot += secondaries;
    }
    return out;
  }

  private async recoverDeleted(set: RawSet): Promise<{ runs?: Run[]; problem?: Problem }> {
    if (set.size === 0) return { runs: [] };
    if (!this.clusterInVolume(set.firstCluster)) return { problem: { code: 'corrupt-file', message: `first cluster ${set.firstCluster} lies beyond the volume` } };
    if (this.allocated(set.firstCluster)) return { problem: { code: 'corrupt-file', message: `first cluster ${set.firstCluster} has been reused by an allocated file` } };
    const needed = Math.ceil(set.size / this.boot.clusterBytes);
    if (needed > this.boot.clusterCount) return { problem: { code: 'corrupt-file', message: `size of ${set.size} bytes exceeds the volume` } };
    const clusters: number[] = [];
    for (let c = set.firstCluster; clusters.length < needed; c += 1) {
      if (!this.clusterInVolume(c)) return { problem: { code: 'corrupt-file', message: `recorded size runs past the end of the volume from cluster ${set.firstCluster}` } };
      if (!this.allocated(c)) clusters.push(c);
      else if (set.contiguous) {
        // NoFatChain: the file was exactly the clusters from its first on. One that is allocated
        // now was overwritten; skipping to the next free cluster (TSK's way for FAT chains) would
        // splice in bytes this file never had.
        return { problem: { code: 'corrupt-file', message: `cluster ${c} of this contiguous file is allocated to another file now: its data there was overwritten` } };
      }
    }
    return { runs: this.runsOf(clusters, set.size) };
  }

  async *entries(options: { abortSignal?: AbortSignal } = {}): AsyncIterable<FileSystemEntry> {
    this.owned = new Uint8Array(Math.ceil((this.lastCluster + 1) / 8));
    // A broken root chain is the volume's problem (said when opened): what its clusters before the break hold is listed.
    const root = await this.directoryBytes(this.boot.rootCluster, false, 0, options);
    if (root.problem?.code === 'limit-exceeded') throw new ExhibitError(root.problem.code, `exFAT root directory: ${root.problem.message}`);
    this.claim(root.clusters);
    let listed = 0;
    const ancestors = new Set<number>([this.boot.rootCluster]);
    const walk = async function* (this: ExfatReader, list: RawSet[], prefix: string, depth: number): AsyncGenerator<FileSystemEntry> {
      for (const set of list) {
        options.abortSignal?.throwIfAborted();
        listed += 1;
        if (listed > LIMITS.maxFileSystemEntries) throw new ExhibitError('limit-exceeded', `more than ${LIMITS.maxFileSystemEntries} entries in one file system`);
        const path = prefix + set.name;
        const base = { path, entryId: String(set.entryId), allocated: !set.deleted, times: set.times };
        if (!(set.attributes & 0x10)) {
          if (set.deleted) {
            const { runs, problem } = await this.recoverDeleted(set);
            if (problem) yield { ...base, recovered: false, kind: 'file', size: set.size, problem };
            else {
              const data = this.dataOf(runs!, set.size, set.validLength);
              yield { ...base, recovered: true, kind: 'file', size: set.size, data: () => data };
            }
            continue;
          }
          const { clusters, problem } = await this.clusters(set.firstCluster, set.size, set.contiguous, options);
          const failure = problem ?? this.claim(clusters);
          if (failure) yield { ...base, recovered: false, kind: 'file', size: set.size, problem: failure };
          else {
            const data = this.dataOf(this.runsOf(clusters, set.size), set.size, set.validLength);
            yield { ...base, recovered: false, kind: 'file', size: set.size, data: () => data };
          }
          continue;
        }
        let children: RawSet[] = [];
        let problem: Problem | undefined;
        if (depth + 1 > LIMITS.maxDirectoryDepth) problem = { code: 'limit-exceeded', message: `directories nested deeper than ${LIMITS.maxDirectoryDepth}` };
        else if (ancestors.has(set.firstCluster)) problem = { code: 'corrupt-file', message: `directory loop: cluster ${set.firstCluster} is this directory's own ancestor` };
        else {
          try {
            if (!set.deleted) {
              // A broken chain is this directory's problem; what its clusters before the break hold is still listed.
              const dir = await this.directoryBytes(set.firstCluster, set.contiguous, set.size, options);
              const crossLink = dir.problem?.code === 'limit-exceeded' ? undefined : this.claim(dir.clusters);
              problem = crossLink ?? dir.problem;
              if (!crossLink) children = this.parseDirectory(dir.bytes, dir.clusters, false);
            } else if (this.clusterInVolume(set.firstCluster) && !this.allocated(set.firstCluster)) {
              const dir = await this.directoryBytes(set.firstCluster, true, Math.min(set.size, this.boot.clusterBytes), options);
              if (!dir.problem) children = this.parseDirectory(dir.bytes, dir.clusters, true);
            }
          } catch (err) {
            // Its clusters could not be read (an EWF chunk lost with a cut segment): a problem on this directory, the walk goes on.
            if (!(err instanceof ExhibitError) || err.retryable || err.code === 'aborted' || err.code === 'timeout') throw err;
            problem = { code: 'corrupt-file', message: `directory clusters unreadable: ${err.message}` };
          }
        }
        yield { ...base, recovered: set.deleted && children.length > 0, kind: 'directory', size: set.size, ...(problem ? { problem } : {}) };
        if (children.length === 0) continue;
        ancestors.add(set.firstCluster);
        yield* walk.call(this, children, `${path}/`, depth + 1);
        ancestors.delete(set.firstCluster);
      }
    };
    yield* walk.call(this, this.parseDirectory(root.bytes, root.clusters, false), '', 0);
  }
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** An exFAT timestamp: DOS-style fields, a 10-ms part, and an optional UTC offset in 15-minute steps. */
export function exfatTime(stamp: number, tenMs: number, offsetByte: number, source: string): RecordedTime | undefined {
  if (stamp === 0) return undefined;
  const second = (stamp & 0x1f) * 2 + Math.floor(tenMs / 100);
  const minute = (stamp >>> 5) & 0x3f;
  const hour = (stamp >>> 11) & 0x1f;
  const day = (stamp >>> 16) & 0x1f;
  const month = (stamp >>> 21) & 0x0f;
  const year = ((stamp >>> 25) & 0x7f) + 1980;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined;
  const fraction = tenMs % 100 ? `.${pad(tenMs % 100)}0` : '';
  const local = `${year}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}${fraction}`;
  if (!(offsetByte & 0x80)) return { local, offsetMinutes: null, utc: null, source };
  const steps = offsetByte & 0x40 ? (offsetByte & 0x7f) - 0x80 : offsetByte & 0x7f;
  const offsetMinutes = steps * 15;
  const utcMs = Date.UTC(year, month - 1, day, hour, minute, second, (tenMs % 100) * 10) - offsetMinutes * 60_000;
  return { local, offsetMinutes, utc: new Date(utcMs).toISOString().replace('.000Z', 'Z'), source };
}

function exfatTimes(e: Uint8Array): FileSystemTimes {
  const dv = view(e);
  const times: FileSystemTimes = {};
  const created = exfatTime(dv.getUint32(8, true), e[20]!, e[22]!, 'exfat:created');
  const modified = exfatTime(dv.getUint32(12, true), e[21]!, e[23]!, 'exfat:modified');
  const accessed = exfatTime(dv.getUint32(16, true), 0, e[24]!, 'exfat:accessed');
  if (created) times.created = created;
  if (modified) times.modified = modified;
  if (accessed) times.accessed = accessed;
  return times;
}
