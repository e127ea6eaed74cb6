import { ExhibitError, errorMessage, isExhibitError } from '@exhibit/core';
import { ParallelHasher } from '../multi-hash.js';
export { incompleteMediaDetail, storedHashesCheckable, storesHashes } from './disk-image.tasks.js';
import type { ByteSource, DiskVolume, FileSystemReader } from './disk-reader.types.js';
import { EWF1_SIGNATURE, EWF2_SIGNATURE, EwfImage, LEF1_SIGNATURE, LEF2_SIGNATURE, startsWith, type EwfDamage, type EwfHeader, type EwfStoredHashes } from './ewf-image.container.js';
import { declaredExfatBytes, openExfat, probeExfat } from './exfat.reader.js';
import { extFileSystem } from './ext.reader.js';
import { declaredFatBytes, openFat, probeFat } from './fat.reader.js';
import { ntfsFileSystem } from './ntfs.reader.js';
import { checkSplitRawSizes, RawImage } from './raw-image.container.js';
import { readVolumeSystem, type FoundFileSystem, type VolumeProblem, type VolumeSystem } from './volume-system.reader.js';
import { VHD_FOOTER_BYTES, VhdImage, isVhdFooter, isVhdx } from './vhd-image.container.js';

/**
 * The one entry point for a disk image: segment sources in → container
 * detected from content (never the extension) → volumes → a file-system
 * reader per volume, chosen by the probes in FILE_SYSTEMS.
 */

type Options = { abortSignal?: AbortSignal };

/** A file-system implementation: `probe` reads only the boot sector/superblock; `open` checks it properly. */
export interface FileSystemModule {
  /** Short name for reports ('fat', 'exfat', 'ntfs', 'ext'). */
  type: string;
  probe(source: ByteSource, options?: Options): Promise<boolean>;
  open(source: ByteSource, options?: Options): Promise<FileSystemReader>;
  /** The size the boot sector/superblock declares for the file system, in bytes (undefined when not read): whether it fills its partition places MBR entries. */
  declaredBytes(source: ByteSource, options?: Options): Promise<number | undefined>;
}

/** The file systems tried on each volume, in order. Add a reader by adding its module here. */
export const FILE_SYSTEMS: FileSystemModule[] = [
  // NTFS first: its boot sector also ends in 0x55AA (FAT and exFAT reject the 'NTFS    ' OEM name too).
  ntfsFileSystem,
  { type: 'fat', probe: probeFat, open: openFat, declaredBytes: declaredFatBytes },
  { type: 'exfat', probe: probeExfat, open: openExfat, declaredBytes: declaredExfatBytes },
  extFileSystem,
];

export type ContainerFormat = 'raw' | 'split-raw' | 'ewf' | 'vhd-fixed' | 'vhd-dynamic';

export interface DiskImage {
  format: ContainerFormat;
  /** The media (the disk as acquired). */
  media: ByteSource;
  segmentCount: number;
  /**
   * EWF only: what the acquisition recorded; `incomplete` when a segment is cut short or missing (what is lost reads as
   * failures, and the stored hashes, of the whole media, cannot be checked: storedHashesCheckable).
   */
  ewf?: { header: EwfHeader; storedHashes: EwfStoredHashes; chunkBytes: number; bytesPerSector: number; incomplete?: EwfDamage[] };
  /**
   * Any container: why part of the media is lost, when it is (an EWF segment cut short or missing, as ewf.incomplete; a
   * split raw piece before the last whose tail was lost, checkSplitRawSizes). The lost bytes read as failures with the
   * reason, everything else as from the whole set; the image is damaged media (disk-image.record.ts).
   */
  incomplete?: EwfDamage[];
  volumeSystem: VolumeSystem;
}

export type OpenedFileSystem =
  | { volume: DiskVolume; type: string; reader: FileSystemReader }
  | { volume: DiskVolume; type?: string; problem: { code: 'corrupt-file' | 'unsupported-format' | 'limit-exceeded'; message: string } };

/**
 * Which container the segments are. Throws 'unsupported-format' with the
 * reason for formats recognised but not read (Ex01/EWF2, L01, VHDX, differencing VHD).
 */
export async function detectContainer(segments: readonly ByteSource[], options: Options = {}): Promise<'ewf' | 'vhd' | 'raw'> {
  if (segments.length === 0) throw new ExhibitError('invalid-argument', 'a disk image needs at least one segment');
  const first = segments[0]!;
  const head = first.size >= 16 ? await first.read(0, 16, options) : new Uint8Array(0);
  if (startsWith(head, EWF2_SIGNATURE) || startsWith(head, LEF2_SIGNATURE)) {
    throw new ExhibitError('unsupported-format', 'EWF version 2 (Ex01/Lx01) images are not supported');
  }
  if (startsWith(head, LEF1_SIGNATURE)) throw new ExhibitError('unsupported-format', 'EWF logical evidence files (L01) are not supported');
  if (startsWith(head, EWF1_SIGNATURE)) return 'ewf';
  if (isVhdx(head)) throw new ExhibitError('unsupported-format', 'VHDX images are not supported (only VHD)');
  if (segments.length === 1 && first.size >= VHD_FOOTER_BYTES) {
    const tail = await first.read(first.size - VHD_FOOTER_BYTES, 8, options);
    if (isVhdFooter(tail)) return 'vhd';
  }
  // A blank disk or one whose first sector is random is still raw: raw is what remains.
  return 'raw';
}

