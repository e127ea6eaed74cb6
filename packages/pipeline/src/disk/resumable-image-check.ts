import { ExhibitError, type ImageCheckCheckpoint, type Logger } from '@exhibit/core';
import { HashStateLoadError, RESUMABLE_HASH_ENGINE, ResumableMultiHasher } from '../resumable-hash.js';
import type { StageDeps } from '../stage.js';
import type { DiskImageReader } from './disk-image.reader.js';
import { storedHashesCheckable } from './disk-image.tasks.js';
import type { StoredHashCheck } from './open-disk-image.js';

/**
 * The EWF stored-hash check of an image too large to hash in one unpack
 * attempt (docs/disk-images.md, "The EWF stored-hash check across attempts"):
 * the media, read through the container in order (the 'disk-hash' task from a
 * media offset), is hashed with hash-wasm (resumable-hash.ts) and its states
 * saved with the media offset every LIMITS.hashCheckpointBytes of media
 * (migration 0225). Short of the attempt's deadline (less
 * hashContinueMarginMs) it stops at the next checkpoint, or, should reads be
 * that slow, halfway into the margin wherever it is, and the unpack continues
 * in a new message that reads on from the saved offset. Saved states that do
 * not load (another hash-wasm build, damaged), or saved over other blobs or
 * another media size, start the check over from offset 0, at most
 * LIMITS.maxHashRestarts times. The caller records the verdict once, from the
 * digest (`done`), and deletes the row only once the unpack is recorded
 * (UnpackRun.finish, after setUnpack): a fault between the two meets the saved
 * progress again, not a check starting over.
 */
export type ResumableCheckResult =
  /** The whole media is hashed: the verdict to record. */
  | { kind: 'done'; check: StoredHashCheck }
  /** Stopped short (the deadline near, or `finish` false at the media's end): saved at `offset`; the next message reads on. */
  | { kind: 'continue'; offset: number; restarts: number }
  /** The image's unpack is no longer pending (another chain recorded it): nothing more is saved or read. */
  | { kind: 'superseded' }
  /**
   * A save was refused: the row holds further progress, another delivery's (saved after this attempt read it). This
   * attempt's state is not the row's: it sends no continuation keyed on it (that delivery sends the chain's).
   */
  | { kind: 'overtaken' }
  /** Saved progress kept being unusable: the check is given up on, with the reason. */
  | { kind: 'unusable'; why: string }
  /** Progress was saved over segment blobs of other ETags than this attempt reads: the evidence changed under the check. */
  | { kind: 'evidence-changed'; why: string };

export interface ResumableCheckOptions {
  /** The runner's deadline for this attempt. */
  deadlineAt: number;
  /** False: at the media's end the states are saved (offset = media size) and the verdict left to the next attempt (it lists the image first). */
  finish: boolean;
  /**
   * The check progress this attempt's message named (its key's `image-check:<offset>[:restart-<k>]`), null for a message
   * that named none. Its saved progress gone (a fault after the row was deleted, an operator's delete): the check starts
   * over as restart k+1, so its keys are never ones the chain sent already (the bus drops a repeated id).
   */
  continuedFrom: { offset: number; restarts: number } | null;
  /**
   * The check's saved progress as this attempt read it, once (UnpackRun.savedCheck): not read again here. Every write of
   * the row stays conditional on it (saveImageCheckCheckpoint), so a copy read earlier in the attempt is never written back over further progress.
   */
  saved: ImageCheckCheckpoint | null;
  abortSignal?: AbortSignal;
  logger: Logger;
}

/**
 * Whether the image's stored-hash check is taken resumably: EWF with stored hashes, a deadline to stop short of, and media
 * of resumableImageCheckMinBytes, or any media once `budgetSpent` (the item's unpack-time budget is used up: the check is
 * not charged to it, so it is taken as a large image's is, bounded by each attempt's deadline, not in one read that
 * the budget would cut off).
 */
export function checkIsResumable(reader: DiskImageReader, limits: StageDeps['limits'], deadlineKnown: boolean, budgetSpent = false): boolean {
  return deadlineKnown && storedHashesCheckable(reader.image.ewf) && (budgetSpent || reader.image.mediaBytes >= limits.resumableImageCheckMinBytes);
}

/** Whether the saved progress of the image's check (as the attempt read it) covers the whole media already (the verdict is next). */
export function checkHashedWhole(saved: ImageCheckCheckpoint | null, reader: DiskImageReader): boolean {
  return saved !== null && usableWhy(saved, reader) === null && changedSegments(saved.etags, etagsOf(reader)) === null && saved.offsetBytes === reader.image.mediaBytes;
}

