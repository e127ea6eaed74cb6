import type { ArchiveTimes, DiskVolumeInfo, RecordedTime } from '@exhibit/core';

/**
 * The contracts shared by the disk-image readers (issue 15): containers (raw,
 * split raw, EWF, VHD) expose the media as a ByteSource, volume systems (MBR,
 * GPT) cut it into volumes, and file systems (FAT, exFAT, NTFS, ext) list
 * entries. Everything read through these is hostile evidence: no offset,
 * size, count or name from the image is trusted before a named limit checks it.
 */

/** Random-access bytes: a blob, a local file, an EWF image's media, one partition. */
export interface ByteSource {
  /** Bytes this source holds; reads must lie inside [0, size). */
  readonly size: number;
  /**
   * Exactly `length` bytes from `offset`. A range outside the source is an
   * ExhibitError 'corrupt-file' (never a short read, never a read outside);
   * storage faults are retryable ExhibitErrors.
   */
  read(offset: number, length: number, options?: { abortSignal?: AbortSignal }): Promise<Uint8Array>;
  /**
   * Where [offset, offset+length) lies contiguously and unchanged in the
   * underlying evidence blob (raw image, fixed VHD, a partition of those), so a
   * member can be recorded as a span of the blob; null when it does not (EWF
   * chunks, dynamic VHD blocks that are not contiguous, sparse runs).
   */
  spanInBase?(offset: number, length: number): { offset: number; length: number } | null;
}

/** One volume of a disk: a partition, or the whole media when there is no partition table (its place, core's DiskVolumeInfo). */
export interface DiskVolume extends DiskVolumeInfo {
  source: ByteSource;
  /** The partition table entry it comes from ('mbr 1', 'ebr 0', 'gpt 3'), as volume problems name it; absent for the whole media. */
  entry?: string;
  /**
   * The volume's bytes read on past its partition entry, up to `bytes` or the end of the media,
   * whichever comes first: for a file system that declares more than its entry (TSK reads a file
   * system up to the end of the image, not of the partition). Absent for the whole media.
   */
  readOnTo?(bytes: number): ByteSource;
}

export type FileSystemType = 'fat12' | 'fat16' | 'fat32' | 'exfat' | 'ntfs' | 'ext2' | 'ext3' | 'ext4';

/** The times a file system records, as recorded (FAT: local time, offset unknown; never shifted). */
export type FileSystemTimes = ArchiveTimes & { deleted?: RecordedTime };

export interface FileSystemEntry {
  /**
   * Full path from the file-system root, '/'-separated, without a leading
   * slash, in the form The Sleuth Kit's `fls -r -p` prints (NTFS alternate
   * data streams as `path:stream`).
   */
  path: string;
  /** The entry's address as TSK prints it (inode, MFT record, FAT directory-entry address). */
  entryId: string;
  /** Allocated in the file system; false for a deleted entry whose metadata is still there. */
  allocated: boolean;
  /** Set for deleted entries whose data was read back as far as the structures describe it. */
  recovered: boolean;
  kind: 'file' | 'directory' | 'symlink' | 'other';
  /** Size the file system records for the data read by open(). */
  size: number;
  times: FileSystemTimes;
  /** NTFS alternate data stream name, when this entry is one. */
  stream?: string;
  /** Why this entry's data could not be read (cross-linked, run outside the volume…), when it could not. */
  problem?: { code: 'corrupt-file' | 'limit-exceeded' | 'unsupported-format'; message: string };
  /** The data as random access (sparse runs read as zeros); absent for directories and unreadable entries. */
  data?(): ByteSource;
}

export interface FileSystemReader {
  readonly type: FileSystemType;
  /** Volume label as recorded, when the file system has one. */
  readonly label?: string;
  /**
   * A finding about the volume as a whole that does not stop the listing (an ext
   * volume declaring more blocks than the image holds): reported with the volume,
   * while what the volume does hold is listed.
   */
  readonly problem?: { code: 'corrupt-file' | 'limit-exceeded' | 'unsupported-format'; message: string };
  /**
   * How the volume was read with nothing failing, found while entries() runs (FAT: the check for directories
   * cross-linked by FAT links not made, and why): recorded as volume notes (volumeNoteText), never as a problem.
   * Read once the listing ends.
   */
  readonly notes?: readonly { code: string; message: string }[];
  /**
   * Every entry reachable from the root, allocated and deleted, in a stable
   * order (depth first, directory order). Loops, cross-links and absurd counts
   * end a branch with a problem on the affected entry, never a hang.
   */
  entries(options?: { abortSignal?: AbortSignal }): AsyncIterable<FileSystemEntry>;
}
