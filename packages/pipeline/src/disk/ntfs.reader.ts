import { ExhibitError, LIMITS, escapeLoneSurrogates } from '@exhibit/core';
import type { ByteSource, FileSystemEntry, FileSystemReader, FileSystemTimes } from './disk-reader.types.js';
import { bytesByteSource, runsByteSource, type DataRun } from './file-byte-source.js';
import { preciseFiletime } from './ext-time.js';
import { lznt1Decompress } from './ntfs-lznt1.js';

/**
 * NTFS read from the volume's bytes: boot sector, the MFT through its own run
 * list, update sequence arrays checked on every MFT and index record,
 * $ATTRIBUTE_LIST, $FILE_NAME (Win32/POSIX names; DOS 8.3 names are left out
 * as TSK leaves them out), $STANDARD_INFORMATION times, directories from
 * $INDEX_ROOT/$INDEX_ALLOCATION, resident and non-resident data (sparse runs
 * read as zeros, LZNT1-compressed units expanded), and alternate data
 * streams as their own entries (`path:stream`). Deleted MFT records (in-use
 * flag clear) whose $FILE_NAME still names a live directory are listed in it,
 * the way The Sleuth Kit adds them, with their data read back as far as the
 * record's runs still describe it.
 */

const ATTR_STANDARD_INFORMATION = 0x10;
const ATTR_ATTRIBUTE_LIST = 0x20;
const ATTR_FILE_NAME = 0x30;
const ATTR_DATA = 0x80;
const ATTR_INDEX_ROOT = 0x90;
const ATTR_INDEX_ALLOCATION = 0xa0;
const ATTR_BITMAP = 0xb0;
const ATTR_REPARSE_POINT = 0xc0;
const ATTR_END = 0xffffffff;
/** Reparse tags whose file's content is not (all) in its unnamed $DATA (winnt.h IO_REPARSE_TAG_*). */
const REPARSE_WOF = 0x80000017;
const REPARSE_DEDUP = 0x80000013;
/** IO_REPARSE_TAG_CLOUD and CLOUD_1..F (OneDrive and other cloud placeholders): 0x9000x01A. */
const isCloudTag = (tag: number) => (tag & 0xffff0fff) >>> 0 === 0x9000001a;
const RECORD_IN_USE = 0x1;
const RECORD_DIRECTORY = 0x2;
const FLAG_COMPRESSED = 0x1;
const FLAG_ENCRYPTED = 0x4000;
const NAMESPACE_DOS = 2;
const ROOT_RECORD = 5;
const FIXUP_STRIDE = 512;

type Problem = NonNullable<FileSystemEntry['problem']>;

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
/** A 64-bit field as a number, or null beyond 2^53. */
const u64 = (b: Uint8Array, o: number): number | null => {
  const hi = u32(b, o + 4);
  if (hi >= 0x200000) return null;
  return hi * 2 ** 32 + u32(b, o);
};
const u64n = (b: Uint8Array, o: number) => (BigInt(u32(b, o + 4)) << 32n) | BigInt(u32(b, o));
/** An MFT reference: record number (48 bits) and sequence (16 bits). */
const ref = (b: Uint8Array, o: number) => ({ record: u32(b, o) + u16(b, o + 4) * 2 ** 32, seq: u16(b, o + 6) });

function fail(code: Problem['code'], message: string): never {
  throw new ExhibitError(code, message);
}

function utf16(b: Uint8Array, offset: number, chars: number): string {
  return Buffer.from(b.subarray(offset, offset + chars * 2)).toString('utf16le');
}

export async function probe(source: ByteSource): Promise<boolean> {
  if (source.size < 512) return false;
  const b = await source.read(0, 512);
  return Buffer.from(b.subarray(3, 11)).toString('latin1') === 'NTFS    ' && u16(b, 510) === 0xaa55;
}

export async function open(source: ByteSource, options: { abortSignal?: AbortSignal } = {}): Promise<FileSystemReader> {
  const fs = await NtfsFs.mount(source, options.abortSignal);
  return {
    type: 'ntfs',
    ...(fs.label ? { label: fs.label } : {}),
    entries: (o) => fs.entries(o?.abortSignal ?? options.abortSignal),
  };
}

