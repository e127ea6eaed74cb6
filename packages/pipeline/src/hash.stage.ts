import { pipeline } from 'node:stream/promises';
import { Writable, type Readable } from 'node:stream';
import {
  DISK_IMAGE_MIMES,
  ExhibitError,
  failed,
  isDiskImageMime,
  isExhibitError,
  isRetryable,
  PIPELINE_ACTOR,
  skipped,
  done,
  type AcquisitionInfo,
  type FileKind,
  type Hashes,
  type HashMessage,
  type IntegrityVerdict,
  type StageOutcome,
  type HashCheckpoint,
  type UploadRecord,
} from '@exhibit/core';
import { ARCHIVE_SNIFF_BYTES, detectArchiveFormat } from './archive/open-archive.js';
import { isFirstEwfSegment } from './disk/ewf-image.container.js';
import { claimSegmentHash, segmentHashClaim } from './disk/segment-hash.claim.js';
import { blobSource } from './file-source.js';
import { HashingTransform } from './multi-hash.js';
import { ReadOnceSource } from './read-once-source.js';
import { HASH_WASM_VERSION, HashStateLoadError, RESUMABLE_HASH_ENGINE, ResumableMultiHasher } from './resumable-hash.js';
import { only, type Stage, type StageContext, type StageDeps, type StageResult } from './stage.js';
import { unpacks } from './stage-graph.js';

export function compareHashes(computed: Hashes, declared: AcquisitionInfo): { integrity: IntegrityVerdict; mismatches: string[] } {
  const mismatches: string[] = [];
  let compared = 0;
  for (const alg of ['md5', 'sha1', 'sha256'] as const) {
    const want = declared[alg];
    if (want === undefined) continue;
    compared += 1;
    if (want !== computed[alg]) mismatches.push(alg);
  }
  if (compared === 0) return { integrity: 'no-reference', mismatches };
  return { integrity: mismatches.length === 0 ? 'verified' : 'mismatch', mismatches };
}

/**
 * MD5, SHA-1 and SHA-256 of an uploaded evidence blob in one streaming read
 * from storage, pinned to the ETag seen at receipt, then compared with the
 * acquisition hashes. A mismatch is recorded loudly; processing continues.
 *
 * An archive that will be unpacked is not read here: a small head read
 * identifies it, its unpack is marked pending and the hash is taken in the
 * unpack's own read of the blob (unpack.stage.ts, archive/single-read.source.ts),
 * so its bytes are read once. Should that read end without the hash (the
 * unpack was stopped by its deadline, or dead-lettered), the unpack is over
 * and the upload comes back here, where it is hashed as any other file.
 * A later segment of a declared split image waits, unread, for its first
 * segment's unpack to hash it the same way (firstSegmentUnpackToCome).
 *
 * An upload of at least LIMITS.resumableHashMinBytes is left to its unpack's
 * read the same way when it is an archive or disk image we unpack; that read
 * saves its hash states (migration 0220) when its listing ends before the end
 * of the blob, and the upload comes back here to read on from them
 * (hashResumably), so the blob is still read once. Any other upload that
 * large (and one whose unpack read saved nothing) is hashed here resumably,
 * over as many invocations as it takes.
 */
