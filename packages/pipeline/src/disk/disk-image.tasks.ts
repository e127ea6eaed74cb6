import type { ArchiveTimes, DiskVolumeInfo } from '@exhibit/core';
import type { EwfDamage } from './ewf-image.container.js';
import type { ContainerFormat, DiskImage } from './open-disk-image.js';

/**
 * What crosses between the unpack stage (disk-image.reader.ts, main thread)
 * and the disk parser threads (disk-image.worker.ts). Plain data only: the
 * thread never sees the blob store, the main thread never sees a parser.
 */

/** Which image a task reads: the whole blob, or a span of it (an image stored in a ZIP). */
export interface DiskTaskInput {
  blobSize: number;
  /** Where the image starts in its blob. */
  offset: number;
  /** The image's own bytes. */
  size: number;
  /**
   * A split image (E01 + E02 …, .001 + .002 …) held as one blob per segment:
   * the sizes of the segments after the first, in the item's order. The first
   * segment is the blob above (whole: a split image is never a span).
   */
  moreSegmentBytes?: number[];
  /** With moreSegmentBytes: every segment's file name, in order, for the messages that name a segment (checkSplitRawSizes). */
  segmentNames?: string[];
}

export interface DiskVolumeTaskInput extends DiskTaskInput {
  /** The volume to list (DiskVolumeInfo.index). */
  volumeIndex: number;
  /**
   * Set for an EWF image with stored hashes: the media hash has taken the
   * media up to here; the task hands on the media in order from here as the
   * listing reads member data (in-order-media.source.ts, 'media' requests).
   */
  hashMediaFrom?: number;
}

/** The media for the stored-hash check from `from` on ('disk-hash'): what the volume tasks did not hand on. */
export interface DiskHashTaskInput extends DiskTaskInput {
  from: number;
}

/** What the image is, as the thread found it when opening it ('disk-open'). */
export interface DiskImageFacts {
  format: ContainerFormat;
  mediaBytes: number;
  segmentCount: number;
  ewf?: DiskImage['ewf'];
  /** Why part of the media is lost, any container (DiskImage.incomplete). */
  incomplete?: DiskImage['incomplete'];
  volumes: DiskVolumeInfo[];
  /** The volume system's problems, "where: message". */
  volumeProblems: string[];
}

/** A file-system entry as listed in the thread; names are still hostile text (checked on the main thread). */
export interface WireEntry {
  path: string;
  kind: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  allocated: boolean;
  recovered: boolean;
  times: ArchiveTimes;
  problemCode?: string;
  linkTarget?: string;
}

/** Requests a disk parser thread makes of the main thread (the pool's `serve`). */
export type DiskRequest =
  /**
   * Bytes of the blob (one cache block), relative to the blob; `segment` (0 when absent) says which segment's blob.
   * `follow`: a member's data or the media in order (not a structure), which reads onward from here.
   */
  | { t: 'read'; offset: number; length: number; segment?: number; follow?: boolean }
  /**
   * The next entry of the volume: answered 'open' (send its bytes), 'next' or 'end'. `fileSystem`: the volume's, known once
   * it opened (a listing the stage ends early never gets the volume's 'done', and its volume record still names it).
   */
  | { t: 'entry'; entry: WireEntry; fileSystem: string }
  /** A chunk of the opened entry's data (or of the media, 'disk-hash'): answered 'more', 'next' (no more of it) or 'end'. */
  | { t: 'chunk'; bytes: ArrayBuffer; last: boolean; span?: { offset: number; length: number; segment?: number } | null }
  /** Media bytes from `offset`, in order, for the stored-hash check (a volume task's in-order feed); served at once. */
  | { t: 'media'; offset: number; bytes: ArrayBuffer }
  /**
   * The opened entry's data cannot be read: a hostile structure, typed, with its details (an EWF chunk's
   * media-chunk-damaged reason) bounded by LIMITS.maxWireErrorDetailsBytes. Answered like a last chunk.
   */
  | { t: 'data-error'; code: string; message: string; details?: Record<string, unknown> };

export type DiskAnswer = { op: 'open' } | { op: 'more' } | { op: 'next' } | { op: 'end' };

/** How a volume's listing ended ('disk-volume'). */
export interface DiskVolumeResult {
  fileSystem: string | null;
  /**
   * listedInFull: the problem is a finding about the volume (FileSystemReader.problem) and its listing ran to
   * its end; otherwise the volume was not read, or its listing stopped there.
   */
  problem: { code: string; message: string; listedInFull?: true } | null;
  /** How the volume was read with nothing failing (FileSystemReader.notes), recorded as volume notes of the image. */
  notes?: { code: string; message: string }[];
  /** With hashMediaFrom: media bytes handed on in order, and member data read again behind the hash's cursor. */
  mediaFeed?: { fedBytes: number; rereadBytes: number };
}

/**
 * Whether an EWF image's stored hashes can be checked: it stores one and its media is all there. A set with a segment cut
 * short or missing cannot be (its media is incomplete): its check is reported impossible, never hashed over what is left.
 */
export function storedHashesCheckable(ewf: DiskImageFacts['ewf']): boolean {
  return storesHashes(ewf) && !ewf!.incomplete?.length;
}

/**
 * Whether the image stores an acquisition hash (an EWF image with an MD5 or SHA-1): not whether it is EWF, since an EWF
 * image may store none, and then "the stored hashes cannot be checked" would claim hashes it does not have.
 */
export function storesHashes(ewf: Pick<NonNullable<DiskImageFacts['ewf']>, 'storedHashes'> | undefined): boolean {
  return ewf !== undefined && Boolean(ewf.storedHashes.md5 || ewf.storedHashes.sha1);
}

/**
 * Why an incomplete image's media cannot be read whole, in words (the image's record and the CLI): for an EWF image, that
 * its stored hashes cannot be checked; a split raw set stores none.
 */
export function incompleteMediaDetail(incomplete: readonly EwfDamage[], options: { storedHashes?: boolean } = {}): string {
  const why = `the media is incomplete (${incomplete.map((d) => `${d.message} [${d.reason}]`).join('; ')})`;
  return options.storedHashes === false ? why : `the stored hashes cannot be checked: ${why}`;
}