/** The volume size the boot sector declares (total sectors × sector size), in bytes; undefined when not read. */
export async function declaredBytes(source: ByteSource, options: { abortSignal?: AbortSignal } = {}): Promise<number | undefined> {
  if (source.size < 512) return undefined;
  const b = await source.read(0, 512, options);
  const sectors = u64(b, 0x28);
  const bytes = sectors === null ? NaN : sectors * u16(b, 0x0b);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** The registry entry for the disk-image dispatcher. */
export const ntfsFileSystem = { type: 'ntfs' as const, probe, open, declaredBytes };

interface Attr {
  type: number;
  name: string;
  id: number;
  flags: number;
  resident: boolean;
  value?: Uint8Array;
  startVcn: number;
  runlist?: Uint8Array;
  compressionUnit: number;
  realSize: number;
  initSize: number;
  /** Further pieces of the same non-resident attribute in other records (attribute list). */
  pieces?: Attr[];
}

interface MftRecord {
  number: number;
  seq: number;
  inUse: boolean;
  directory: boolean;
  baseRecord: number;
  /** The sequence number of the base record's use this extension record belongs to (0 in a base record). */
  baseSeq: number;
  attrs: Attr[];
}

interface FileName {
  parent: { record: number; seq: number };
  name: string;
  namespace: number;
}

/** A name in a directory: from its index, or a deleted record that still names it as parent. */
interface DirName {
  record: number;
  seq: number;
  name: string;
  /** The name's own allocation (an index entry is allocated; a record found by its parent reference follows its in-use flag). */
  fromIndex: boolean;
}

class NtfsFs {
  label = '';
  private mftRuns: DataRun[] = [];
  private recordCount = 0;
  private deletedChildren: Map<number, DirName[]> | null = null;
  /** Free base records with a FILE signature: candidates for TSK's $OrphanFiles, with their first name. */
  private freeRecords: Array<{ record: number; name: string | null }> = [];

  private constructor(
    private readonly source: ByteSource,
    private readonly clusterSize: number,
    private readonly totalClusters: number,
    private readonly recordSize: number,
    private readonly signal: AbortSignal | undefined,
  ) {}

  static async mount(source: ByteSource, signal?: AbortSignal): Promise<NtfsFs> {
    if (source.size < 512) fail('corrupt-file', 'ntfs: volume too small for a boot sector');
    const boot = await source.read(0, 512, { abortSignal: signal });
    if (Buffer.from(boot.subarray(3, 11)).toString('latin1') !== 'NTFS    ') fail('corrupt-file', 'ntfs: no NTFS boot sector');
    const sectorSize = u16(boot, 0x0b);
    if (sectorSize < 256 || sectorSize > 4096 || (sectorSize & (sectorSize - 1)) !== 0) fail('corrupt-file', `ntfs: sector size ${sectorSize} is impossible`);
    const spcRaw = boot[0x0d]!;
    const sectorsPerCluster = spcRaw > 0x80 ? 2 ** (256 - spcRaw) : spcRaw;
    const clusterSize = sectorSize * sectorsPerCluster;
    if (sectorsPerCluster === 0 || clusterSize > LIMITS.maxFsBlockBytes) fail('limit-exceeded', `ntfs: cluster size ${clusterSize} is beyond LIMITS.maxFsBlockBytes`);
    const totalSectors = u64(boot, 0x28);
    if (totalSectors === null) fail('corrupt-file', 'ntfs: absurd sector count');
    const totalClusters = Math.floor(totalSectors / sectorsPerCluster);
    const mftCluster = u64(boot, 0x30);
    if (mftCluster === null || mftCluster >= totalClusters) fail('corrupt-file', `ntfs: MFT cluster ${mftCluster ?? 'beyond 2^53'} lies outside the volume`);
    const recordSize = NtfsFs.recordBytes(boot[0x40]!, clusterSize, 'MFT record');
    const fs = new NtfsFs(source, clusterSize, totalClusters, recordSize, signal);
    // Record 0 describes the MFT; read it where the boot sector says, then follow its own run list.
    const first = await fs.readRaw(mftCluster * clusterSize, recordSize);
    fs.mftRuns = [{ logical: 0, length: recordSize, physical: mftCluster * clusterSize }];
    fs.recordCount = 1;
    const mft = await fs.parseRecord(first, 0);
    const data = mft.attrs.find((a) => a.type === ATTR_DATA && a.name === '');
    if (!data || data.resident) fail('corrupt-file', 'ntfs: $MFT has no non-resident $DATA');
    // Extension records of $MFT are found through the first run, which the provisional map above did not cover.
    fs.mftRuns = fs.runsOf(data, 'MFT').filter((r) => r.physical !== null);
    fs.recordCount = Math.min(Math.floor(data.realSize / recordSize), LIMITS.maxNtfsMftRecords);
    if (Math.floor(data.realSize / recordSize) > LIMITS.maxNtfsMftRecords) fail('limit-exceeded', `ntfs: more than LIMITS.maxNtfsMftRecords MFT records`);
    const full = await fs.record(0);
    const fullData = full.attrs.find((a) => a.type === ATTR_DATA && a.name === '')!;
    fs.mftRuns = fs.runsOf(fullData, 'MFT').filter((r) => r.physical !== null);
    try {
      const volume = await fs.record(3);
      const name = volume.attrs.find((a) => a.type === 0x60 && a.resident);
      // UTF-16 from evidence: a lone surrogate is escaped visibly (\u{d800}), never left for a driver to make U+FFFD.
      if (name?.value) fs.label = escapeLoneSurrogates(Buffer.from(name.value).toString('utf16le'));
    } catch {
      // A missing volume name is not a reason to refuse the volume.
    }
    return fs;
  }

  private static recordBytes(raw: number, clusterSize: number, what: string): number {
    const signed = raw > 127 ? raw - 256 : raw;
    const bytes = signed < 0 ? (-signed > 30 ? Infinity : 2 ** -signed) : signed * clusterSize;
    if (!(bytes >= 256 && bytes <= LIMITS.maxFsBlockBytes) || (bytes & (bytes - 1)) !== 0 || bytes % FIXUP_STRIDE !== 0) {
      fail('limit-exceeded', `ntfs: ${what} size ${bytes} is outside 512…LIMITS.maxFsBlockBytes or not a power of two`);
    }
    return bytes;
  }

  private readRaw(offset: number, length: number): Promise<Uint8Array> {
    if (this.signal?.aborted) throw new ExhibitError('aborted', 'ntfs: listing aborted', { cause: this.signal.reason });
    if (offset + length > this.source.size) fail('corrupt-file', `ntfs: ${length} bytes at ${offset} lie beyond the volume`);
    return this.source.read(offset, length, { abortSignal: this.signal });
  }

  /** Checks and applies the update sequence array of an MFT or index record. */
  private fixup(b: Uint8Array, signature: string, what: string): void {
    if (Buffer.from(b.subarray(0, 4)).toString('latin1') !== signature) fail('corrupt-file', `${what}: no ${signature} signature`);
    const usaOffset = u16(b, 4);
    const usaCount = u16(b, 6);
    if (usaCount !== b.length / FIXUP_STRIDE + 1 || usaOffset + usaCount * 2 > b.length || usaOffset < 0x28 - 0x10) {
      fail('corrupt-file', `${what}: update sequence array (${usaCount} at ${usaOffset}) does not fit the record`);
    }
    const usn = u16(b, usaOffset);
    for (let i = 1; i < usaCount; i++) {
      const end = i * FIXUP_STRIDE - 2;
      if (u16(b, end) !== usn) fail('corrupt-file', `${what}: bad fixup in sector ${i - 1} (torn or altered write)`);
      b[end] = b[usaOffset + i * 2]!;
      b[end + 1] = b[usaOffset + i * 2 + 1]!;
    }
  }

  async record(number: number): Promise<MftRecord> {
    if (number < 0 || number >= this.recordCount) fail('corrupt-file', `MFT record ${number} is outside the MFT (${this.recordCount} records)`);
    const offset = number * this.recordSize;
    const source = runsByteSource(this.source, this.mftRuns, this.recordCount * this.recordSize);
    const b = await source.read(offset, this.recordSize, { abortSignal: this.signal });
    const rec = await this.parseRecord(b, number);
    const list = rec.attrs.find((a) => a.type === ATTR_ATTRIBUTE_LIST);
    if (list) rec.attrs = await this.expandAttributeList(rec, list);
    return rec;
  }

  private async parseRecord(b: Uint8Array, number: number): Promise<MftRecord> {
    const what = `MFT record ${number}`;
    this.fixup(b, 'FILE', what);
    const flags = u16(b, 0x16);
    const firstAttr = u16(b, 0x14);
    const used = Math.min(u32(b, 0x18), b.length);
    const base = ref(b, 0x20);
    const attrs: Attr[] = [];
    let pos = firstAttr;
    while (pos + 8 <= used) {
      const type = u32(b, pos);
      if (type === ATTR_END) break;
      const length = u32(b, pos + 4);
      if (length < 0x18 || pos + length > used || length % 8 !== 0) fail('corrupt-file', `${what}: attribute at ${pos} has impossible length ${length}`);
      attrs.push(this.parseAttr(b.subarray(pos, pos + length), what));
      pos += length;
    }
    return { number, seq: u16(b, 0x10), inUse: (flags & RECORD_IN_USE) !== 0, directory: (flags & RECORD_DIRECTORY) !== 0, baseRecord: base.record, baseSeq: base.seq, attrs };
  }

  private parseAttr(a: Uint8Array, what: string): Attr {
    const type = u32(a, 0);
    const resident = a[8] === 0;
    const nameLength = a[9]!;
    const nameOffset = u16(a, 0x0a);
    if (nameLength > 0 && nameOffset + nameLength * 2 > a.length) fail('corrupt-file', `${what}: attribute name outside the attribute`);
    const name = nameLength > 0 ? utf16(a, nameOffset, nameLength) : '';
    const common = { type, name, id: u16(a, 0x0e), flags: u16(a, 0x0c) };
    if (resident) {
      const valueLength = u32(a, 0x10);
      const valueOffset = u16(a, 0x14);
      if (valueOffset + valueLength > a.length) fail('corrupt-file', `${what}: resident value outside the attribute`);
      return { ...common, resident, value: a.slice(valueOffset, valueOffset + valueLength), startVcn: 0, compressionUnit: 0, realSize: valueLength, initSize: valueLength };
    }
    if (a.length < 0x40) fail('corrupt-file', `${what}: non-resident attribute header cut short`);
    const runOffset = u16(a, 0x20);
    const startVcn = u64(a, 0x10);
    const realSize = u64(a, 0x30);
    const initSize = u64(a, 0x38);
    if (startVcn === null || realSize === null || initSize === null || runOffset > a.length) fail('corrupt-file', `${what}: absurd non-resident attribute header`);
    return { ...common, resident, startVcn, runlist: a.slice(runOffset), compressionUnit: u16(a, 0x22), realSize, initSize };
  }

  private async expandAttributeList(rec: MftRecord, list: Attr): Promise<Attr[]> {
    const what = `MFT record ${rec.number}`;
    let bytes: Uint8Array;
    if (list.resident) bytes = list.value!;
    else {
      if (list.realSize > LIMITS.maxNtfsAttributeListBytes) fail('limit-exceeded', `${what}: attribute list beyond LIMITS.maxNtfsAttributeListBytes`);
      bytes = await runsByteSource(this.source, this.runsOf(list, what), list.realSize).read(0, list.realSize, { abortSignal: this.signal });
    }
    const entries: Array<{ type: number; name: string; where: number; id: number }> = [];
    for (let pos = 0; pos + 0x1a <= bytes.length; ) {
      const type = u32(bytes, pos);
      const length = u16(bytes, pos + 4);
      if (length < 0x1a || pos + length > bytes.length) break;
      const nameLength = bytes[pos + 6]!;
      const nameOffset = bytes[pos + 7]!;
      const name = nameLength > 0 && nameOffset + nameLength * 2 <= length ? utf16(bytes, pos + nameOffset, nameLength) : '';
      entries.push({ type, name, where: ref(bytes, pos + 0x10).record, id: u16(bytes, pos + 0x18) });
      pos += length;
    }
    // Attribute ids are unique only within one record: an extension record numbers its attributes from 0
    // again, so two streams of one file can share an id. TSK gives each distinct (type, name) first listed
    // in an extension record a new id, one past the largest id the list (or the list itself) uses, in list
    // order. A (type, name) first listed in the base record gets no new id (-1 below): each piece keeps the id
    // its own record gives it, and pieces after the first (startVcn > 0) join the first, which is listed under
    // the base record's id. Entry ids follow
    // TSK's, so `icat record-type-id` reads the same stream Exhibit listed under that id.
    let nextId = entries.reduce((max, e) => Math.max(max, e.id), list.id);
    const extensionIds = new Map<string, number>();
    const keyOf = (type: number, name: string) => `${type}:${name}`;
    for (const e of entries) {
      const key = keyOf(e.type, e.name);
      if (extensionIds.has(key)) continue;
      extensionIds.set(key, e.where === rec.number ? -1 : ++nextId); // -1: first listed in the base record, ids kept
    }
    const out: Attr[] = [];
    const taken = new Set<Attr>();
    // Indexes over `out` (a list of 1 MiB names up to 40 000 records, each holding dozens of attributes:
    // scanning `out` for each would be quadratic in a hostile list).
    const firstNonResident = new Map<string, Attr>(); // type:name → the first non-resident piece
    const idsTaken = new Set<string>(); // type:id
    let considered = 0;
    const add = (holder: MftRecord, found: Attr, listed: boolean) => {
      if (++considered > LIMITS.maxNtfsAttributesPerFile) fail('limit-exceeded', `${what}: more than LIMITS.maxNtfsAttributesPerFile attributes in its records`);
      if (considered % 4096 === 0 && this.signal?.aborted) throw new ExhibitError('aborted', 'ntfs: listing aborted', { cause: this.signal.reason });
      taken.add(found);
      const newId = extensionIds.get(keyOf(found.type, found.name));
      const attr = holder === rec || newId === undefined || newId < 0 ? found : { ...found, id: newId };
      const nameKey = keyOf(attr.type, attr.name);
      const idKey = `${attr.type}:${attr.id}`;
      // Pieces of one non-resident attribute (same type and name) in several records join the first.
      const first = attr.resident ? undefined : firstNonResident.get(nameKey);
      if (first && attr.startVcn > 0) (first.pieces ??= []).push(attr);
      // An attribute the list does not name is left out when its id is taken: one id, one stream (as icat reads it).
      else if (listed || !idsTaken.has(idKey)) {
        out.push(attr);
        idsTaken.add(idKey);
        if (!attr.resident && !firstNonResident.has(nameKey)) firstNonResident.set(nameKey, attr);
      }
    };
    // Records already read (an extension record no longer this file's, or unreadable, is null).
    const holders = new Map<number, MftRecord | null>([[rec.number, rec]]);
    const holderOf = async (where: number): Promise<MftRecord | null> => {
      if (holders.has(where)) return holders.get(where)!;
      let holder: MftRecord | null = null;
      try {
        if (where === 0) fail('corrupt-file', `${what}: attribute list names record 0 ($MFT's own record) as an extension record`);
        if (where >= this.recordCount) fail('corrupt-file', `${what}: attribute list names record ${where} outside the MFT`);
        const raw = await runsByteSource(this.source, this.mftRuns, this.recordCount * this.recordSize).read(where * this.recordSize, this.recordSize, { abortSignal: this.signal });
        holder = await this.parseRecord(raw, where);
        if (holder.baseRecord !== rec.number) fail('corrupt-file', `${what}: extension record ${where} belongs to record ${holder.baseRecord}`);
        // A deleted file's record had its sequence number bumped when freed (or not yet): an extension record naming
        // another sequence number belonged to another use of the record number, an earlier or a later file.
        if (!rec.inUse && holder.baseSeq !== rec.seq && holder.baseSeq !== (rec.seq + 0xffff) % 0x10000) {
          fail('corrupt-file', `${what}: extension record ${where} belongs to record ${rec.number} with sequence ${holder.baseSeq}, not ${rec.seq} or the one before`);
        }
      } catch (err) {
        // A deleted file's extension records were freed with it and may have been reused or overwritten since:
        // what is left is read from the records still its own (TSK skips the others too). A live file's must be sound.
        if (rec.inUse || !(err instanceof ExhibitError) || err.code !== 'corrupt-file') throw err;
        holder = null;
      }
      holders.set(where, holder);
      return holder;
    };
    for (const { type, name, where, id } of entries) {
      const holder = await holderOf(where);
      const found = holder?.attrs.find((a) => a.type === type && a.id === id && a.name === name);
      if (!holder || !found || type === ATTR_ATTRIBUTE_LIST || taken.has(found)) continue;
      add(holder, found, true);
    }
    // Attributes of these records the list does not name (a deleted file's list can lag behind its records):
    // TSK reads every attribute of the base and of each extension record the list names, and so does Exhibit.
    for (const holder of holders.values()) {
      for (const found of holder?.attrs ?? []) if (found.type !== ATTR_ATTRIBUTE_LIST && !taken.has(found)) add(holder!, found, false);
    }
    return out;
  }

  /** A non-resident attribute's runs in bytes over the volume (all pieces); a run beyond the volume is a typed error. */
  runsOf(attr: Attr, what: string): DataRun[] {
    const runs: DataRun[] = [];
    for (const piece of [attr, ...(attr.pieces ?? [])].sort((x, y) => x.startVcn - y.startVcn)) {
      const rl = piece.runlist!;
      let pos = 0;
      let vcn = piece.startVcn;
      let lcn = 0n;
      while (pos < rl.length && rl[pos] !== 0) {
        const header = rl[pos]!;
        const lenBytes = header & 0x0f;
        const offBytes = header >> 4;
        if (lenBytes === 0 || lenBytes > 8 || offBytes > 8 || pos + 1 + lenBytes + offBytes > rl.length) fail('corrupt-file', `${what}: malformed run list`);
        let length = 0n;
        for (let i = lenBytes - 1; i >= 0; i--) length = (length << 8n) | BigInt(rl[pos + 1 + i]!);
        let physical: number | null = null;
        if (offBytes > 0) {
          let delta = 0n;
          for (let i = offBytes - 1; i >= 0; i--) delta = (delta << 8n) | BigInt(rl[pos + 1 + lenBytes + i]!);
          if (rl[pos + lenBytes + offBytes]! & 0x80) delta -= 1n << BigInt(offBytes * 8);
          lcn += delta;
          if (lcn < 0n || lcn + length > BigInt(this.totalClusters) || (lcn + length) * BigInt(this.clusterSize) > BigInt(this.source.size)) {
            fail('corrupt-file', `${what}: run of ${length} clusters at cluster ${lcn} lies beyond the volume`);
          }
          physical = Number(lcn) * this.clusterSize;
        }
        if (length > BigInt(this.totalClusters) * 16n) fail('corrupt-file', `${what}: run of ${length} clusters is absurd`);
        if (runs.length >= LIMITS.maxFsDataRuns) fail('limit-exceeded', `${what}: more than LIMITS.maxFsDataRuns runs`);
        runs.push({ logical: vcn * this.clusterSize, length: Number(length) * this.clusterSize, physical });
        vcn += Number(length);
        pos += 1 + lenBytes + offBytes;
      }
    }
    runs.sort((a, b) => a.logical - b.logical);
    for (let i = 1; i < runs.length; i++) if (runs[i]!.logical < runs[i - 1]!.logical + runs[i - 1]!.length) fail('corrupt-file', `${what}: runs overlap`);
    return runs;
  }

  /**
   * Why the unnamed $DATA is not the file's content, when a reparse point says so: its bytes would
   * read as zeros (sparse, nothing initialised) and be a wrong value. WOF compression (Windows
   * CompactOS, `compact /exe`: system files on most Windows 10/11 disks) keeps the content
   * compressed in the `WofCompressedData` stream (listed as such); Data Deduplication keeps it in
   * the volume's chunk store; a cloud placeholder (OneDrive Files On-Demand) that is not
   * downloaded keeps it in the cloud. A downloaded cloud file has its data here and is read.
   */
  private async contentElsewhere(rec: MftRecord, data: Attr, what: string): Promise<string | undefined> {
    const tag = await this.reparseTag(rec, what);
    if (tag === undefined) return undefined;
    if (tag === REPARSE_WOF) return 'WOF-compressed (Windows CompactOS): the content is compressed in the WofCompressedData stream, which is not decompressed';
    if (tag === REPARSE_DEDUP) return 'deduplicated (Windows Data Deduplication): the content is in the chunk store, which is not read';
    if (isCloudTag(tag) && !this.wholeOnDisk(data)) return 'a cloud placeholder (e.g. OneDrive Files On-Demand) whose content is not downloaded to this disk';
    return undefined;
  }

  /**
   * The reparse point's tag (the first 4 bytes of its data), resident or not. Reparse data too
   * large for the record (a cloud provider's long placeholder data, up to 16 KiB) is stored in
   * clusters; only the tag is read from them, whatever size the attribute claims. A reparse point
   * whose clusters cannot be read throws (the entry gets the problem): its $DATA may be a
   * placeholder's zeros, so it is not given as the content.
   */
  private async reparseTag(rec: MftRecord, what: string): Promise<number | undefined> {
    const reparse = rec.attrs.find((a) => a.type === ATTR_REPARSE_POINT);
    if (!reparse) return undefined;
    let head: Uint8Array;
    if (reparse.resident) head = reparse.value!;
    else if (Math.min(reparse.realSize, reparse.initSize) < 4) return undefined;
    else head = await this.dataOf(reparse, `${what} reparse point`).read(0, 4, { abortSignal: this.signal });
    return head.length >= 4 ? u32(head, 0) : undefined;
  }

  /** The attribute's bytes are all written on the volume: resident, or initialised throughout with no sparse run. */
  private wholeOnDisk(attr: Attr): boolean {
    if (attr.resident) return true;
    if (attr.initSize < attr.realSize || attr.flags & FLAG_COMPRESSED) return false;
    let covered = 0;
    try {
      for (const run of this.runsOf(attr, 'cloud file')) {
        if (run.physical === null) return false;
        covered = Math.max(covered, run.logical + run.length);
      }
    } catch {
      return false;
    }
    return covered >= attr.realSize;
  }

  /** An attribute's data: resident bytes, runs (zeros past the initialised size), or LZNT1 units. */
  dataOf(attr: Attr, what: string): ByteSource {
    if (attr.flags & FLAG_ENCRYPTED) fail('unsupported-format', `${what}: EFS-encrypted data`);
    if (attr.resident) return bytesByteSource(attr.value!);
    if (attr.realSize > LIMITS.maxMemberBytes) fail('limit-exceeded', `${what}: size ${attr.realSize} is beyond LIMITS.maxMemberBytes`);
    const runs = this.runsOf(attr, what);
    if (attr.flags & FLAG_COMPRESSED) {
      if (attr.compressionUnit === 0 || attr.compressionUnit > 8) fail('unsupported-format', `${what}: compression unit 2^${attr.compressionUnit} clusters`);
      return compressedSource(this.source, runs, this.clusterSize * 2 ** attr.compressionUnit, attr.realSize);
    }
    const init = Math.min(attr.initSize, attr.realSize);
    const cut: DataRun[] = [];
    for (const run of runs) {
      if (run.logical >= init) break;
      const length = Math.min(run.length, init - run.logical);
      cut.push({ ...run, length });
    }
    return runsByteSource(this.source, cut, attr.realSize);
  }

  /** Names in a directory's $I30 index (root and allocation records), DOS names left out. */
  async indexNames(dir: MftRecord): Promise<DirName[]> {
    const what = `directory record ${dir.number}`;
    const root = dir.attrs.find((a) => a.type === ATTR_INDEX_ROOT && a.name === '$I30');
    if (!root?.value || root.value.length < 0x20) fail('corrupt-file', `${what}: no $I30 index root`);
    const names: DirName[] = [];
    this.indexEntries(root.value, 0x10, root.value.length, names, what);
    const alloc = dir.attrs.find((a) => a.type === ATTR_INDEX_ALLOCATION && a.name === '$I30');
    if (alloc && !alloc.resident) {
      const indexRecordSize = u32(root.value, 8);
      if (indexRecordSize < 512 || indexRecordSize > LIMITS.maxFsBlockBytes || (indexRecordSize & (indexRecordSize - 1)) !== 0) {
        fail('limit-exceeded', `${what}: index record size ${indexRecordSize} is outside 512…LIMITS.maxFsBlockBytes`);
      }
      if (alloc.realSize > LIMITS.maxFsDirectoryBytes) fail('limit-exceeded', `${what}: index of ${alloc.realSize} bytes is beyond LIMITS.maxFsDirectoryBytes`);
      const data = runsByteSource(this.source, this.runsOf(alloc, what), alloc.realSize);
      // $BITMAP says which index records are in use; a free one may still hold a stale copy of live names.
      const bitmapAttr = dir.attrs.find((a) => a.type === ATTR_BITMAP && a.name === '$I30');
      let bitmap: Uint8Array | null = null;
      if (bitmapAttr?.resident) bitmap = bitmapAttr.value!;
      else if (bitmapAttr && bitmapAttr.realSize <= LIMITS.maxFsDirectoryBytes) {
        bitmap = await this.dataOf(bitmapAttr, what).read(0, bitmapAttr.realSize, { abortSignal: this.signal });
      }
      for (let offset = 0; offset + indexRecordSize <= alloc.realSize; offset += indexRecordSize) {
        const index = offset / indexRecordSize;
        if (bitmap && ((bitmap[index >> 3] ?? 0) & (1 << (index & 7))) === 0) continue;
        const b = await data.read(offset, indexRecordSize, { abortSignal: this.signal });
        if (Buffer.from(b.subarray(0, 4)).toString('latin1') !== 'INDX') continue; // never used
        this.fixup(b, 'INDX', `${what}: index record at ${offset}`);
        this.indexEntries(b, 0x18, b.length, names, what);
      }
    }
    return names;
  }

  private indexEntries(b: Uint8Array, headerAt: number, limit: number, out: DirName[], what: string): void {
    const first = headerAt + u32(b, headerAt);
    const end = Math.min(headerAt + u32(b, headerAt + 4), limit);
    for (let pos = first; pos + 0x10 <= end; ) {
      const length = u16(b, pos + 8);
      const contentLength = u16(b, pos + 10);
      const flags = u32(b, pos + 12);
      if (length < 0x10 || pos + length > end) fail('corrupt-file', `${what}: index entry at ${pos} has impossible length ${length}`);
      if (flags & 2) break; // last entry
      if (contentLength >= 0x42 && 0x10 + contentLength <= length) {
        const fn = parseFileName(b.subarray(pos + 0x10, pos + 0x10 + contentLength));
        if (fn && fn.namespace !== NAMESPACE_DOS) {
          const r = ref(b, pos);
          out.push({ record: r.record, seq: r.seq, name: fn.name, fromIndex: true });
        }
      }
      pos += length;
    }
  }

  /** Deleted records by the directory their $FILE_NAME names, read once for the whole volume. */
  private async deletedByParent(): Promise<Map<number, DirName[]>> {
    if (this.deletedChildren) return this.deletedChildren;
    const map = new Map<number, DirName[]>();
    const mft = runsByteSource(this.source, this.mftRuns, this.recordCount * this.recordSize);
    const perRead = Math.max(1, Math.floor((1024 * 1024) / this.recordSize));
    for (let first = 0; first < this.recordCount; first += perRead) {
      const count = Math.min(perRead, this.recordCount - first);
      const chunk = await mft.read(first * this.recordSize, count * this.recordSize, { abortSignal: this.signal });
      for (let i = 0; i < count; i++) {
        const b = chunk.slice(i * this.recordSize, (i + 1) * this.recordSize);
        if (Buffer.from(b.subarray(0, 4)).toString('latin1') !== 'FILE' || u16(b, 0x16) & RECORD_IN_USE) continue;
        let rec: MftRecord;
        try {
          rec = await this.parseRecord(b, first + i);
        } catch {
          continue; // a damaged free record names nothing
        }
        // Extension records belong to their base; a record without attributes was never used (TSK skips both).
        if (rec.baseRecord !== 0 || rec.attrs.length === 0) continue;
        // Its names may be in extension records (many hard links, or attributes moved out to make room).
        if (rec.attrs.some((a) => a.type === ATTR_ATTRIBUTE_LIST)) {
          try {
            rec = await this.record(first + i);
          } catch (err) {
            // A filter: problemOf rethrows what is not a damaged-record problem (an abort, storage); the problem
            // itself is not reported for a free record, whose names are read from the base record alone.
            void problemOf(err);
          }
        }
        const free: { record: number; name: string | null } = { record: rec.number, name: null };
        this.freeRecords.push(free);
        for (const a of rec.attrs) {
          if (a.type !== ATTR_FILE_NAME || !a.value) continue;
          const fn = parseFileName(a.value);
          if (!fn || fn.namespace === NAMESPACE_DOS) continue;
          free.name ??= fn.name;
          const list = map.get(fn.parent.record) ?? [];
          list.push({ record: rec.number, seq: fn.parent.seq, name: fn.name, fromIndex: false });
          map.set(fn.parent.record, list);
        }
      }
    }
    this.deletedChildren = map;
    return map;
  }

  async *entries(signal?: AbortSignal): AsyncGenerator<FileSystemEntry> {
    const root = await this.record(ROOT_RECORD);
    if (!root.directory) fail('corrupt-file', 'ntfs: record 5 is not the root directory');
    const visited = new Set<number>([ROOT_RECORD]);
    /** Records some listed name reaches; the free records left over are TSK's orphans. */
    const reached = new Set<number>([ROOT_RECORD]);
    const counter = { count: 0 };
    const self = this;
    const namesOf = async (dir: MftRecord): Promise<DirName[]> => {
      const names = await self.indexNames(dir);
      const listed = new Set(names.map((n) => n.record));
      for (const child of (await self.deletedByParent()).get(dir.number) ?? []) {
        if (child.seq === dir.seq && !listed.has(child.record)) names.push(child);
      }
      return names;
    };
    /**
     * A deleted folder's files: the free records that name it as parent. NTFS
     * bumps a record's sequence number when it frees it, so they recorded the
     * folder's sequence number before its deletion, one less than its record
     * has now (TSK looks for the same). A record reused since has moved on
     * further and matches nothing. The folder's own index is not read: its
     * entries were removed as its files were deleted, and what is left there
     * may name records reused since.
     */
    const deletedNamesOf = async (dir: MftRecord): Promise<DirName[]> => {
      if (dir.seq === 0) return [];
      return ((await self.deletedByParent()).get(dir.number) ?? []).filter((child) => child.seq === dir.seq - 1);
    };
    async function* walk(names: DirName[], prefix: string, depth: number): AsyncGenerator<FileSystemEntry> {
      for (const n of names) {
        if (n.name === '.' || (prefix === '' && n.record === ROOT_RECORD)) continue;
        if (signal?.aborted) throw new ExhibitError('aborted', 'ntfs: listing aborted', { cause: signal.reason });
        reached.add(n.record);
        const path = prefix + n.name;
        let rec: MftRecord | undefined;
        let problem: Problem | undefined;
        try {
          rec = await self.record(n.record);
        } catch (err) {
          problem = problemOf(err);
        }
        const allocated = n.fromIndex && (rec === undefined || rec.inUse);
        if (!rec) {
          self.countEntry(counter);
          yield { path, entryId: String(n.record), allocated, recovered: false, kind: 'other', size: 0, times: {}, ...(problem ? { problem } : {}) };
          continue;
        }
        let children: DirName[] | undefined;
        for (const entry of await self.recordEntries(rec, path, allocated, counter)) {
          if (entry.kind === 'directory' && !entry.problem) {
            if (visited.has(rec.number)) {
              entry.problem = { code: 'corrupt-file', message: `directory loop: record ${rec.number} is already listed above or elsewhere` };
            } else if (depth + 1 > LIMITS.maxFsDirectoryDepth) {
              entry.problem = { code: 'limit-exceeded', message: 'directory deeper than LIMITS.maxFsDirectoryDepth' };
            } else if (allocated) {
              visited.add(rec.number);
              try {
                children = await namesOf(rec);
              } catch (err) {
                entry.problem = problemOf(err);
              }
            } else if (!rec.inUse) {
              visited.add(rec.number);
              children = await deletedNamesOf(rec);
            }
          }
          yield entry;
        }
        if (children) yield* walk(children, `${path}/`, depth + 1);
      }
    }
    yield* walk(await namesOf(root), '', 0);
    // Free records no surviving directory names, under TSK's virtual folder and names.
    await this.deletedByParent();
    for (const free of this.freeRecords) {
      if (reached.has(free.record)) continue;
      if (signal?.aborted) throw new ExhibitError('aborted', 'ntfs: listing aborted', { cause: signal.reason });
      let rec: MftRecord;
      const path = `$OrphanFiles/${free.name ?? `OrphanFile-${free.record}`}`;
      try {
        rec = await this.record(free.record);
      } catch (err) {
        this.countEntry(counter);
        yield { path, entryId: String(free.record), allocated: false, recovered: false, kind: 'other', size: 0, times: {}, problem: problemOf(err) };
        continue;
      }
      yield* await this.recordEntries(rec, path, false, counter);
    }
  }

  private countEntry(counter: { count: number }): void {
    if (++counter.count > LIMITS.maxFsEntries) fail('limit-exceeded', 'ntfs: more than LIMITS.maxFsEntries entries');
  }

  /**
   * The entries of one record under one name, as fls prints them: one per
   * $DATA stream and per index root ($I30 as the name itself, others as
   * `name:index`), or the bare record when it has neither.
   */
  private async recordEntries(rec: MftRecord, path: string, allocated: boolean, counter: { count: number }): Promise<FileSystemEntry[]> {
    const times = timesOf(rec);
    const what = `MFT record ${rec.number}`;
    const out: FileSystemEntry[] = [];
    for (const attr of rec.attrs) {
      if (attr.type !== ATTR_DATA && attr.type !== ATTR_INDEX_ROOT) continue;
      this.countEntry(counter);
      const isI30 = attr.type === ATTR_INDEX_ROOT && attr.name === '$I30';
      const streamName = attr.name !== '' && !isI30 ? attr.name : undefined;
      const entry: FileSystemEntry = {
        path: streamName ? `${path}:${streamName}` : path,
        entryId: `${rec.number}-${attr.type}-${attr.id}`,
        allocated,
        recovered: false,
        kind: attr.type === ATTR_DATA ? 'file' : isI30 && rec.directory ? 'directory' : 'other',
        size: attr.type === ATTR_DATA ? attr.realSize : 0,
        times,
        ...(streamName && attr.type === ATTR_DATA ? { stream: streamName } : {}),
      };
      if (attr.type === ATTR_DATA) {
        try {
          // A reparse point that cannot be read throws here too: its $DATA may be a placeholder's zeros.
          const elsewhere = attr.name === '' ? await this.contentElsewhere(rec, attr, what) : undefined;
          if (elsewhere) {
            entry.problem = { code: 'unsupported-format', message: `${what}: ${elsewhere}` };
          } else {
            const data = this.dataOf(attr, what);
            entry.data = () => data;
            if (!allocated) entry.recovered = true;
          }
        } catch (err) {
          entry.problem = problemOf(err);
        }
      }
      out.push(entry);
    }
    if (out.length === 0) {
      this.countEntry(counter);
      out.push({ path, entryId: String(rec.number), allocated, recovered: false, kind: rec.directory ? 'directory' : 'other', size: 0, times });
    }
    return out;
  }
}

function parseFileName(v: Uint8Array): FileName | null {
  if (v.length < 0x42) return null;
  const length = v[0x40]!;
  if (0x42 + length * 2 > v.length) return null;
  return { parent: ref(v, 0), name: utf16(v, 0x42, length), namespace: v[0x41]! };
}

function timesOf(rec: MftRecord): FileSystemTimes {
  const si = rec.attrs.find((a) => a.type === ATTR_STANDARD_INFORMATION && a.resident);
  const times: FileSystemTimes = {};
  if (!si?.value || si.value.length < 0x20) return times;
  const set = (key: keyof FileSystemTimes, offset: number, name: string) => {
    const t = preciseFiletime(u64n(si.value!, offset), `ntfs:$STANDARD_INFORMATION.${name}`);
    if (t) times[key] = t;
  };
  set('created', 0x00, 'created');
  set('modified', 0x08, 'modified');
  set('changed', 0x10, 'mftModified');
  set('accessed', 0x18, 'accessed');
  return times;
}

function problemOf(err: unknown): Problem {
  if (err instanceof ExhibitError && (err.code === 'corrupt-file' || err.code === 'limit-exceeded' || err.code === 'unsupported-format')) {
    return { code: err.code, message: err.message };
  }
  throw err;
}

/**
 * Data of an LZNT1-compressed attribute: per compression unit, all-sparse
 * reads as zeros, fully allocated is stored as is, and otherwise the
 * allocated clusters hold the compressed unit. One decoded unit is cached.
 */
function compressedSource(base: ByteSource, runs: readonly DataRun[], unitBytes: number, size: number): ByteSource {
  let cached: { index: number; bytes: Uint8Array } | null = null;
  const unit = async (index: number, abortSignal?: AbortSignal): Promise<Uint8Array> => {
    if (cached?.index === index) return cached.bytes;
    const start = index * unitBytes;
    const pieces: Array<{ physical: number; length: number }> = [];
    let allocated = 0;
    for (const run of runs) {
      const from = Math.max(start, run.logical);
      const to = Math.min(start + unitBytes, run.logical + run.length);
      if (to <= from || run.physical === null) continue;
      pieces.push({ physical: run.physical + (from - run.logical), length: to - from });
      allocated += to - from;
    }
    const out = new Uint8Array(unitBytes);
    if (allocated > 0) {
      const raw = new Uint8Array(allocated);
      let at = 0;
      for (const p of pieces) {
        raw.set(await base.read(p.physical, p.length, { abortSignal }), at);
        at += p.length;
      }
      if (allocated >= unitBytes) out.set(raw.subarray(0, unitBytes));
      else lznt1Decompress(raw, out);
    }
    cached = { index, bytes: out };
    return out;
  };
  return {
    size,
    async read(offset, length, options) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new ExhibitError('corrupt-file', `read of ${length} bytes at ${offset} lies outside the file data (${size} bytes)`);
      }
      const out = new Uint8Array(length);
      for (let pos = offset; pos < offset + length; ) {
        const index = Math.floor(pos / unitBytes);
        const bytes = await unit(index, options?.abortSignal);
        const within = pos - index * unitBytes;
        const n = Math.min(unitBytes - within, offset + length - pos);
        out.set(bytes.subarray(within, within + n), pos - offset);
        pos += n;
      }
      return out;
    },
  };
}
