import { inflateSync } from 'node:zlib';
import { ExhibitError, LIMITS, errorMessage, type RecordedTime, escapeLoneSurrogates } from '@exhibit/core';
import { ascii, checkRange, readPieces, u64, view } from './byte-source.js';
import type { ByteSource } from './disk-reader.types.js';

/**
 * EWF version 1 (EnCase .E01 and its split segments E02 …), written from the
 * format description (libewf's "Expert Witness Compression Format"), no
 * library: each segment is a chain of 76-byte section descriptors, each with
 * an Adler-32; `table` sections list the chunks of media that the `sectors`
 * sections hold, each zlib-compressed (top bit of its 32-bit offset) or stored
 * with an Adler-32 after it. The media is read chunk by chunk through a small
 * cache; nothing is copied. Ex01 (EWF2) and L01 are recognised and refused.
 */

export const EWF1_SIGNATURE = Uint8Array.from([0x45, 0x56, 0x46, 0x09, 0x0d, 0x0a, 0xff, 0x00]);
export const EWF2_SIGNATURE = Uint8Array.from([0x45, 0x56, 0x46, 0x32, 0x0d, 0x0a, 0x81, 0x00]);
export const LEF1_SIGNATURE = Uint8Array.from([0x4c, 0x56, 0x46, 0x09, 0x0d, 0x0a, 0xff, 0x00]);
export const LEF2_SIGNATURE = Uint8Array.from([0x4c, 0x45, 0x46, 0x32, 0x0d, 0x0a, 0x81, 0x00]);

const FILE_HEADER_BYTES = 13;
const SECTION_BYTES = 76;
const TABLE_HEADER_BYTES = 24;

export function startsWith(bytes: Uint8Array, signature: Uint8Array): boolean {
  return bytes.length >= signature.length && signature.every((b, i) => bytes[i] === b);
}

/**
 * Whether `head` (a blob's first bytes) opens segment 1 of an EWF 1 image
 * (card.E01): the image the unpack's single read of the blob can hash as it
 * lists (hash.stage.ts, unpack.stage.ts). A later segment is never unpacked on
 * its own, so its blob is hashed by the hash stage.
 */
export function isFirstEwfSegment(head: Uint8Array): boolean {
  return head.length >= FILE_HEADER_BYTES && startsWith(head, EWF1_SIGNATURE) && view(head).getUint16(9, true) === 1;
}