/** The ETags of the image's segment blobs as this reader reads them, in segment order. */
function etagsOf(reader: DiskImageReader): string[] {
  return reader.segmentBlobs.map((s) => s.etag ?? '');
}

/** Null when both lists name the same blobs; otherwise which segments differ, short enough for a status line. */
function changedSegments(then: readonly string[], now: readonly string[]): string | null {
  const changed = Array.from({ length: Math.max(then.length, now.length) }, (_, i) => i).filter((i) => then[i] !== now[i]);
  if (changed.length === 0) return null;
  const first = changed[0]!;
  const more = changed.length > 1 ? ` (and ${changed.length - 1} more)` : '';
  return then.length !== now.length
    ? `${then.length} segment blobs then, ${now.length} now`
    : `segment ${first + 1} of ${now.length}${more} (ETag ${then[first]} then, ${now[first]} now)`;
}

export async function checkStoredHashesResumably(deps: StageDeps, fileId: string, reader: DiskImageReader, options: ResumableCheckOptions): Promise<ResumableCheckResult> {
  const media = reader.image.mediaBytes;
  const etags = etagsOf(reader);
  const resumed = await resumeFrom(deps, fileId, reader, options.saved, options.continuedFrom, options.logger);
  if ('unusable' in resumed) return { kind: 'unusable', why: resumed.unusable };
  if ('changed' in resumed) return { kind: 'evidence-changed', why: resumed.changed };
  const { hasher, from, restarts } = resumed;
  const every = Math.max(1, deps.limits.hashCheckpointBytes);
  const soft = options.deadlineAt - deps.limits.hashContinueMarginMs;
  const hard = options.deadlineAt - deps.limits.hashContinueMarginMs / 2;
  let offset = from;
  let savedAt = from;
  let lost: 'superseded' | 'overtaken' | null = null;
  let stopped = false;
  const save = async (): Promise<boolean> => {
    const kept = await deps.index.saveImageCheckCheckpoint({ fileId, etags, engine: RESUMABLE_HASH_ENGINE, restarts, mediaBytes: media, offsetBytes: offset, states: hasher.save() });
    if (kept === 'saved') savedAt = offset;
    // Not written: never a continuation keyed on it (regression image-check-save-reported-pending-when-row-not-written).
    else lost ??= kept === 'not-pending' ? 'superseded' : 'overtaken';
    return kept === 'saved';
  };
  try {
    await reader.readMedia(
      from,
      async (chunk) => {
        for (let at = 0; at < chunk.length; ) {
          // Never past the next checkpoint in one step, so checkpoints (and stops) fall on its multiples.
          const boundary = (Math.floor(offset / every) + 1) * every;
          const n = Math.min(chunk.length - at, boundary - offset);
          await hasher.update(chunk.subarray(at, at + n));
          offset += n;
          at += n;
          if (offset === media) return true;
          if (offset === boundary) {
            if (!(await save())) return false;
            if (Date.now() >= soft) {
              stopped = true;
              return false;
            }
          } else if (Date.now() >= hard) {
            if (!(await save())) return false;
            stopped = true;
            return false;
          }
        }
        return true;
      },
      options.abortSignal ? { abortSignal: options.abortSignal } : {},
    );
  } catch (err) {
    // What was hashed since the last checkpoint is kept for the redelivery, when the index still answers.
    if (offset > savedAt && offset < media) await save().catch(() => undefined);
    throw err;
  }
  if (lost !== null) return { kind: lost };
  if (stopped) {
    if (offset <= from) throw new ExhibitError('timeout', `the stored-hash check of image ${fileId} made no progress from media offset ${from} before its deadline`);
    options.logger.info({ fileId, hashedBytes: offset, mediaBytes: media, fromBytes: from, restarts }, 'EWF stored-hash check: checkpoint saved, continuing in a new message');
    return { kind: 'continue', offset, restarts };
  }
  if (offset !== media) throw new ExhibitError('corrupt-file', `the media hash took ${offset} of ${media} bytes`);
  if (!options.finish) {
    if (offset > savedAt && !(await save())) return { kind: lost ?? 'superseded' };
    return { kind: 'continue', offset, restarts };
  }
  const computed = hasher.digest();
  const stored = reader.image.ewf?.storedHashes ?? {};
  return {
    kind: 'done',
    check: {
      stored,
      computed: { ...computed, bytes: media },
      md5Matches: stored.md5 ? stored.md5 === computed.md5 : null,
      sha1Matches: stored.sha1 ? stored.sha1 === computed.sha1 : null,
    },
  };
}