export const hashStage: Stage<HashMessage> = async (deps, message, ctx) => {
  const startedAt = Date.now();
  const upload = await deps.index.getUpload(message.blobName);
  if (!upload) return only(skipped('unknown-subject'));
  // The root file goes on to be analysed; what it is is not known yet.
  const forward: StageResult['forward'] = { file: { caseId: upload.caseId, evidenceId: upload.evidenceId, fileId: upload.rootFileId }, facts: { kind: null, unpack: 'n/a' } };
  if (upload.integrity !== 'pending') {
    if (upload.integrity === 'failed') return only(skipped('already-done'));
    // Hashed in its unpack's read, which is still running: the unpack sends the archive on when it ends.
    const root = await deps.index.getFile(upload.rootFileId);
    if (root?.unpack === 'pending' && root.stage === 'pending') return only(skipped('already-done'));
    // Done before; a redelivery may mean the crash came before the next send, so it is routed again (analyse is idempotent).
    return { outcome: skipped('already-done'), forward };
  }
  // A declared later segment is hashed in its first segment's unpack, which reads it anyway (docs/disk-images.md, "Split sets").
  const wait = await firstSegmentUnpackToCome(deps, upload, ctx.abortSignal);
  if (wait !== null) {
    // Keyed on the re-check period it is due in, so the chains a redelivered message starts again merge (duplicate
    // detection drops the repeat); never a period at or before that of the message that runs now: its key, or an
    // earlier message's, would be dropped as a repeat and the wait would stop. Then the running key gets ':next'.
    const due = Date.now() + wait;
    const period = Math.floor(due / Math.max(1, deps.limits.segmentSetRecheckMs));
    let messageKey = `segment-hash-wait:${period}`;
    const running = /:(segment-hash-wait:(\d+)(?::next)*)$/.exec(ctx.messageId);
    if (running && period <= Number(running[2])) messageKey = `${running[1]}:next`;
    return { outcome: skipped('waiting'), again: { afterMs: wait, messageKey } };
  }
  // A continuation of this stage's own resumable hash: decided before (no unpack hashes it, or its unpack is over), so
  // not identified again at every checkpoint.
  if (upload.size >= deps.limits.resumableHashMinBytes && isHashContinuation(ctx.messageId)) return hashResumably(deps, upload, forward, ctx, startedAt);
  // An archive or disk image is hashed in its unpack's single read at every size; one of at least resumableHashMinBytes
  // whose unpack is over without the whole hash comes back here and reads on from the states that read saved.
  const inUnpack = await hashedInUnpack(deps, upload, ctx);
  if (inUnpack) {
    // Marked before, and its unpack runs now (a live lease): sending the unpack's message again (a redelivery, or the
    // reconcile pass offering the still-pending upload) would make that delivery re-send the unpack's latest
    // continuation beside the live one, which defers and re-sends itself until the unpack ends. The live unpack
    // records the hash itself; should it die, its lease expires and the next offer sends the message as the first did.
    if (inUnpack === 'marked-before' && (await deps.index.stageLeaseHeld({ queue: 'unpack', subjectId: upload.rootFileId }))) {
      ctx.logger.info({ blobName: upload.blobName }, 'archive: its unpack is running (live lease) and hashes it in its read; not sent to it again');
      return only(skipped('already-done'));
    }
    return {
      outcome: done({ hashedBy: 'unpack', kind: 'archive' }),
      forward: { file: forward.file, facts: { kind: 'archive', unpack: 'pending' } },
    };
  }
  // Too large to read in one invocation (a 500 GB-2 TB disk image): hashed here resumably, over as many as it takes.
  if (upload.size >= deps.limits.resumableHashMinBytes) return hashResumably(deps, upload, forward, ctx, startedAt);
  const ref = { container: deps.containers.evidence, name: upload.blobName };
  const hashing = new HashingTransform();
  try {
    const body = await deps.blobs.openRead(ref, { ifMatch: upload.etag, abortSignal: ctx.abortSignal });
    await pipeline(body, hashing, new Writable({ write: (_c, _e, cb) => cb() }), { signal: ctx.abortSignal });
  } catch (err) {
    hashing.hasher.dispose();
    if (isEvidenceChange(err)) return only(await recordEvidenceChanged(deps, upload));
    throw err;
  }
  const hashes = await hashing.hasher.digest();
  if (hashing.hasher.bytes !== upload.size) {
    // Storage returned a different length than it reported: retry rather than record a wrong hash.
    throw new ExhibitError('storage-unavailable', `read ${hashing.hasher.bytes} bytes of ${upload.blobName}, expected ${upload.size}`);
  }
  const { integrity, mismatches } = await recordUploadHash(deps, upload, hashes, ctx);
  return { outcome: done({ integrity, mismatches, sha256: hashes.sha256, bytes: upload.size }), forward };
};

/** The blob under the upload's name is not the one received: another ETag, or gone. */
export function isEvidenceChange(err: unknown): boolean {
  return isExhibitError(err, 'precondition-failed') || isExhibitError(err, 'not-found');
}