/** Adler-32 (RFC 1950), the checksum EWF puts on descriptors, tables and stored chunks. */
export function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  const NMAX = 5552;
  for (let i = 0; i < bytes.length; ) {
    const end = Math.min(i + NMAX, bytes.length);
    for (; i < end; i += 1) {
      a += bytes[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** What the acquiring examiner typed and the tool recorded, as stored (header2 preferred to header). */
export interface EwfHeader {
  caseNumber?: string;
  evidenceNumber?: string;
  description?: string;
  examiner?: string;
  notes?: string;
  /** The acquisition date: header2 stores Unix seconds (UTC); header stores the acquiring machine's wall clock. */
  acquisitionDate?: RecordedTime;
  systemDate?: RecordedTime;
  /** `av`: EWF stores only the acquiring software's version string (e.g. "6.19" for EnCase, a date for ewfacquire), no name. */
  acquiringSoftwareVersion?: string;
  operatingSystem?: string;
  /** Every key/value pair as stored (c, n, a, e, t, av, ov, m, u, p, r …). */
  values: Record<string, string>;
}

export interface EwfStoredHashes {
  md5?: string;
  sha1?: string;
}

interface Section {
  type: string;
  offset: number;
  size: number;
}

/** One `table` section: the chunks it lists and where their data ends. */
interface ChunkTable {
  segment: number;
  firstChunk: number;
  count: number;
  /** Offset of the entry array in the segment. */
  entriesOffset: number;
  /** The table2 copy, used when the table's checksum fails. */
  mirrorEntriesOffset?: number;
  base: number;
  /** End of the sectors data the last chunk of this table runs to. */
  dataEnd: number;
  /** Start of that sectors section's data (not for an inline table): where its first chunk lies when laid out contiguously. */
  dataStart?: number;
  /**
   * The chunks lie in the table section itself, after the entries: no `sectors` section came
   * before it, as in the SMART (.s01) and original EnCase 1 ('ewf') formats, whose entries
   * have no Adler-32 after them.
   */
  inline: boolean;
  /** A cut `sectors` section whose table was lost: its chunks are found by walking its data (SectionWalk), not listed. */
  walk?: SectionWalk;
}

/** The data of the first `sectors` section after a cut segment's last table, which no table locates (EwfImage.open). */
interface UntabledSectors {
  segment: number;
  /** Where the section's data starts and where what is present of it ends (the section's end or the segment's). */
  start: number;
  end: number;
  /** The section's own description, for the messages. */
  section: Section;
}

interface ChunkLocation {
  segment: number;
  offset: number;
  size: number;
  compressed: boolean;
}

/**
 * Why a set of segments is not one image, named so the item's failure says
 * which (the message says which segment too).
 */
export type ImageSegmentProblem =
  | 'segment-missing'
  | 'segment-truncated'
  | 'segment-duplicated'
  | 'segment-from-another-image'
  | 'segment-changed-after-receipt'
  /** A received segment's size is not the one its manifest declared (segment-set.wait.ts). */
  | 'segment-size-mismatch';

/**
 * The reason a stored chunk carries when it fails the checksum its acquisition wrote (Adler-32) or does not
 * inflate to its size: damaged or altered media (disk-image.record.ts: image-media-damaged), unlike the
 * image's other corrupt-file errors (a segment, a table, the check's own bookkeeping).
 */
export const MEDIA_CHUNK_DAMAGED = 'media-chunk-damaged';

function chunkDamaged(message: string, cause?: unknown): ExhibitError {
  return new ExhibitError('corrupt-file', message, { details: { reason: MEDIA_CHUNK_DAMAGED }, ...(cause === undefined ? {} : { cause }) });
}

export function segmentError(reason: ImageSegmentProblem, message: string): ExhibitError {
  return new ExhibitError('corrupt-file', `${message} [${reason}]`, { details: { reason } });
}

interface SegmentIdentity {
  chunkCount: number;
  chunkBytes: number;
  bytesPerSector: number;
  sectorCount: number;
  /** Hex of the 16-byte set identifier; all zeros when the acquiring tool wrote none (ewfacquire 2014 does not). */
  setIdentifier: string | null;
}

/** A later segment's data section repeats segment 1's volume section: a difference means another image's segment. */
function checkSameImage(first: SegmentIdentity, other: SegmentIdentity, segment: number): void {
  if (first.setIdentifier !== null && other.setIdentifier !== null && first.setIdentifier !== other.setIdentifier) {
    throw segmentError(
      'segment-from-another-image',
      `EWF segment ${segment} is from another image: its set identifier ${other.setIdentifier} differs from segment 1's ${first.setIdentifier}`,
    );
  }
  const fields = ['sectorCount', 'bytesPerSector', 'chunkBytes', 'chunkCount'] as const;
  const differs = fields.find((f) => first[f] !== other[f]);
  if (differs) {
    throw segmentError('segment-from-another-image', `EWF segment ${segment} is from another image: its ${differs} ${other[differs]} differs from segment 1's ${first[differs]}`);
  }
}

export class EwfImage implements ByteSource {
  readonly size: number;
  readonly chunkBytes: number;
  readonly bytesPerSector: number;
  readonly header: EwfHeader;
  readonly storedHashes: EwfStoredHashes;
  private readonly chunkCache = new Map<number, Promise<Uint8Array>>();
  private readonly tableCache = new Map<number, Promise<ChunkLocation[]>>();

  private constructor(
    private readonly segments: readonly ByteSource[],
    private readonly tables: ChunkTable[],
    private readonly chunkCount: number,
    geometry: { size: number; chunkBytes: number; bytesPerSector: number },
    header: EwfHeader,
    hashes: EwfStoredHashes,
    private readonly damage: readonly EwfDamage[] = [],
  ) {
    this.size = geometry.size;
    this.chunkBytes = geometry.chunkBytes;
    this.bytesPerSector = geometry.bytesPerSector;
    this.header = header;
    this.storedHashes = hashes;
  }

  /** Opens the segments (in any order; each carries its number) and reads their section chains. */
  static async open(segmentSources: readonly ByteSource[], options: { abortSignal?: AbortSignal } = {}): Promise<EwfImage> {
    if (segmentSources.length > LIMITS.maxImageSegments) {
      throw new ExhibitError('limit-exceeded', `${segmentSources.length} EWF segments exceed ${LIMITS.maxImageSegments}`);
    }
    const numbered: { number: number; source: ByteSource; given: number }[] = [];
    for (const [given, source] of segmentSources.entries()) {
      if (source.size < FILE_HEADER_BYTES + SECTION_BYTES) {
        throw segmentError('segment-truncated', `EWF segment ${given + 1} of those given (${source.size} bytes) is truncated before its first section`);
      }
      const head = await source.read(0, FILE_HEADER_BYTES, options);
      if (startsWith(head, EWF2_SIGNATURE) || startsWith(head, LEF2_SIGNATURE)) {
        throw new ExhibitError('unsupported-format', 'EWF version 2 (Ex01/Lx01) images are not supported');
      }
      if (startsWith(head, LEF1_SIGNATURE)) throw new ExhibitError('unsupported-format', 'EWF logical evidence files (L01) are not supported');
      if (!startsWith(head, EWF1_SIGNATURE)) {
        throw segmentError('segment-from-another-image', `EWF segment ${given + 1} of those given has no EVF signature: it is not a segment of this image`);
      }
      numbered.push({ number: view(head).getUint16(9, true), source, given });
    }
    // Segments carry their number (EWF file header): the order given does not matter; a repeat is refused, a gap is a missing segment.
    numbered.sort((a, b) => a.number - b.number || a.given - b.given);
    /** Why some of the media is not in the segments given (a segment cut short or missing): only its chunks fail. */
    const damage: EwfDamage[] = [];
    numbered.forEach((s, i) => {
      if (i > 0 && numbered[i - 1]!.number === s.number) {
        throw segmentError('segment-duplicated', `EWF segment ${s.number} was given twice (segments ${numbered[i - 1]!.given + 1} and ${s.given + 1} of those given)`);
      }
      // Segment 1 holds the header and the volume section the others are checked against: without it there is no image.
      if (i === 0 && s.number !== 1) throw segmentError('segment-missing', `EWF segment 1 is missing (found segment ${s.number} in its place)`);
      for (let gap = (numbered[i - 1]?.number ?? 0) + 1; gap < s.number; gap += 1) {
        damage.push({ reason: 'segment-missing', message: `EWF segment ${gap} is missing` });
      }
    });
    const segments = numbered.map((s) => s.source);
    /** Per segment given: its number, its tables in chain order, and whether its chain ran whole (to next or done, not cut). */
    const runs: DamagedRun[] = [];

    let geometry: { chunkCount: number; chunkBytes: number; bytesPerSector: number; sectorCount: number } | undefined;
    let header: EwfHeader | undefined;
    let header2: EwfHeader | undefined;
    const hashes: EwfStoredHashes = {};
    const tables: ChunkTable[] = [];
    let chunkCount = 0;
    let sawDone = false;
    /** Segment 1's volume section: every later segment's data section must describe the same media and set. */
    let identity: SegmentIdentity | undefined;

    for (let s = 0; s < segments.length; s += 1) {
      const source = segments[s]!;
      const number = numbered[s]!.number;
      if (sawDone) {
        throw segmentError('segment-from-another-image', `EWF segment ${numbered[s - 1]!.number} ends the image (done section) but segment ${number} follows: the segments are from different images`);
      }
      const { sections, cut, cutSection } = await readSectionChain(source, number, options);
      if (cut !== null) damage.push({ reason: 'segment-truncated', message: cut });
      const run: DamagedRun = { number, tables: [], whole: cut !== null ? false : true };
      runs.push(run);
      let checkedSegment = false;
      let lastSectorsEnd: number | undefined;
      let lastSectorsStart: number | undefined;
      /** The first sectors section since the last table: its table not (yet) read. */
      let untabled: Section | undefined;
      let lastTable: ChunkTable | undefined;
      for (const section of sections) {
        const dataOffset = section.offset + SECTION_BYTES;
        const dataSize = section.size - SECTION_BYTES;
        switch (section.type) {
          case 'header2':
          case 'header': {
            if (dataSize <= 0 || dataSize > LIMITS.maxDiskReadBytes) throw new ExhibitError('corrupt-file', `EWF ${section.type} section of ${dataSize} bytes`);
            const parsed = parseHeaderSection(await source.read(dataOffset, dataSize, options), section.type === 'header2');
            if (section.type === 'header2') header2 ??= parsed;
            else header ??= parsed;
            break;
          }
          case 'volume':
          case 'disk':
          case 'data': {
            if (dataSize < 24) throw new ExhibitError('corrupt-file', `EWF ${section.type} section too small (${dataSize} bytes)`);
            // The set identifier (a GUID at 64) is in the EnCase-style volume of 1052 bytes, not the 94-byte SMART one.
            const bytes = await source.read(dataOffset, dataSize >= 80 ? 80 : 24, options);
            const dv = view(bytes);
            const read = {
              chunkCount: dv.getUint32(4, true),
              chunkBytes: dv.getUint32(8, true) * dv.getUint32(12, true),
              bytesPerSector: dv.getUint32(12, true),
              sectorCount: u64(dv, 16),
            };
            const mine: SegmentIdentity = { ...read, setIdentifier: bytes.length >= 80 ? hex(bytes.subarray(64, 80)) : null };
            // Segment 1's first volume section is the reference; each later segment's first data section must repeat it.
            if (s === 0) identity ??= mine;
            else if (!checkedSegment && identity) {
              checkSameImage(identity, mine, number);
              checkedSegment = true;
            }
            geometry ??= read;
            break;
          }
          case 'sectors':
            lastSectorsEnd = section.offset + section.size;
            lastSectorsStart = dataOffset;
            untabled ??= section;
            break;
          case 'table': {
            // Without a sectors section before it, the table section holds the chunks and its end is theirs.
            const inline = lastSectorsEnd === undefined;
            const table = await readTableHeader(source, s, dataOffset, dataSize, chunkCount, lastSectorsEnd ?? section.offset + section.size, inline, options);
            if (!inline) table.dataStart = lastSectorsStart;
            tables.push(table);
            run.tables.push(table);
            lastTable = table;
            untabled = undefined;
            chunkCount += table.count;
            if (chunkCount > LIMITS.maxMediaBytes / 512) throw new ExhibitError('limit-exceeded', `EWF chunk count ${chunkCount} is absurd`);
            break;
          }
          case 'table2':
            if (lastTable && dataSize >= TABLE_HEADER_BYTES + lastTable.count * 4) lastTable.mirrorEntriesOffset = dataOffset + TABLE_HEADER_BYTES;
            break;
          case 'hash': {
            if (dataSize >= 16) hashes.md5 ??= hex(await source.read(dataOffset, 16, options));
            break;
          }
          case 'digest': {
            if (dataSize >= 36) {
              const bytes = await source.read(dataOffset, 36, options);
              hashes.md5 = hex(bytes.subarray(0, 16));
              hashes.sha1 = hex(bytes.subarray(16, 36));
            }
            break;
          }
          case 'done':
            sawDone = true;
            break;
          default:
            break;
        }
      }
      // A cut segment's sectors section whose table is lost with the cut (the section itself cut, or whole with the table
      // after it cut): its chunks that are wholly present can still be found by their own checksums (SectionWalk).
      const lost = cut === null ? undefined : (untabled ?? (cutSection?.type === 'sectors' ? cutSection : undefined));
      if (lost && lost.offset + SECTION_BYTES < source.size) {
        run.untabled = { segment: s, start: lost.offset + SECTION_BYTES, end: Math.min(lost.offset + lost.size, source.size), section: lost };
      }
      if (sections.at(-1)?.type === 'next' && s === segments.length - 1) {
        damage.push({ reason: 'segment-missing', message: `EWF segment ${number} is the last given but ends with 'next': segment ${number + 1} is missing` });
      }
    }
    if (!geometry) throw new ExhibitError('corrupt-file', 'EWF image without a volume section');
    if (!sawDone && damage.length === 0) throw segmentError('segment-missing', 'EWF image ends without a done section: a segment is truncated or missing');
    const { chunkBytes, bytesPerSector, sectorCount } = geometry;
    if (bytesPerSector === 0 || bytesPerSector > 65536 || chunkBytes === 0 || chunkBytes > LIMITS.maxEwfChunkBytes) {
      throw new ExhibitError('limit-exceeded', `EWF chunk of ${chunkBytes} bytes (${bytesPerSector}-byte sectors) is outside the limits`);
    }
    const size = sectorCount * bytesPerSector;
    if (!Number.isSafeInteger(size) || size > LIMITS.maxMediaBytes) throw new ExhibitError('limit-exceeded', `EWF media of ${size} bytes exceeds ${LIMITS.maxMediaBytes}`);
    const needed = Math.ceil(size / chunkBytes);
    let found = tables;
    if (damage.length > 0) {
      found = placeDamagedTables(
        runs,
        needed,
        geometry.chunkCount,
        sawDone,
        (u, firstChunk, witnesses) =>
          new SectionWalk(segments[u.segment]!, u, firstChunk, chunkBytes, size, numbered[u.segment]!.number, (abortSignal) =>
            laidOutContiguously(witnesses, segments, chunkBytes, numbered, abortSignal),
          ),
      );
      chunkCount = needed;
    } else if (chunkCount < needed) {
      throw new ExhibitError('corrupt-file', `EWF chunk tables list ${chunkCount} chunks; the media of ${size} bytes needs ${needed}`);
    }
    const merged: EwfHeader = { ...(header ?? { values: {} }), ...(header2 ?? {}) };
    merged.values = { ...(header?.values ?? {}), ...(header2?.values ?? {}) };
    return new EwfImage(segments, found, chunkCount, { size, chunkBytes, bytesPerSector }, merged, hashes, damage);
  }

  /**
   * Why the media is not all here (a segment cut short or missing), empty when it is: the chunks of the lost part fail
   * their reads with the first reason, every other chunk reads as in a whole image, and the stored hashes (of the whole
   * media) cannot be checked.
   */
  get incomplete(): readonly EwfDamage[] {
    return this.damage;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  private tableOf(chunk: number): number {
    let lo = 0;
    let hi = this.tables.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.tables[mid]!.firstChunk <= chunk) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private locations(tableIndex: number, options?: { abortSignal?: AbortSignal }): Promise<ChunkLocation[]> {
    const cached = this.tableCache.get(tableIndex);
    if (cached) return cached;
    const pending = readTableEntries(this.segments[this.tables[tableIndex]!.segment]!, this.tables[tableIndex]!, this.chunkBytes, options);
    pending.catch(() => this.tableCache.delete(tableIndex));
    this.tableCache.set(tableIndex, pending);
    while (this.tableCache.size > 4) this.tableCache.delete(this.tableCache.keys().next().value!);
    return pending;
  }

  /** Chunk `n` of the media, decompressed and checked. */
  chunk(n: number, options?: { abortSignal?: AbortSignal }): Promise<Uint8Array> {
    const cached = this.chunkCache.get(n);
    if (cached) {
      this.chunkCache.delete(n);
      this.chunkCache.set(n, cached);
      return cached;
    }
    const pending = this.loadChunk(n, options);
    pending.catch(() => this.chunkCache.delete(n));
    this.chunkCache.set(n, pending);
    const cachedChunks = Math.max(1, Math.floor(LIMITS.ewfChunkCacheBytes / this.chunkBytes));
    while (this.chunkCache.size > cachedChunks) this.chunkCache.delete(this.chunkCache.keys().next().value!);
    return pending;
  }

  private async loadChunk(n: number, options?: { abortSignal?: AbortSignal }): Promise<Uint8Array> {
    if (n < 0 || n >= this.chunkCount) throw new ExhibitError('corrupt-file', `EWF chunk ${n} is not in the chunk tables`);
    const tableIndex = this.tableOf(n);
    const table = this.tables[tableIndex];
    // A chunk of a part lost with a segment: its read fails (never zeros), naming why, so only what needs it fails.
    if (!table || n < table.firstChunk || n >= table.firstChunk + table.count) throw this.lost(n);
    let location: ChunkLocation;
    if (table.walk) {
      const walked = await table.walk.locate(n - table.firstChunk, options);
      if (typeof walked === 'string') throw this.lost(n, { why: walked, stoppedAt: table.walk.stoppedAt });
      location = walked;
    } else {
      location = (await this.locations(tableIndex, options))[n - table.firstChunk]!;
    }
    const segment = this.segments[location.segment]!;
    const expected = Math.min(this.chunkBytes, this.size - n * this.chunkBytes);
    const stored = await segment.read(location.offset, location.size, options);
    if (location.compressed) {
      let data: Buffer;
      try {
        data = inflateSync(stored, { maxOutputLength: this.chunkBytes });
      } catch (err) {
        throw chunkDamaged(`EWF chunk ${n}: compressed data does not inflate (${errorMessage(err)})`, err);
      }
      if (data.length < expected) throw chunkDamaged(`EWF chunk ${n} inflates to ${data.length} bytes, expected ${expected}`);
      return data.subarray(0, expected);
    }
    if (location.size < expected + 4) throw new ExhibitError('corrupt-file', `EWF chunk ${n} holds ${location.size} bytes, expected ${expected} and its checksum`);
    const data = stored.subarray(0, location.size - 4);
    const checksum = view(stored).getUint32(location.size - 4, true);
    if (adler32(data) !== checksum) throw chunkDamaged(`EWF chunk ${n}: Adler-32 mismatch`);
    return data.subarray(0, expected);
  }

  /**
   * The failure of a read of chunk `n`, lost with a segment: the damage, and, for a chunk of a walked cut section, that
   * the walk stopped at it or before it (its bytes may well be present, but nothing places them: never a guess).
   */
  private lost(n: number, walk?: { why: string; stoppedAt: number | null }): ExhibitError {
    const at = n * this.chunkBytes;
    const chunk = `EWF chunk ${n} (media bytes ${at} to ${Math.min(at + this.chunkBytes, this.size)})`;
    const damage = this.damage.map((d) => d.message).join('; ');
    if (walk === undefined) return segmentError(this.damage[0]!.reason, `${chunk} is not in the segments given: ${damage}`);
    const what = walk.stoppedAt !== null && n > walk.stoppedAt ? `lies after chunk ${walk.stoppedAt}, where ${walk.why}` : `is not placed: ${walk.why}`;
    return segmentError(this.damage[0]!.reason, `${chunk} ${what}; ${damage}`);
  }

  async read(offset: number, length: number, options?: { abortSignal?: AbortSignal }): Promise<Uint8Array> {
    checkRange(this.size, offset, length, 'EWF media');
    return readPieces(offset, length, this.chunkBytes, async (index, within, count) =>
      (await this.chunk(index, options)).subarray(within, within + count),
    );
  }

  /** EWF data is compressed or interleaved with checksums: never a plain span of a segment. */
  spanInBase(): null {
    return null;
  }
}

/** A part of the media lost with a segment (EwfImage.incomplete). */
export interface EwfDamage {
  reason: 'segment-truncated' | 'segment-missing';
  message: string;
}

/**
 * Numbers the chunk tables of a set with a segment cut short or missing. A table says how many chunks it lists, not
 * which: they are numbered by counting. From the front, up to the first cut or gap (the tables of a cut segment before
 * its cut included); from the back, when the last segment holds the done section, down from the chunk count the volume
 * section declares (when it is the media's), up to the last cut or gap. A table reached from neither side is dropped
 * (its chunks' place is unknown), as are the chunks of a missing segment: those read as failures. The first sectors
 * section of the front's cut segment that no table locates (its table lost with the cut) gets a walk (SectionWalk)
 * numbered from the front's count, reaching up to the first chunk placed from the back: its chunks are placed only as
 * far as their own checksums carry it, the rest read as failures too.
 */
function placeDamagedTables(
  runs: DamagedRun[],
  needed: number,
  declared: number,
  sawDone: boolean,
  walkOf: (untabled: UntabledSectors, firstChunk: number, witnesses: ChunkTable[]) => SectionWalk,
): ChunkTable[] {
  const placed: ChunkTable[] = [];
  let next = 0;
  let front = 0;
  /** The cut section reached from the front: its first chunk is the count of those its segment's tables and the earlier ones list. */
  let walked: ChunkTable | undefined;
  for (const [i, run] of runs.entries()) {
    if (run.number !== i + 1) break;
    for (const table of run.tables) {
      placed.push({ ...table, firstChunk: next });
      next += table.count;
    }
    front = i + 1;
    if (!run.whole) {
      if (run.untabled && next < needed) {
        const u = run.untabled;
        // The whole tables of the cut segment (else the last of the segment before) witness how this writer lays chunks out.
        const witnesses = run.tables.length > 0 ? run.tables : (runs[i - 1]?.tables.slice(-1) ?? []);
        walked = { segment: u.segment, firstChunk: next, count: 0, entriesOffset: u.start, base: u.start, dataEnd: u.end, inline: false, walk: walkOf(u, next, witnesses) };
      }
      break;
    }
  }
  if (sawDone && declared === needed) {
    let end = needed;
    for (let i = runs.length - 1; i >= front; i -= 1) {
      const run = runs[i]!;
      if (!run.whole) break;
      for (const table of [...run.tables].reverse()) {
        end -= table.count;
        placed.push({ ...table, firstChunk: end });
      }
      // A whole segment after a missing one starts where the gap ends: the ones before the gap are not counted from here.
      if (i > 0 && runs[i - 1]!.number !== run.number - 1) break;
    }
  }
  placed.sort((a, b) => a.firstChunk - b.firstChunk);
  for (const [i, table] of placed.entries()) {
    if (table.firstChunk < 0 || table.firstChunk + table.count > needed || (i > 0 && placed[i - 1]!.firstChunk + placed[i - 1]!.count > table.firstChunk)) {
      throw new ExhibitError('corrupt-file', `EWF chunk tables of the segments given list more chunks than the media of ${needed} chunks holds`);
    }
  }
  if (walked) {
    // The walk may reach up to the next chunk a table places (counted from the back), never into it, nor past the media.
    const after = placed.find((t) => t.firstChunk >= walked.firstChunk)?.firstChunk ?? needed;
    walked.count = after - walked.firstChunk;
    walked.walk!.limitChunks(walked.count);
    if (walked.count > 0) {
      placed.push(walked);
      placed.sort((a, b) => a.firstChunk - b.firstChunk);
    }
  }
  return placed;
}

/** Per segment given: its number, its tables in chain order, whether its chain ran whole, and a cut sectors section's data. */
interface DamagedRun {
  number: number;
  tables: ChunkTable[];
  whole: boolean;
  untabled?: UntabledSectors;
}

/**
 * Why the walk must not place chunks by counting, or null: the walk assumes the writer laid each section's chunks out
 * contiguously and in media order from its data start (ewfacquire does; the format does not require it: a table's
 * offsets may point anywhere). The whole tables read before the cut (`witnesses`) must show that: every one's entries
 * read (checked by their Adler-32), each chunk ending where the next starts and of a chunk's size at most
 * (readTableEntries), its first chunk at its section's data start. With no witness (a cut in the set's first section) nothing says
 * otherwise and the walk runs.
 */
async function laidOutContiguously(
  witnesses: ChunkTable[],
  segments: ByteSource[],
  chunkBytes: number,
  numbered: { number: number }[],
  abortSignal?: AbortSignal,
): Promise<string | null> {
  for (const table of witnesses) {
    const where = `segment ${numbered[table.segment]!.number}'s table of chunks ${table.firstChunk} to ${table.firstChunk + table.count - 1}`;
    if (table.inline || table.dataStart === undefined) return `${where} lies in its table section (not a sectors section)`;
    let locations: ChunkLocation[];
    try {
      locations = await readTableEntries(segments[table.segment]!, table, chunkBytes, { abortSignal });
    } catch (err) {
      // A retryable fault, an abort or a timeout is not the table's: thrown, so the next attempt reads it again (the
      // rule of disk-image.worker.ts hostile()); only the image's own failure is kept as why the walk must not run.
      if (!(err instanceof ExhibitError) || err.retryable || err.code === 'aborted' || err.code === 'timeout') throw err;
      return `${where} cannot be read (${err.message})`;
    }
    if (locations[0]!.offset !== table.dataStart) return `${where} places its first chunk at ${locations[0]!.offset}, not at its sectors section's data start (${table.dataStart})`;
  }
  return null;
}

/** zlib's deflateBound: the most bytes a zlib stream of `n` bytes takes (stored blocks, header and Adler-32). */
function zlibBound(n: number): number {
  return n + (n >>> 12) + (n >>> 14) + (n >>> 25) + 13 + 6;
}

/**
 * The chunks of a cut `sectors` section, found without its table (lost with the cut) by walking its data from its
 * start: each chunk is either a zlib stream (a compressed chunk: inflate must consume a whole stream, ending with its
 * good Adler-32, to exactly the chunk's size) or the chunk's bytes followed by their Adler-32 (a stored chunk; a
 * compressed image stores a chunk so when compression does not help). The chunk's form is told from its bytes and
 * accepted only when its own checksum verifies; the next chunk starts where it ends, and the chunks are numbered on
 * from the section's first (the count of those the tables before it list). The walk stops at the first chunk that
 * verifies in neither form (or in both: no guess), that the end of the data cuts, or past
 * LIMITS.maxEwfCutSectionWalkBytes or LIMITS.maxEwfCutSectionWalkChunks: that chunk and every one after it stay lost. Lazy and serial: a read walks only as
 * far as its chunk, in windows of LIMITS.ewfCutWalkWindowBytes through the segment's source, in the disk parser thread.
 */
export class SectionWalk {
  private readonly found: ChunkLocation[] = [];
  private offset: number;
  private stop: string | null = null;
  private pending: Promise<void> = Promise.resolve();
  private window: { start: number; bytes: Uint8Array } = { start: 0, bytes: new Uint8Array(0) };
  private maxChunks = Number.MAX_SAFE_INTEGER;
  private readonly limitEnd: number;
  /** Chunk bytes checked so far (each chunk's size once): the walk's CPU grows with it, not with the section's bytes. */
  private checked = 0;
  private layoutChecked = false;

  constructor(
    private readonly source: ByteSource,
    private readonly untabled: UntabledSectors,
    private readonly firstChunk: number,
    private readonly chunkBytes: number,
    private readonly mediaBytes: number,
    private readonly segmentNumber: number,
    /** Why chunks cannot be placed by counting here (laidOutContiguously), or null; asked once, before the first chunk. */
    private readonly layout: (abortSignal?: AbortSignal) => Promise<string | null> = async () => null,
  ) {
    this.offset = untabled.start;
    this.limitEnd = Math.min(untabled.end, untabled.start + LIMITS.maxEwfCutSectionWalkBytes);
  }

  /** The media chunk the walk stopped at (null while it has not). */
  get stoppedAt(): number | null {
    return this.stop === null ? null : this.firstChunk + this.found.length;
  }

  /** The walk places at most `count` chunks (up to the next chunk a table places, or the media's end). */
  limitChunks(count: number): void {
    this.maxChunks = count;
  }

  /** Where the walk's chunk `i` (media chunk firstChunk + i) lies, or why it is lost. */
  async locate(i: number, options?: { abortSignal?: AbortSignal }): Promise<ChunkLocation | string> {
    const step = this.pending.then(() => this.walkTo(i, options));
    this.pending = step.then(
      () => undefined,
      () => undefined,
    );
    await step;
    return this.found[i] ?? this.stop ?? `EWF chunk ${this.firstChunk + i} is past the cut sectors section`;
  }

  private async walkTo(i: number, options?: { abortSignal?: AbortSignal }): Promise<void> {
    if (!this.layoutChecked) {
      const refused = await this.layout(options?.abortSignal);
      this.layoutChecked = true;
      if (refused !== null) {
        this.stop = `the cut sectors section of segment ${this.segmentNumber} (data from ${this.untabled.start}, its table lost) is not walked: its chunks are placed by counting from its start, which holds only when the writer lays chunks out contiguously and in order, and ${refused}`;
      }
    }
    while (this.found.length <= i && this.stop === null) {
      options?.abortSignal?.throwIfAborted();
      await this.step(options);
    }
  }

  private async step(options?: { abortSignal?: AbortSignal }): Promise<void> {
    const n = this.firstChunk + this.found.length;
    const where = `the walk of segment ${this.segmentNumber}'s cut sectors section (data from ${this.untabled.start}, its table lost) ${this.found.length === 0 ? 'placed no chunk' : `placed chunks ${this.firstChunk} to ${n - 1} by their own checksums`} and stopped at chunk ${n} (at ${this.offset})`;
    if (this.found.length >= this.maxChunks) {
      this.stop = `${where}: the chunks after it are placed by the tables or past the media`;
      return;
    }
    if (this.found.length >= LIMITS.maxEwfCutSectionWalkChunks) {
      this.stop = `${where}: the walk of a section places at most LIMITS.maxEwfCutSectionWalkChunks (${LIMITS.maxEwfCutSectionWalkChunks}) chunks`;
      return;
    }
    const expected = Math.min(this.chunkBytes, this.mediaBytes - n * this.chunkBytes);
    // Checking a chunk costs its size (inflate, Adler-32) whatever it takes in the section: large chunks of forged or
    // sparse data would otherwise cost minutes within the byte limit and end the volume under the parser's step deadline.
    if (this.checked + expected > LIMITS.maxEwfCutSectionWalkCheckedBytes) {
      this.stop = `${where}: the walk of a section checks at most LIMITS.maxEwfCutSectionWalkCheckedBytes (${LIMITS.maxEwfCutSectionWalkCheckedBytes} bytes) of chunks`;
      return;
    }
    this.checked += expected;
    const most = Math.min(Math.max(zlibBound(expected), expected + 4), this.limitEnd - this.offset);
    const bytes = most > 0 ? await this.bytesAt(this.offset, most, options) : new Uint8Array(0);
    const verdict = recogniseChunk(bytes, expected, this.chunkBytes);
    if (typeof verdict === 'string') {
      const atLimit = this.limitEnd < this.untabled.end && bytes.length < Math.max(zlibBound(expected), expected + 4);
      this.stop = `${where}: ${atLimit && verdict.includes('cut by the end') ? `the walk of a section stops after LIMITS.maxEwfCutSectionWalkBytes (${LIMITS.maxEwfCutSectionWalkBytes} bytes)` : verdict}`;
      return;
    }
    this.found.push({ segment: this.untabled.segment, offset: this.offset, size: verdict.size, compressed: verdict.compressed });
    this.offset += verdict.size;
  }

  /** `length` bytes at `offset`, from the current window or a new one read from `offset` (bounded, never the whole section). */
  private async bytesAt(offset: number, length: number, options?: { abortSignal?: AbortSignal }): Promise<Uint8Array> {
    const w = this.window;
    if (offset >= w.start && offset + length <= w.start + w.bytes.length) return w.bytes.subarray(offset - w.start, offset - w.start + length);
    const size = Math.min(Math.max(LIMITS.ewfCutWalkWindowBytes, 2 * length), this.limitEnd - offset);
    this.window = { start: offset, bytes: await this.source.read(offset, size, options) };
    return this.window.bytes.subarray(0, length);
  }
}

/**
 * The form of the chunk `bytes` start with, by its own checksum: stored (`expected` bytes and their Adler-32) or a zlib
 * stream inflating to exactly `expected` bytes (its Adler-32 checked by inflate); why not, when neither or both verify.
 */
export function recogniseChunk(bytes: Uint8Array, expected: number, chunkBytes: number): { size: number; compressed: boolean } | string {
  const forms: { size: number; compressed: boolean }[] = [];
  if (bytes.length >= expected + 4 && adler32(bytes.subarray(0, expected)) === view(bytes).getUint32(expected, true)) forms.push({ size: expected + 4, compressed: false });
  let zlibProblem = 'not a zlib stream';
  // A zlib header (RFC 1950): deflate, its check bits, no preset dictionary.
  if (bytes.length >= 2 && (bytes[0]! & 0x0f) === 8 && bytes[0]! >> 4 <= 7 && ((bytes[0]! << 8) | bytes[1]!) % 31 === 0 && (bytes[1]! & 0x20) === 0) {
    try {
      const { buffer, engine } = inflateSync(bytes, { maxOutputLength: chunkBytes, info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      if (buffer.length === expected) forms.push({ size: engine.bytesWritten, compressed: true });
      else zlibProblem = `its zlib stream inflates to ${buffer.length} bytes, not ${expected}`;
    } catch (err) {
      const code = (err as { code?: string }).code;
      zlibProblem =
        code === 'ERR_BUFFER_TOO_LARGE'
          ? `its zlib stream inflates to more than the chunk's ${chunkBytes} bytes`
          : `its zlib stream does not inflate (${errorMessage(err)})`;
      if (/unexpected end of file/.test(errorMessage(err)) && bytes.length < expected + 4) return `it is cut by the end of the data (${bytes.length} bytes left)`;
    }
  }
  if (forms.length === 1) return forms[0]!;
  if (forms.length === 2) return 'it verifies both as a stored chunk and as a zlib stream: its form is not known';
  if (bytes.length < expected + 4 && zlibProblem === 'not a zlib stream') return `it is cut by the end of the data (${bytes.length} bytes left)`;
  return `it verifies neither as ${expected} stored bytes with their Adler-32 nor as a compressed chunk (${zlibProblem})`;
}

/**
 * The segment's sections wholly present, and, when the segment ends before its chain does (a descriptor or a section
 * running past its end), why: the sections before the cut are kept, the rest of the segment is lost (EwfImage.open).
 */
async function readSectionChain(
  source: ByteSource,
  segmentNumber: number,
  options: { abortSignal?: AbortSignal },
): Promise<{ sections: Section[]; cut: string | null; cutSection?: Section }> {
  const sections: Section[] = [];
  let offset = FILE_HEADER_BYTES;
  for (;;) {
    if (offset + SECTION_BYTES > source.size) {
      return { sections, cut: `EWF segment ${segmentNumber} is truncated: section descriptor at ${offset} lies past its end (${source.size} bytes)` };
    }
    const bytes = await source.read(offset, SECTION_BYTES, options);
    const dv = view(bytes);
    if (adler32(bytes.subarray(0, 72)) !== dv.getUint32(72, true)) {
      throw new ExhibitError('corrupt-file', `EWF segment ${segmentNumber}: section descriptor at ${offset} fails its Adler-32`);
    }
    const type = ascii(bytes.subarray(0, 16)).replace(/\0.*$/s, '');
    const next = u64(dv, 16);
    const size = u64(dv, 24);
    if (type === 'done' || type === 'next') {
      sections.push({ type, offset, size });
      break;
    }
    if (size < SECTION_BYTES) throw new ExhibitError('corrupt-file', `EWF segment ${segmentNumber}: section '${type}' of ${size} bytes at ${offset}`);
    if (offset + size > source.size) {
      return {
        sections,
        cut: `EWF segment ${segmentNumber}: section '${type}' of ${size} bytes at ${offset} runs past the segment end (${source.size} bytes): truncated`,
        cutSection: { type, offset, size },
      };
    }
    sections.push({ type, offset, size });
    // Strictly forward: a chain that points back (a loop) or nowhere ends the image as corrupt.
    if (next <= offset) throw new ExhibitError('corrupt-file', `EWF segment ${segmentNumber}: section '${type}' points back to ${next}`);
    offset = next;
    if (sections.length > 1_000_000) throw new ExhibitError('limit-exceeded', `EWF segment ${segmentNumber} has more than a million sections`);
  }
  return { sections, cut: null };
}

async function readTableHeader(
  source: ByteSource,
  segment: number,
  dataOffset: number,
  dataSize: number,
  firstChunk: number,
  dataEnd: number,
  inline: boolean,
  options: { abortSignal?: AbortSignal },
): Promise<ChunkTable> {
  if (dataSize < TABLE_HEADER_BYTES) throw new ExhibitError('corrupt-file', `EWF table section too small (${dataSize} bytes)`);
  const bytes = await source.read(dataOffset, TABLE_HEADER_BYTES, options);
  const dv = view(bytes);
  if (adler32(bytes.subarray(0, 20)) !== dv.getUint32(20, true)) throw new ExhibitError('corrupt-file', `EWF table header at ${dataOffset} fails its Adler-32`);
  const count = dv.getUint32(0, true);
  if (count === 0 || TABLE_HEADER_BYTES + count * 4 > dataSize) {
    throw new ExhibitError('corrupt-file', `EWF table at ${dataOffset} lists ${count} chunks in a ${dataSize}-byte section`);
  }
  return { segment, firstChunk, count, entriesOffset: dataOffset + TABLE_HEADER_BYTES, base: u64(dv, 8), dataEnd, inline };
}

/** The table's entries as chunk locations, checked: table2 stands in when the table's checksum fails. */
async function readTableEntries(source: ByteSource, table: ChunkTable, chunkBytes: number, options?: { abortSignal?: AbortSignal }): Promise<ChunkLocation[]> {
  const bytesOf = async (at: number) => {
    const bytes = await source.read(at, table.count * 4 + 4, options);
    return adler32(bytes.subarray(0, table.count * 4)) === view(bytes).getUint32(table.count * 4, true) ? bytes : null;
  };
  /**
   * SMART and EnCase 1 write no checksum after the entries: the first chunk starts right where
   * they end, which is how such a table is told from a damaged one. Each chunk still carries its
   * own check (a stored chunk's Adler-32, a compressed chunk's zlib Adler-32).
   */
  const unchecked = async () => {
    if (!table.inline) return null;
    const bytes = await source.read(table.entriesOffset, table.count * 4, options);
    return table.base + (view(bytes).getUint32(0, true) & 0x7fffffff) === table.entriesOffset + table.count * 4 ? bytes : null;
  };
  const entries =
    (await bytesOf(table.entriesOffset)) ?? (table.mirrorEntriesOffset !== undefined ? await bytesOf(table.mirrorEntriesOffset) : null) ?? (await unchecked());
  if (!entries) throw new ExhibitError('corrupt-file', `EWF chunk table of segment ${table.segment + 1} fails its Adler-32 (and has no good table2)`);
  const dv = view(entries);
  const locations: ChunkLocation[] = [];
  for (let i = 0; i < table.count; i += 1) {
    const raw = dv.getUint32(i * 4, true);
    // The top bit flags compression; the remaining 31 bits are the offset from the table's base.
    const offset = table.base + (raw & 0x7fffffff);
    const end = i + 1 < table.count ? table.base + (dv.getUint32((i + 1) * 4, true) & 0x7fffffff) : table.dataEnd;
    const size = end - offset;
    if (size <= 0 || size > chunkBytes + 4 + 1024 || end > source.size) {
      throw new ExhibitError('corrupt-file', `EWF chunk ${table.firstChunk + i}: table gives ${size} bytes at ${offset} (segment of ${source.size} bytes)`);
    }
    locations.push({ segment: table.segment, offset, size, compressed: (raw & 0x80000000) !== 0 });
  }
  return locations;
}

function parseHeaderSection(compressed: Uint8Array, utf16: boolean): EwfHeader {
  let bytes: Buffer;
  try {
    bytes = inflateSync(compressed, { maxOutputLength: 1024 * 1024 });
  } catch (err) {
    throw new ExhibitError('corrupt-file', `EWF header does not inflate: ${errorMessage(err)}`, { cause: err });
  }
  // header2 is UTF-16 written by the acquiring tool: a lone surrogate is
  // escaped visibly (\u{d800}) so the header can be kept in custody and the
  // index (jsonb refuses `\ud800`, a text column would get U+FFFD).
  let text = utf16 ? escapeLoneSurrogates(bytes.toString('utf16le')) : bytes.toString('latin1');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  const keys = (lines[2] ?? '').split('\t');
  const values = (lines[3] ?? '').split('\t');
  const pairs: Record<string, string> = {};
  keys.forEach((key, i) => {
    if (key) pairs[key] = values[i] ?? '';
  });
  const nonEmpty = (key: string) => (pairs[key] ? pairs[key] : undefined);
  const header: EwfHeader = { values: pairs };
  const assign = <K extends keyof EwfHeader>(field: K, value: EwfHeader[K] | undefined) => {
    if (value !== undefined) header[field] = value;
  };
  assign('caseNumber', nonEmpty('c'));
  assign('evidenceNumber', nonEmpty('n'));
  assign('description', nonEmpty('a'));
  assign('examiner', nonEmpty('e'));
  assign('notes', nonEmpty('t'));
  assign('acquiringSoftwareVersion', nonEmpty('av'));
  assign('operatingSystem', nonEmpty('ov'));
  assign('acquisitionDate', headerDate(pairs['m'], 'ewf-header:m'));
  assign('systemDate', headerDate(pairs['u'], 'ewf-header:u'));
  return header;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** header2: Unix seconds (UTC). header: "YYYY M D h m s", the acquiring machine's wall clock, zone unknown. */
function headerDate(value: string | undefined, source: string): RecordedTime | undefined {
  if (!value) return undefined;
  if (/^\d{1,12}$/.test(value.trim())) {
    const date = new Date(Number(value.trim()) * 1000);
    if (Number.isNaN(date.getTime())) return undefined;
    const utc = date.toISOString().replace('.000Z', 'Z');
    return { local: utc.slice(0, -1), offsetMinutes: 0, utc, source };
  }
  const parts = value.trim().split(/\s+/).map(Number);
  if (parts.length !== 6 || parts.some((p) => !Number.isInteger(p))) return undefined;
  const [y, mo, d, h, mi, s] = parts as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  return { local: `${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}`, offsetMinutes: null, utc: null, source };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
