import { Readable } from 'node:stream';
import { ExhibitError, errorMessage, isExhibitError, type BlobRef, type BlobStore, type DiskImageVolume, type FileFlag } from '@exhibit/core';
import { ENTRIES_PER_TURN, nextTurn, type ArchiveEntry, type ArchiveReader } from '../archive/archive-reader.js';
import { analyseEntryName, DuplicateNameTracker } from '../archive/entry-name.js';
import { BlobByteSource, SliceByteSource } from './byte-source.js';
import type { ByteSource, FileSystemEntry } from './disk-reader.types.js';
import { fileSystems, openDiskImage, verifyStoredHashes, type DiskImage, type StoredHashCheck } from './open-disk-image.js';

/**
 * A disk image seen as an archive (docs/disk-images.md, "In the pipeline"):
 * every entry the file-system readers list, volume after volume, becomes an
 * ArchiveEntry, so the unpack stage stores, counts, budgets and hands off its
 * files exactly as it does a ZIP's members. The image is read through ranged
 * reads of the evidence blob (BlobByteSource: a few cached blocks), never
 * copied; a file lying contiguous in a raw or fixed-VHD image is a span of
 * the blob (`storedSpan`, like a stored ZIP member), anything else (EWF
 * chunks, fragmented or compressed data) is read through the readers and
 * copied to derived/ by the member store.
 *
 * One bad volume never stops the others: its failure is kept (volumes()) and
 * the listing goes on with the next volume.
 */

/** Bytes read from a file's data per chunk of its stream (below LIMITS.maxDiskReadBytes). */
const MEMBER_CHUNK_BYTES = 1024 * 1024;
/** Longest symlink target read as the link's recorded target. */
const MAX_LINK_TARGET_BYTES = 4096;

export interface DiskImageReader extends ArchiveReader {
  readonly format: 'disk-image';
  readonly image: DiskImage;
  /** Each volume with the file system read and entries listed so far, or why it was not read. */
  volumes(): DiskImageVolume[];
  /** Hashes the media through the container and compares with what an EWF image stores. */
  verify(options?: { abortSignal?: AbortSignal }): Promise<StoredHashCheck>;
}

export interface OpenDiskImageOptions {
  /** The image's own bytes: the whole blob, or (nested in a stored ZIP member) a span of it. */
  offset?: number;
  size: number;
  etag?: string;
  maxEntryNameBytes: number;
  abortSignal?: AbortSignal;
}

/** Opens the container and volume system (the file systems are opened as entries() reaches them). */
export async function openDiskImageReader(blobs: BlobStore, blob: BlobRef, blobSize: number, options: OpenDiskImageOptions): Promise<DiskImageReader> {
  const signal = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  const whole = new BlobByteSource(blobs, blob, blobSize, { ...(options.etag ? { etag: options.etag } : {}), ...signal });
  const offset = options.offset ?? 0;
  const source: ByteSource = offset === 0 && options.size === blobSize ? whole : new SliceByteSource(whole, offset, options.size);
  const image = await openDiskImage([source], signal);
  return new BlobDiskImageReader(image, offset, options.maxEntryNameBytes);
}

class BlobDiskImageReader implements DiskImageReader {
  readonly format = 'disk-image' as const;
  private readonly listed: DiskImageVolume[] = [];

  constructor(
    readonly image: DiskImage,
    /** Where the image starts in its blob: spans are given relative to the image, as a ZIP's are. */
    private readonly imageOffset: number,
    private readonly maxEntryNameBytes: number,
  ) {}

  volumes(): DiskImageVolume[] {
    const seen = new Set(this.listed.map((v) => v.index));
    // Volumes entries() never reached (a stop before them) are listed unread.
    const unread = this.image.volumeSystem.volumes
      .filter((v) => !seen.has(v.index))
      .map((v) => ({ index: v.index, offset: v.offset, size: v.size, scheme: v.scheme, type: v.type, label: v.label, fileSystem: null, problem: null, entries: 0 }));
    return [...this.listed, ...unread].map((v) => ({ ...v }));
  }

  verify(options: { abortSignal?: AbortSignal } = {}): Promise<StoredHashCheck> {
    return verifyStoredHashes(this.image, options);
  }