/** The upload's bytes changed after receipt: its hash fails, its root file fails, custody says so (once). */
export async function recordEvidenceChanged(deps: StageDeps, upload: UploadRecord): Promise<StageOutcome> {
  const detail = `evidence blob changed or disappeared after receipt (recorded ETag ${upload.etag})`;
  await deps.index.failUploadHash(upload.blobName, { stage: 'hash', code: 'evidence-changed', detail });
  // Progress saved against the recorded ETag is void: those bytes are no longer there to finish. Deleted
  // after the failure is recorded: a trailing chain's save no longer inserts (not pending), one before is gone.
  await deps.index.deleteHashCheckpoints(upload.rootFileId);
  await deps.index.failFile(upload.rootFileId, { stage: 'hash', code: 'evidence-changed', detail });
  await deps.custody.record({
    caseId: upload.caseId,
    evidenceId: upload.evidenceId,
    action: 'evidence-changed',
    actor: PIPELINE_ACTOR,
    subject: { blobName: upload.blobName, fileId: upload.rootFileId },
    details: { recordedEtag: upload.etag, detail },
    // The same key whichever read found it (this stage's, or the unpack's single read): one entry per event.
    eventKey: `evidence-changed:${upload.blobName}:hash`,
  });
  return failed('evidence-changed', detail);
}

/**
 * A resumable hash whose saved progress kept being unusable (LIMITS.maxHashRestarts
 * starts over): its hash fails, its root file fails (the runner writes the
 * stage-failed custody entry), and the progress is forgotten after the failure,
 * so no trailing save outlives it.
 */
async function recordHashStateUnusable(deps: StageDeps, upload: UploadRecord, why: string): Promise<StageOutcome> {
  const detail = `resumable hash given up: ${why}`.slice(0, 2000);
  await deps.index.failUploadHash(upload.blobName, { stage: 'hash', code: 'hash-state-unusable', detail });
  await deps.index.failFile(upload.rootFileId, { stage: 'hash', code: 'hash-state-unusable', detail });
  await deps.index.deleteHashCheckpoints(upload.rootFileId);
  return failed('hash-state-unusable', detail);
}

/**
 * Whether a hash-checkpoint row (migration 0220) can exist for the upload: it is as large as the smallest upload either
 * writer saves progress for (the hash stage's resumable hash, an unpack's resumable single read).
 */
function mayHaveHashCheckpoint(upload: Pick<UploadRecord, 'size'>, limits: Pick<StageDeps['limits'], 'resumableHashMinBytes' | 'singleReadResumableMinBytes'>): boolean {
  return upload.size >= Math.min(limits.resumableHashMinBytes, limits.singleReadResumableMinBytes);
}

/**
 * Forgets the upload's saved hash progress, only when it can have any: below both writers' sizes there is nothing to
 * delete (regression hash-checkpoint-delete-run-for-upload-too-small-to-have-one: a statement for every upload).
 */
export async function deleteHashCheckpointsOf(deps: Pick<StageDeps, 'index' | 'limits'>, upload: Pick<UploadRecord, 'size' | 'rootFileId'>): Promise<void> {
  if (mayHaveHashCheckpoint(upload, deps.limits)) await deps.index.deleteHashCheckpoints(upload.rootFileId);
}

/**
 * Records an upload's hashes, wherever they were computed (this stage, or the
 * unpack's single read of an archive): the content, the root file's hash, the
 * upload's integrity verdict and its custody entry (keyed on the blob and its
 * ETag: once, whichever read wrote it).
 */