export interface OpenOptions extends Options {
  /** Puts a source between the media and the volume system (the volume task's in-order media hash, in-order-media.source.ts). */
  wrapMedia?: (media: ByteSource) => ByteSource;
  /** The segments' names, in the order given (files of `exhibit image ls`): named in a split set's failure. */
  segmentNames?: readonly string[];
  /**
   * false: skip the volume system's notes (readPastEntryNotes), which probe each volume read on past its entry again.
   * Only the open whose volume system is recorded (the disk-open task's facts, `exhibit image ls`) needs them; the
   * volume and hash tasks reopen the image for its bytes. Default true.
   */
  volumeNotes?: boolean;
}

/** Opens the container and reads the volume system; file systems are opened by fileSystems(). */
export async function openDiskImage(segments: readonly ByteSource[], options: OpenOptions = {}): Promise<DiskImage> {
  const kind = await detectContainer(segments, options);
  let image: Omit<DiskImage, 'volumeSystem'>;
  if (kind === 'ewf') {
    const ewf = await EwfImage.open(segments, options);
    image = {
      format: 'ewf',
      media: ewf,
      segmentCount: ewf.segmentCount,
      ewf: {
        header: ewf.header,
        storedHashes: ewf.storedHashes,
        chunkBytes: ewf.chunkBytes,
        bytesPerSector: ewf.bytesPerSector,
        ...(ewf.incomplete.length > 0 ? { incomplete: [...ewf.incomplete] } : {}),
      },
      ...(ewf.incomplete.length > 0 ? { incomplete: [...ewf.incomplete] } : {}),
    };
  } else if (kind === 'vhd') {
    const vhd = await VhdImage.open(segments[0]!, options);
    image = { format: vhd.diskType === 'fixed' ? 'vhd-fixed' : 'vhd-dynamic', media: vhd, segmentCount: 1 };
  } else {
    // Every path to a split raw set passes here (the pipeline also checks the blobs' sizes before reading: findImageSegments).
    // A piece before the last whose tail was lost is read with that range failing, the later pieces at their own offsets.
    const loss = checkSplitRawSizes(segments.map((s, i) => ({ size: s.size, ...(options.segmentNames?.[i] !== undefined ? { name: options.segmentNames[i] } : {}) })));
    image = {
      format: segments.length > 1 ? 'split-raw' : 'raw',
      media: new RawImage(segments, loss),
      segmentCount: segments.length,
      ...(loss ? { incomplete: [{ reason: 'segment-truncated' as const, message: loss.message }] } : {}),
    };
  }
  if (options.wrapMedia) image.media = options.wrapMedia(image.media);
  const sectorBytes = image.ewf?.bytesPerSector;
  const volumeSystem = await readVolumeSystem(image.media, (volume) => fileSystemAt(volume, options), { ...options, ...(sectorBytes ? { sectorBytes } : {}) });
  if (options.volumeNotes !== false) volumeSystem.problems.push(...(await readPastEntryNotes(volumeSystem.volumes, options)));
  return { ...image, volumeSystem };
}

/** The file system whose probe matches the volume (as openFileSystem chooses), for the volume system to measure; null when none does. */
async function fileSystemAt(source: ByteSource, options: Options): Promise<FoundFileSystem | null> {
  const module = await probedModule(source, options);
  return module ? { declaredBytes: () => module.declaredBytes(source, options) } : null;
}

/** The first module in FILE_SYSTEMS whose probe matches `source`; a probe failing on hostile bytes is a no. */
async function probedModule(source: ByteSource, options: Options): Promise<FileSystemModule | undefined> {
  for (const module of FILE_SYSTEMS) {
    try {
      if (await module.probe(source, options)) return module;
    } catch (err) {
      if (!isExhibitError(err) || err.retryable) throw err;
    }
  }
  return undefined;
}

/**
 * The bytes a volume's file system is read over: its partition entry's, or more when the file system declares more than
 * the entry and the image holds bytes past it (readOnTo: up to the declared size or the image's end, as TSK reads a file
 * system up to the end of the image). One function for the reading (openFileSystem) and its note (readPastEntryNotes),
 * so the note says what the reading does.
 */
async function readOnExtent(volume: DiskVolume, module: FileSystemModule, options: Options): Promise<{ source: ByteSource; declared: number | undefined }> {
  if (!volume.readOnTo) return { source: volume.source, declared: undefined };
  const declared = await module.declaredBytes(volume.source, options);
  return { source: declared !== undefined && declared > volume.source.size ? volume.readOnTo(declared) : volume.source, declared };
}