  async close(): Promise<void> {}

  async *entries(options: { abortSignal?: AbortSignal } = {}): AsyncGenerator<ArchiveEntry> {
    const several = this.image.volumeSystem.volumes.length > 1;
    const duplicates = new DuplicateNameTracker();
    let index = 0;
    for await (const fs of fileSystems(this.image, options)) {
      const v = fs.volume;
      const listed: DiskImageVolume = {
        index: v.index,
        offset: v.offset,
        size: v.size,
        scheme: v.scheme,
        type: v.type,
        label: v.label,
        fileSystem: null,
        problem: null,
        entries: 0,
      };
      this.listed.push(listed);
      if ('problem' in fs) {
        listed.problem = { ...fs.problem };
        continue;
      }
      listed.fileSystem = fs.reader.type;
      try {
        for await (const entry of fs.reader.entries(options)) {
          if (index > 0 && index % ENTRIES_PER_TURN === 0) await nextTurn();
          options.abortSignal?.throwIfAborted();
          const prefix = several ? `vol${v.index}/` : '';
          const member = await this.toArchiveEntry(entry, index, prefix, duplicates);
          index += 1;
          listed.entries += 1;
          yield member;
        }
      } catch (err) {
        // A hostile structure ends this volume only; storage faults and aborts end the unpack.
        if (!isExhibitError(err) || err.retryable || err.code === 'aborted' || err.code === 'timeout') throw err;
        if (err.details?.['scope'] === 'archive') throw err;
        listed.problem = { code: err.code, message: errorMessage(err) };
      }
    }
  }

  private async toArchiveEntry(entry: FileSystemEntry, index: number, prefix: string, duplicates: DuplicateNameTracker): Promise<ArchiveEntry> {
    // The readers' paths are hostile text like any archive's names: normalised and escaped the same way.
    const { flags: nameFlags, ...naming } = analyseEntryName(`${prefix}${entry.path}`, { maxNameBytes: this.maxEntryNameBytes, entryIndex: index });
    const flags = new Set<FileFlag>(nameFlags);
    if (!entry.allocated) flags.add('deleted');
    if (entry.recovered) flags.add('recovered');
    if (entry.problem?.code === 'limit-exceeded') flags.add('limit-exceeded');
    const duplicateOf = duplicates.check(naming.displayPath, index);
    if (duplicateOf !== undefined) flags.add('duplicate-name');
    const { deleted: _deleted, ...times } = entry.times;
    const kind = entry.kind;
    const imageOffset = this.imageOffset;
    const out: ArchiveEntry = {
      ...naming,
      index,
      kind,
      declaredSize: entry.size,
      compressedSize: null,
      times,
      flags: [...flags],
      ...(duplicateOf !== undefined ? { duplicateOf } : {}),
      encrypted: false,
      async open() {
        if (entry.problem) throw new ExhibitError(entry.problem.code, `${entry.path}: ${entry.problem.message}`);
        if (!entry.data) throw new ExhibitError('corrupt-file', `${entry.path}: the file system describes no data for this entry`);
        const data = entry.data();
        const span = data.size > 0 ? data.spanInBase?.(0, data.size) : null;
        // A raw image split over several blobs gives the segment index; only the first segment is this blob.
        if (span && ((span as { segment?: number }).segment ?? 0) === 0 && span.offset >= imageOffset) {
          out.storedSpan = { offset: span.offset - imageOffset, length: span.length };
        }
        return Readable.from(chunksOf(data));
      },
    };
    if (kind === 'symlink') {
      out.flags.push('link');
      // The target as recorded (ext keeps it as the link's data); never followed.
      if (entry.data && !entry.problem && entry.size <= MAX_LINK_TARGET_BYTES) {
        try {
          out.linkTarget = Buffer.from(await entry.data().read(0, entry.size)).toString('utf8');
        } catch (err) {
          if (!isExhibitError(err) || err.retryable) throw err;
        }
      }
    }
    return out;
  }
}

async function* chunksOf(data: ByteSource): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.size; at += MEMBER_CHUNK_BYTES) {
    const bytes = await data.read(at, Math.min(MEMBER_CHUNK_BYTES, data.size - at));
    yield Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}