export async function recordUploadHash(
  deps: StageDeps,
  upload: UploadRecord,
  hashes: Hashes,
  ctx: Pick<StageContext, 'logger'>,
  /** The engine that computed them, when not the one the upload's size implies (an unpack's resumable single read: hash-wasm). */
  options: { hashedWith?: 'hash-wasm' | 'node:crypto' } = {},
): Promise<{ integrity: IntegrityVerdict; mismatches: string[] }> {
  const ref = { container: deps.containers.evidence, name: upload.blobName };
  const { integrity, mismatches } = compareHashes(hashes, upload.acquisition);
  await deps.index.ensureContent({ ...hashes, size: upload.size, source: ref });
  await deps.index.advanceFile(upload.rootFileId, 'pending', { sha256: hashes.sha256, size: upload.size });
  await deps.index.recordUploadHashes(upload.blobName, hashes, integrity, mismatches);
  // A resumable hash's saved progress is of no further use: the hash stage's, or an unpack's single read's (UploadPass,
  // a read cut off or dead-lettered leaves its row to whichever read records the hash).
  await deleteHashCheckpointsOf(deps, upload);

  const hashWasm = options.hashedWith === undefined ? upload.size >= deps.limits.resumableHashMinBytes : options.hashedWith === 'hash-wasm';
  const tools = [
    { name: 'exhibit-pipeline', version: deps.pipelineVersion },
    hashWasm
      ? { name: 'hash-wasm', version: HASH_WASM_VERSION }
      : { name: 'node:crypto/openssl', version: process.versions.openssl ?? 'unknown' },
  ];
  if (integrity === 'mismatch') {
    ctx.logger.error({ blobName: upload.blobName, mismatches, computed: hashes, declared: upload.acquisition }, 'ACQUISITION HASH MISMATCH');
  }
  await deps.custody.record({
    caseId: upload.caseId,
    evidenceId: upload.evidenceId,
    action: integrity === 'mismatch' ? 'integrity-mismatch' : 'integrity-verified',
    actor: PIPELINE_ACTOR,
    subject: { blobName: upload.blobName, fileId: upload.rootFileId, sha256: hashes.sha256 },
    details: { integrity, mismatches, computed: hashes, declared: upload.acquisition, size: upload.size, etag: upload.etag, versionId: upload.versionId },
    tools,
    eventKey: `hash:${upload.blobName}:${upload.etag}`,
  });
  return { integrity, mismatches };
}

/**
 * For a later segment of a declared split image (position > 1 in a manifest)
 * whose first segment's unpack is still to run (the first not received yet,
 * or received and its unpack not over): the milliseconds until this stage
 * looks again, since that unpack reads and hashes the segment in the same
 * read as its listing (unpack.stage.ts, disk/later-segment-reads.source.ts).
 * Null, and the segment is hashed here as any upload, once that unpack is over
 * (done, failed, cut off by its deadline, dead-lettered: what it did not hash
 * comes back here), the first failed, the first hashed by its own hash stage
 * with no unpack marked (not a disk image, or not identifiable), or the wait is
 * over while that unpack may still come (`segmentSetWaitMs` passed since the
 * later of this segment's and its first segment's receipt) and this stage
 * holds the segment's claim. A segment never stays unhashed, whatever happens
 * to its first.
 *
 * Every null for a declared later segment takes the segment's claim
 * (disk/segment-hash.claim.ts) for this stage first, so an unpack that comes
 * after it (a first identified as a disk image only later) lists the segment
 * by ranges and does not read it for its hash beside this stage. A wait over
 * while an unpack that claimed the segment first may still run goes on, the
 * unpack reading it or about to (regression
 * declared-segment-wait-ran-out-during-unpack-read-twice: both read it whole),
 * until that unpack is over or its claim, counted from the unpack's last move,
 * is older than `segmentHashClaimHoldMs`: longer than one unpack delivery
 * (a delivery hashes a segment only when it ends before that), below the
 * watchdog's stall time × (re-drives + 1), so an unpack that claimed and then
 * stalled does not leave its later segments to be failed as `stuck` (regression
 * claim-held-by-stalled-unpack-later-segments-failed-stuck, packages/runtime/test).
 * A claim this stage holds already (a redelivery) is hashed at once.
 */