/** Why saved progress cannot be resumed over this reader's image, or null when it can (its states may still not load). */
function usableWhy(saved: ImageCheckCheckpoint, reader: DiskImageReader): string | null {
  if (saved.mediaBytes !== reader.image.mediaBytes) return `saved over ${saved.mediaBytes} media bytes, the image has ${reader.image.mediaBytes}`;
  if (saved.offsetBytes > saved.mediaBytes) return `saved offset ${saved.offsetBytes} is past the media's ${saved.mediaBytes} bytes`;
  if (saved.engine !== RESUMABLE_HASH_ENGINE) return `states saved by ${saved.engine}, this unpack runs ${RESUMABLE_HASH_ENGINE}`;
  return null;
}

/**
 * Whether the image is recorded already with a computed verdict (verified or mismatch) over these segment blobs and
 * this media: a redelivery of the final attempt after the record (its saved progress deleted by an earlier code or by
 * hand) has the whole media hashed, and goes straight to the unpack's end instead of reading it again.
 */
export async function checkRecorded(deps: Pick<StageDeps, 'index'>, fileId: string, reader: DiskImageReader): Promise<boolean> {
  const recorded = await deps.index.getDiskImage(fileId);
  if (!recorded || recorded.computedHashes === null || (recorded.integrity !== 'verified' && recorded.integrity !== 'mismatch')) return false;
  return recorded.mediaBytes === reader.image.mediaBytes && changedSegments(recorded.segments.map((s) => s.etag ?? ''), etagsOf(reader)) === null;
}

/**
 * The hasher to go on with and from where: the saved progress when usable;
 * otherwise the check starts over from offset 0 (the row deleted first: saves
 * never move backwards), `restarts` counting the starts over, past
 * LIMITS.maxHashRestarts none but `unusable`.
 */
async function resumeFrom(
  deps: StageDeps,
  fileId: string,
  reader: DiskImageReader,
  saved: ImageCheckCheckpoint | null,
  continuedFrom: { offset: number; restarts: number } | null,
  logger: Logger,
): Promise<{ hasher: ResumableMultiHasher; from: number; restarts: number } | { unusable: string } | { changed: string }> {
  if (!saved) {
    if (continuedFrom === null) return { hasher: await ResumableMultiHasher.open(), from: 0, restarts: 0 };
    // A check message whose progress is gone: starting over at its own restart count would send keys the chain sent already.
    if (continuedFrom.restarts >= deps.limits.maxHashRestarts) return { unusable: `the saved progress at media offset ${continuedFrom.offset} is gone; started over ${continuedFrom.restarts} times already` };
    logger.warn({ fileId, continuedFrom }, 'EWF stored-hash check: the saved progress its message names is gone, starting again from media offset 0');
    return { hasher: await ResumableMultiHasher.open(), from: 0, restarts: continuedFrom.restarts + 1 };
  }
  // The media hashed so far was read from blobs that are no longer these: never joined with other bytes, never started over on them.
  const changed = changedSegments(saved.etags, etagsOf(reader));
  if (changed !== null) return { changed: `the image's segment blobs changed after its stored-hash check began: ${changed}` };
  let why = usableWhy(saved, reader);
  if (why === null) {
    try {
      return { hasher: await ResumableMultiHasher.open(saved.states), from: saved.offsetBytes, restarts: saved.restarts };
    } catch (err) {
      // Only the states' fault starts over; anything else (the engine would not start) is retried with the progress kept.
      if (!(err instanceof HashStateLoadError)) throw err;
      why = `saved states did not load: ${err.message}`;
    }
  }
  if (saved.restarts >= deps.limits.maxHashRestarts) return { unusable: `${why}; started over ${saved.restarts} times already` };
  logger.warn({ fileId, savedOffset: saved.offsetBytes, savedEngine: saved.engine, engine: RESUMABLE_HASH_ENGINE, reason: why }, 'EWF stored-hash check: saved progress unusable, starting again from media offset 0');
  await deps.index.deleteImageCheckCheckpoint(fileId);
  return { hasher: await ResumableMultiHasher.open(), from: 0, restarts: saved.restarts + 1 };
}