/**
 * A note (VolumeProblem 'read-past-entry', isVolumeNote) for each volume whose file system is read on past its partition
 * entry: how far, and which other partition entries those bytes lie in. Reading on spares a file system whose entry is
 * short a false "cut short" (regression fat-partition-entry-shorter-than-volume-false-cut-short), but a forged or wrong
 * declared size then reads the next partition's bytes as this file system's: the examiner is told, on every run (the
 * note is computed from the volume system with the image, never from how far a listing got; regression
 * file-system-read-past-partition-entry-unrecorded). A volume whose file system cannot be measured gets none:
 * openFileSystem reports its problem.
 */
async function readPastEntryNotes(volumes: readonly DiskVolume[], options: Options): Promise<VolumeProblem[]> {
  const notes: VolumeProblem[] = [];
  for (const volume of volumes) {
    if (!volume.readOnTo) continue;
    const module = await probedModule(volume.source, options);
    if (!module) continue;
    let extent: Awaited<ReturnType<typeof readOnExtent>>;
    try {
      extent = await readOnExtent(volume, module, options);
    } catch (err) {
      if (!isExhibitError(err) || err.retryable) throw err;
      continue;
    }
    const past = extent.source.size - volume.size;
    if (past <= 0 || extent.declared === undefined) continue;
    const from = volume.offset + volume.size;
    const to = volume.offset + extent.source.size;
    const overlaps = volumes.filter((other) => other !== volume && other.offset < to && other.offset + other.size > from);
    const named = overlaps.map(
      (o) => `volume ${o.index} (${o.entry ?? o.scheme}, disk bytes ${o.offset} to ${o.offset + o.size}; ${Math.min(to, o.offset + o.size) - Math.max(from, o.offset)} bytes in common)`,
    );
    notes.push({
      where: volume.entry ?? `volume ${volume.index}`,
      code: 'read-past-entry',
      message:
        `volume ${volume.index}: its ${module.type} file system declares ${extent.declared} bytes, its partition entry ${volume.size}: ` +
        `read on ${past} bytes past the entry (disk bytes ${from} to ${to}${extent.declared > extent.source.size ? ', the end of the image' : ''}), as TSK reads it; ` +
        (named.length > 0
          ? `those bytes overlap the partition entry of ${named.join(', ')}: what the file system reads there is that partition's too`
          : 'no other partition entry covers those bytes'),
    });
  }
  return notes;
}

/** Each volume with its file-system reader, or the reason it has none; one bad volume never stops the rest. */
export async function* fileSystems(image: DiskImage, options: Options = {}): AsyncGenerator<OpenedFileSystem> {
  for (const volume of image.volumeSystem.volumes) yield await openFileSystem(volume, options);
}

/** The file-system reader of one volume, chosen by the probes in FILE_SYSTEMS, or the reason it has none. */
export async function openFileSystem(volume: DiskVolume, options: Options = {}): Promise<OpenedFileSystem> {
  const matched = await probedModule(volume.source, options);
  if (!matched) {
    return { volume, problem: { code: 'unsupported-format', message: `no supported file system in volume ${volume.index} (type ${volume.type || 'none'})` } };
  }
  try {
    // A file system declaring more than its partition entry is read on into the image's bytes past the
    // entry, as TSK does (bounded by the image): a file system whose bytes are present is not cut short.
    // The volume system's notes say so (readPastEntryNotes).
    const { source } = await readOnExtent(volume, matched, options);
    return { volume, type: matched.type, reader: await matched.open(source, options) };
  } catch (err) {
    if (!isExhibitError(err) || err.retryable) throw err;
    const code = err.code === 'limit-exceeded' || err.code === 'unsupported-format' ? err.code : 'corrupt-file';
    return { volume, type: matched.type, problem: { code, message: errorMessage(err) } };
  }
}

export interface MediaHashes {
  md5: string;
  sha1: string;
  sha256: string;
  bytes: number;
}

/**
 * MD5, SHA-1 and SHA-256 of the media as read through the container: what an
 * EWF's stored hashes are checked against. Hashed in the hash threads
 * (multi-hash.ts), so a large image does not hold the event loop.
 */
export async function hashMedia(media: ByteSource, options: Options & { chunkBytes?: number } = {}): Promise<MediaHashes> {
  const hasher = new ParallelHasher();
  const step = options.chunkBytes ?? 4 * 1024 * 1024;
  try {
    for (let at = 0; at < media.size; at += step) {
      options.abortSignal?.throwIfAborted();
      await hasher.update(await media.read(at, Math.min(step, media.size - at), options));
    }
    return { ...(await hasher.digest()), bytes: media.size };
  } catch (err) {
    hasher.dispose();
    throw err;
  }
}

export interface StoredHashCheck {
  stored: EwfStoredHashes;
  computed: MediaHashes;
  /** null when the image stores no such hash. */
  md5Matches: boolean | null;
  sha1Matches: boolean | null;
}

/** Hashes an EWF image's media and compares with the hashes stored at acquisition. */
export async function verifyStoredHashes(image: DiskImage, options: Options = {}): Promise<StoredHashCheck> {
  const stored = image.ewf?.storedHashes ?? {};
  const computed = await hashMedia(image.media, options);
  return {
    stored,
    computed,
    md5Matches: stored.md5 ? stored.md5 === computed.md5 : null,
    sha1Matches: stored.sha1 ? stored.sha1 === computed.sha1 : null,
  };
}