async function firstSegmentUnpackToCome(
  deps: Pick<StageDeps, 'index' | 'limits' | 'blobs' | 'containers'>,
  upload: UploadRecord,
  abortSignal?: AbortSignal,
  now = Date.now(),
): Promise<number | null> {
  // Hashed here resumably whatever its first segment's unpack does (it does not hash a segment this large: no claim).
  if (upload.size >= deps.limits.resumableHashMinBytes) return null;
  const declared = await deps.index.getDeclaredSegment(upload.blobName);
  if (!declared || declared.position <= 1 || declared.firstBlobName === upload.blobName) return null;
  const first = await deps.index.getUpload(declared.firstBlobName);
  let latest = Date.parse(upload.receivedAt);
  if (first) {
    const root = await deps.index.getFile(first.rootFileId);
    // That unpack is over, or none is coming (the first hashed by its own hash stage with no unpack marked: identified as
    // no disk image, random bytes, an encrypted volume, a memory dump, or not identifiable): hashed here, waiting would
    // only delay it; claimed first, whoever held it before (an unpack over reads nothing more).
    const unpackOver = first.integrity === 'failed' || !root || root.stage === 'failed' || root.unpack === 'done' || root.unpack === 'failed';
    if (unpackOver || (first.integrity !== 'pending' && root.unpack === 'n/a')) {
      await claimSegmentHash(deps, upload, 'hash', abortSignal);
      return null;
    }
    latest = Math.max(latest, Date.parse(first.receivedAt));
  }
  const waited = now - latest;
  // Claimed by this stage before (a redelivery of a hash stage whose host went mid-read, or whose first was over): hashed
  // here at once, no unpack reads it for its hash (regression hash-claimed-redelivery-waits-again).
  if (waited < deps.limits.segmentSetWaitMs && (await segmentHashClaim(deps, upload, abortSignal))?.reader === 'hash') return null;
  if (waited < deps.limits.segmentSetWaitMs) return Math.max(1, Math.min(deps.limits.segmentSetRecheckMs, deps.limits.segmentSetWaitMs - waited));
  const claim = await claimSegmentHash(deps, upload, 'hash', abortSignal);
  if (claim.reader === 'hash') return null;
  const held = now - claim.movedAt.getTime();
  if (!(held < deps.limits.segmentHashClaimHoldMs)) return null;
  return Math.max(1, Math.min(deps.limits.segmentSetRecheckMs, deps.limits.segmentHashClaimHoldMs - held));
}

/**
 * Of disk images, those whose unpack reads the upload's blob itself and so
 * can hash it in the same read (docs/disk-images.md, "One read of an uploaded
 * image"): a raw image (also the first piece of a split raw set), a VHD, an
 * E01's first segment. A later EWF segment (E02 …) is read by its first
 * segment's unpack, not its own; EWF 2, L01 and VHDX are refused unread.
 */
function readOnceInUnpack(mime: string, head: Uint8Array): boolean {
  if (mime === DISK_IMAGE_MIMES.ewf) return isFirstEwfSegment(head);
  return mime === DISK_IMAGE_MIMES.raw || mime === DISK_IMAGE_MIMES.vhd;
}

/**
 * The one decision, taken by the hash stage and again by the unpack from the
 * same ETag-pinned bytes, whether an upload is read once by its unpack and as
 * what that unpack opens it: the identifier's verdict first (a disk image is
 * opened as one whatever its first bytes look like: boot code may start
 * 1f 8b like a gzip), and only for an archive the identifier named the first
 * bytes (a ZIP with a prefix, found by its tail, is hashed here). Null: the
 * hash stage hashes it itself.
 */
export function readOnceAs(identified: { kind: FileKind | null; mime: string | null }, head: Uint8Array): { mime: string | null } | null {
  if (identified.kind !== 'archive') return null;
  if (isDiskImageMime(identified.mime)) return readOnceInUnpack(identified.mime!, head) ? { mime: identified.mime } : null;
  return detectArchiveFormat(head, null) === null ? null : { mime: identified.mime };
}

/**
 * Whether the upload's hash is left to its unpack's single read: an archive
 * we unpack (readOnceAs: ZIP, TAR, TAR.GZ recognised by its first bytes, and
 * the disk images of readOnceInUnpack), decided from a small head read and
 * kept as the root's unpack state ('pending'): 'marked-now' when this call
 * set it, 'marked-before' when an earlier delivery had. An unpack already
 * over (done or failed) ended without the hash: it is taken here.
 */
