import type { FileKind, ToolVersion } from '@exhibit/core';

/** The shape of samples/expected.json; samples/README.md explains every field. */
export interface SampleManifest {
  format: 'exhibit-samples/1';
  caseId: string;
  /** Tools whose versions decide the bytes of files marked reproducible: 'same-tools'. */
  generatedWith: ToolVersion[];
  evidence: SampleEvidence[];
}

export interface SampleEvidence {
  evidenceId: string;
  /** Blobs uploaded as `<caseId>/<evidenceId>/<fileName>`, read from samples/extraction/. */
  uploads: SampleUpload[];
  /** Every file occurrence the pipeline should index: the uploads and every archive member with content. */
  files: SampleFile[];
  /** Directory entries recorded inside archives (no content, nothing to hash). */
  directories: SampleDirectory[];
}

export interface SampleUpload {
  fileName: string;
  md5: string;
  sha1: string;
  sha256: string;
  size: number;
}

export type ThumbnailExpectation = 'image' | 'exif-preview' | 'contact-sheet' | 'none' | 'fail';

export interface RecordedWallClock {
  /** 'YYYY-MM-DDTHH:mm:ss' exactly as recorded. */
  local: string;
  /** null when the source recorded no offset. */
  offsetMinutes: number | null;
}

export interface FileExpectation {
  /** 0 for an upload, +1 per archive level. */
  depth: number;
  thumbnail: ThumbnailExpectation;
  failure?: 'decode-failed';
  /** The name's extension does not fit the content signature. */
  extMismatch: boolean;
  /** Capture time as recorded: EXIF DateTimeOriginal, or the QuickTime creation time as written (no zone). */
  takenAtLocal?: string;
  offsetMinutes?: number | null;
  /** 'YYYY-MM-DDTHH:mm:ssZ' when the offset is known, else null. */
  takenAtUtc?: string | null;
  /** Signed decimal degrees (south and west negative). */
  gps?: { lat: number; lon: number };
  make?: string;
  model?: string;
  /** Stored pixel dimensions, before any EXIF orientation is applied. */
  width?: number;
  height?: number;
  orientation?: number;
  /** As ffprobe reports the container duration, rounded to milliseconds. */
  durationSec?: number;
  /** The member's modification time as its archive records it (zip: local DOS time; tar: UTC). */
  archiveModified?: RecordedWallClock;
  /**
   * Camera JPEGs with an EXIF preview that decodes: true when the main image was edited after
   * the preview was made (the pipeline's `preview-differs` finding), false when it is as taken.
   */
  previewDiffers?: boolean;
  /** This file is a resized, recompressed copy of that one (display path, same evidence item): PDQ finds the pair with `similar`. */
  nearDuplicateOf?: string;
  /** For archives and disk images: entries directly inside (not counting nested archives' contents). */
  members?: { files: number; directories: number };
  /** A member whose directory entry was deleted (FAT: first byte 0xE5, so its name starts with '_'). */
  deleted?: boolean;
  /** Its data was read back from where the deleted entry says it was. */
  recovered?: boolean;
  /** For disk images: what the pipeline should find about the image itself. */
  disk?: DiskExpectation;
}

export interface DiskExpectation {
  format: 'ewf' | 'raw';
  /** One volume, no partition table. */
  fileSystem: 'fat32' | 'ext4';
  label: string;
  /** Entries listed (files, deleted files and directories; not the volume label or TSK's virtual files). */
  entries: number;
  /** The media (the disk the E01 holds): its hashes, which the E01 also stores. */
  media: { md5: string; sha1: string; sha256: string; size: number };
  /** EWF: the header as written. */
  ewfHeader?: { caseNumber: string; evidenceNumber: string; description: string; examiner: string; notes: string; acquiredAt: string };
}

export interface SampleFile {
  /** Display path: the upload's name, members as `<archive path>!/<member path>`. */
  path: string;
  sha256: string;
  size: number;
  kind: FileKind;
  mime: string | null;
  /**
   * 'bytes': regenerating gives the same bytes wherever the locked npm
   * packages are installed (sharp-made JPEGs, text). 'same-tools': only with
   * the same ffmpeg/x264, libheif/x265 and zlib builds on the same CPU model
   * (see generatedWith).
   */
  reproducible: 'bytes' | 'same-tools';
  expect: FileExpectation;
}

export interface SampleDirectory {
  /** Display path without the trailing '/' the archive stores. */
  path: string;
  depth: number;
  archiveModified: RecordedWallClock;
}