async function hashedInUnpack(deps: StageDeps, upload: UploadRecord, ctx: StageContext): Promise<'marked-now' | 'marked-before' | false> {
  const root = await deps.index.getFile(upload.rootFileId);
  if (!root || root.stage === 'failed') return false;
  if (root.unpack === 'pending') return 'marked-before';
  if (root.unpack !== 'n/a' || !unpacks('archive', root.depth, deps.limits)) return false;
  const decided = await readOnceByUnpack(deps, upload, ctx);
  if (!decided) return false;
  await deps.index.setUnpack(root.fileId, 'pending');
  ctx.logger.info({ blobName: upload.blobName, mime: decided.mime }, 'archive: hashed in the unpack\'s read of it');
  return 'marked-now';
}

/**
 * How the upload's unpack opens it from its own bytes (readOnceAs), decided
 * from a small head (and tail) read; null when it is no archive or disk image
 * to open so (or not identifiable).
 */
async function readOnceByUnpack(deps: StageDeps, upload: UploadRecord, ctx: StageContext): Promise<{ mime: string | null } | null> {
  const ref = { container: deps.containers.evidence, name: upload.blobName };
  const input = new ReadOnceSource(blobSource(deps.blobs, ref, upload.fileName, upload.size), { maxWholeBytes: 0 });
  let identified: { kind: FileKind | null; mime: string | null };
  try {
    identified = await deps.identifier.identify(input, { ...(ctx.abortSignal ? { abortSignal: ctx.abortSignal } : {}) });
  } catch (err) {
    if (isRetryable(err)) throw err;
    // Not identifiable: hashed here; analyse identifies it again and records why it could not.
    return null;
  }
  if (identified.kind !== 'archive') return null;
  const head = await input.read(0, ARCHIVE_SNIFF_BYTES, { ...(ctx.abortSignal ? { abortSignal: ctx.abortSignal } : {}) });
  return readOnceAs(identified, head);
}

/**
 * The message key of a resumable hash's next invocation: new per progress
 * point, the same for every attempt that reached it. After a start over from
 * byte 0 (saved states unusable, resumeFrom) the offsets come round again, so
 * the key also names how many times it started over: never the key of a
 * message already sent (duplicate detection would drop it and end the chain).
 */
export const hashContinueKey = (offsetBytes: number, restarts = 0): string => `hash-continue:${offsetBytes}${restarts > 0 ? `:restart-${restarts}` : ''}`;
/**
 * Whether a message id is a continuation of the hash stage's own resumable hash. The `:redrive-<a>-<b>` suffix is
 * accepted for a rolling deploy: an older build keyed its watchdog re-drives of a chain that way, and such messages may
 * still be in flight; continuing reads on from the saved row whatever the key, so nothing else of the suffix matters.
 */
export const isHashContinuation = (messageId: string): boolean => /:hash-continue:\d+(:restart-\d+)?(:redrive-\d+-\d+)?$/.test(messageId);

/**
 * The hash of an upload of at least LIMITS.resumableHashMinBytes, taken over
 * as many invocations as it needs (docs/architecture.md, "Resumable hash of a
 * large upload"): MD5, SHA-1 and SHA-256 states (hash-wasm) are saved in the
 * index (migration 0220, keyed on the root file id and the ETag) every
 * LIMITS.hashCheckpointBytes; once the invocation's time is up
 * (stageDeadlineMs less hashContinueMarginMs) it stops at the next checkpoint
 * (or, should storage be that slow, halfway into the margin wherever it is),
 * and the same message is sent again under `hash-continue:<offset>` to read on
 * from there, pinned to the ETag. A crash or the deadline loses at most one
 * interval: the redelivery resumes from the last checkpoint. The verdict,
 * integrity record and custody entry are written once, at the end
 * (recordUploadHash, today's event key), and the checkpoint row is deleted.
 *
 * An archive or disk image comes here only once its unpack is over without
 * the whole hash (its listing ended before the end of the blob, or the unpack
 * was dead-lettered): the states its single read saved (the same row, the
 * same engine, exact for their offset whichever read wrote them) are resumed,
 * so only the rest of the blob is read. In steady state the hash does not run
 * beside a pending unpack of its upload: the hash stage sends such a delivery
 * to the unpack (hashedInUnpack), which writes the row meanwhile. Two safe
 * exceptions: a continuation of this chain (isHashContinuation) reads on without
 * asking, and a dead-lettered unpack hands the upload here while an attempt of
 * it may still run; either way both sides only save states exact for their
 * offset, never moving it back (saveHashCheckpoint), and record the hash once.
 */
async function hashResumably(
  deps: StageDeps,
  upload: UploadRecord,
  forward: NonNullable<StageResult['forward']>,
  ctx: StageContext,
  startedAt: number,
): Promise<StageResult> {
  const signal = ctx.abortSignal ? { abortSignal: ctx.abortSignal } : {};
  const saved = await deps.index.getHashCheckpoint(upload.rootFileId, upload.etag);
  const resumed = await resumeFrom(deps, upload, saved, ctx);
  if ('unusable' in resumed) return only(await recordHashStateUnusable(deps, upload, resumed.unusable));
  const { hasher, from, restarts } = resumed;
  const every = Math.max(1, deps.limits.hashCheckpointBytes);
  // The runner's deadline when it set one (ctx.deadlineAt: it started counting before this stage did, and it is
  // the one that aborts); otherwise a full stage deadline from this stage's start.
  const deadlineAt = ctx.deadlineAt ?? startedAt + deps.limits.stageDeadlineMs;
  const soft = deadlineAt - deps.limits.hashContinueMarginMs;
  const hard = deadlineAt - deps.limits.hashContinueMarginMs / 2;
  let offset = from;
  let savedAt = from;
  let stopped = false;
  /**
   * A save not written: 'superseded', another chain of this upload recorded (or failed) its hash meanwhile; 'behind',
   * another delivery saved further progress (a redelivery or re-drive beside this one), whose chain goes on. Either way
   * this one stops, saving and reading nothing more, and sends no continuation keyed on progress the row does not hold
   * (regression hash-save-reported-pending-when-row-not-written: it continued, a second chain beside the first).
   */
  let lost: 'superseded' | 'behind' | null = null;
  const save = async () => {
    const kept = await deps.index.saveHashCheckpoint({ rootFileId: upload.rootFileId, etag: upload.etag, engine: RESUMABLE_HASH_ENGINE, restarts, offsetBytes: offset, states: hasher.save() });
    if (kept === 'saved') savedAt = offset;
    else lost ??= kept === 'not-pending' ? 'superseded' : 'behind';
    return kept === 'saved';
  };
  const ref = { container: deps.containers.evidence, name: upload.blobName };
  let body: Readable | undefined;
  try {
    if (from < upload.size) {
      body = await deps.blobs.openRead(ref, { offset: from, ifMatch: upload.etag, ...signal });
      reading: for await (const chunk of body as AsyncIterable<Buffer>) {
        for (let at = 0; at < chunk.length; ) {
          // Never past the next checkpoint in one step, so checkpoints (and stops) fall on its multiples.
          const boundary = (Math.floor(offset / every) + 1) * every;
          const n = Math.min(chunk.length - at, boundary - offset);
          await hasher.update(chunk.subarray(at, at + n));
          offset += n;
          at += n;
          if (offset > upload.size) throw new ExhibitError('storage-unavailable', `read past ${upload.size} bytes of ${upload.blobName}`);
          if (offset === upload.size) continue;
          if (offset === boundary) {
            if (!(await save())) break reading;
            if (Date.now() >= soft) {
              stopped = true;
              break reading;
            }
          } else if (Date.now() >= hard) {
            if (!(await save())) break reading;
            stopped = true;
            break reading;
          }
        }
      }
    }
  } catch (err) {
    if (isEvidenceChange(err)) return only(await recordEvidenceChanged(deps, upload));
    // What was hashed since the last checkpoint is kept for the redelivery, when the index still answers.
    if (offset > savedAt && offset <= upload.size) await save().catch(() => undefined);
    throw err;
  } finally {
    body?.destroy();
  }
  const progress = { blobName: upload.blobName, hashedBytes: offset, totalBytes: upload.size, fromBytes: from, percent: Math.floor((offset / Math.max(1, upload.size)) * 1000) / 10 };
  if (lost === 'superseded') {
    ctx.logger.info(progress, 'resumable hash: the upload\'s hash is no longer pending (another chain ended it); this one stops');
    return only(skipped('already-done'));
  }
  if (lost === 'behind') {
    ctx.logger.warn(progress, 'resumable hash: another delivery saved further progress meanwhile; this one stops, no continuation of its own');
    return only(skipped('superseded'));
  }
  if (stopped) {
    if (offset <= from) throw new ExhibitError('timeout', `resumable hash of ${upload.blobName} made no progress from ${from} bytes before its deadline`);
    ctx.logger.info(progress, 'resumable hash: checkpoint saved, continuing in a new message');
    return { outcome: done({ resumable: true, continuing: true, hashedBytes: offset, totalBytes: upload.size }), again: { afterMs: 0, messageKey: hashContinueKey(offset, restarts) } };
  }
  if (offset !== upload.size) {
    if (offset > savedAt && !(await save())) return only(skipped(lost === 'behind' ? 'superseded' : 'already-done'));
    // Storage returned a different length than it reported: retry (from the saved progress) rather than record a wrong hash.
    throw new ExhibitError('storage-unavailable', `read ${offset} bytes of ${upload.blobName}, expected ${upload.size}`);
  }
  const hashes = hasher.digest();
  const { integrity, mismatches } = await recordUploadHash(deps, upload, hashes, ctx);
  ctx.logger.info(progress, 'resumable hash: recorded');
  const outcome = done({ integrity, mismatches, sha256: hashes.sha256, bytes: upload.size, resumable: true });
  // An archive whose unpack still runs is sent on by that unpack when it ends (it sees the hash recorded).
  const now = await deps.index.getFile(upload.rootFileId);
  if (!now || now.stage !== 'pending' || now.unpack === 'pending') return only(outcome);
  return { outcome, forward };
}

/**
 * The hasher to go on with and where from: the saved progress when it is of
 * this engine and loads; otherwise (states of another hash-wasm build after a
 * deploy, damaged states, an offset past the blob's size) the hash starts over
 * from byte 0, and the unusable row goes (its offset would otherwise hold back
 * every save of the new start: saves never move backwards). `restarts` counts
 * the starts over, carried in the row, for hashContinueKey; past
 * LIMITS.maxHashRestarts there is no new start but `unusable` (the reason).
 */
async function resumeFrom(
  deps: StageDeps,
  upload: UploadRecord,
  saved: HashCheckpoint | null,
  ctx: StageContext,
): Promise<{ hasher: ResumableMultiHasher; from: number; restarts: number } | { unusable: string }> {
  if (!saved) return { hasher: await ResumableMultiHasher.open(), from: 0, restarts: 0 };
  let why: string;
  if (saved.offsetBytes > upload.size) why = `saved offset ${saved.offsetBytes} is past the blob's ${upload.size} bytes`;
  else if (saved.engine !== RESUMABLE_HASH_ENGINE) why = `states saved by ${saved.engine}, this stage runs ${RESUMABLE_HASH_ENGINE}`;
  else {
    try {
      return { hasher: await ResumableMultiHasher.open(saved.states), from: saved.offsetBytes, restarts: saved.restarts };
    } catch (err) {
      // Only the states' fault starts over; anything else (the engine would not start) is retried with the progress kept.
      if (!(err instanceof HashStateLoadError)) throw err;
      why = `saved states did not load: ${err.message}`;
    }
  }
  if (saved.restarts >= deps.limits.maxHashRestarts) return { unusable: `${why}; started over ${saved.restarts} times already` };
  ctx.logger.warn({ blobName: upload.blobName, savedOffset: saved.offsetBytes, savedEngine: saved.engine, engine: RESUMABLE_HASH_ENGINE, reason: why }, 'resumable hash: saved progress unusable, starting again from byte 0');
  await deps.index.deleteHashCheckpoints(upload.rootFileId);
  return { hasher: await ResumableMultiHasher.open(), from: 0, restarts: saved.restarts + 1 };
}
