import {
  fileMessage,
  hashMessage,
  PIPELINE_ACTOR,
  QUEUE_STEPS,
  stepAwaited,
  type EvidenceRef,
  type FileKind,
  type FileStage,
  type FileFailure,
  type QueueName,
} from '@exhibit/core';
import type { StageContext, StageDeps } from './stage.js';
import { describes, isMedia } from './stage-graph.js';

/**
 * A message the bus gave up on. Its file is marked failed with the reason, so
 * it shows in the evidence status instead of vanishing. Returns the evidence
 * item it belonged to, or null when the body names nothing we know.
 *
 * The watchdog gives up on work the same way (`code: 'stuck'`): work that never
 * moved although its message was sent again and again.
 */
export async function recordDeadLetter(
  deps: StageDeps,
  queue: QueueName,
  input: { body: unknown; messageId: string; reason: string; description: string },
  ctx: StageContext,
  options: { code?: 'dead-lettered' | 'stuck' } = {},
): Promise<EvidenceRef | null> {
  const code = options.code ?? 'dead-lettered';
  // The queue's step; for analyse (several steps), the one the file is waiting on is set below.
  const failure: FileFailure = {
    stage: QUEUE_STEPS[queue][0],
    code,
    detail: `${input.reason}: ${input.description}`.slice(0, 2000),
  };
  let ref: EvidenceRef | null = null;
  let fileId: string | null = null;
  if (queue === 'hash') {
    const parsed = hashMessage.safeParse(input.body);
    if (parsed.success) {
      await deps.index.failUploadHash(parsed.data.blobName, failure);
      // A resumable hash given up on: its saved progress will not be resumed (no-op for any other upload).
      await deps.index.deleteHashCheckpoints(parsed.data.fileId);
      fileId = parsed.data.fileId;
      ref = parsed.data;
    }
  } else {
    const parsed = fileMessage.safeParse(input.body);
    if (parsed.success) {
      fileId = parsed.data.fileId;
      ref = parsed.data;
      if (queue === 'unpack') {
        const file = await deps.index.getFile(fileId);
        if (file) {
          const recorded = (await deps.index.listChildren(fileId)).length;
          // On the archive, with its reason, so status lists it: a dead-lettered unpack never hides behind 'complete'.
          await deps.index.setUnpack(fileId, 'failed', file.memberCount ?? null, {
            code,
            reason: code,
            detail: `${failure.detail} (${recorded} member${recorded === 1 ? '' : 's'} recorded before it; any after not extracted)`.slice(0, 2000),
            membersRecorded: recorded,
            membersDeclared: null,
          });
        }
        // An image's resumable stored-hash check given up on with its unpack: its saved progress will not be resumed. After
        // setUnpack: deleted first, a chain still running would save it again while the unpack is pending.
        await deps.index.deleteImageCheckCheckpoint(fileId);
        // The single read's saved hash progress (unpack.stage.ts UploadPass), of an upload hashed in its unpack: no attempt
        // of this unpack resumes it, and the hash stage hashes an upload below resumableHashMinBytes from byte 0. From
        // that size on the hash stage (sent the upload after this, runDeadLetter) reads on from those states: left alone.
        if (file && file.parentId === null && file.source && file.source.offset === undefined && file.source.container === deps.containers.evidence) {
          const upload = await deps.index.getUpload(file.source.name);
          if (upload && upload.rootFileId === fileId && upload.size < deps.limits.resumableHashMinBytes) await deps.index.deleteHashCheckpoints(fileId);
        }
      }
    }
  }
  if (!ref || !fileId) {
    ctx.logger.error({ queue, messageId: input.messageId, reason: input.reason }, 'dead-lettered message names no known work');
    return null;
  }
  const file = await deps.index.getFile(fileId);
  if (!file || file.caseId !== ref.caseId) return null;
  // A file given up on in analyse failed in the step its state says it was at, as when each step had its queue.
  if (queue === 'analyse') failure.stage = analyseStepAt(file.stage, (await deps.index.getFileWithContent(fileId))?.content?.kind ?? null);
  // unpack failing does not make the archive itself unreadable: its own chain continues.
  if (queue !== 'unpack') await deps.index.failFile(fileId, failure);
  await deps.custody.record({
    caseId: ref.caseId,
    evidenceId: ref.evidenceId,
    action: 'stage-failed',
    actor: PIPELINE_ACTOR,
    subject: { fileId, ...(file.sha256 ? { sha256: file.sha256 } : {}) },
    details: { stage: failure.stage, ...(failure.stage !== queue ? { queue } : {}), reason: input.reason, description: input.description.slice(0, 2000), path: file.path },
    eventKey: `${code === 'stuck' ? 'stuck' : 'dead-letter'}:${queue}:${fileId}`,
  });
  ctx.logger.error({ queue, fileId, reason: input.reason, code }, code === 'stuck' ? 'work stuck; file recorded as failed' : 'message dead-lettered; file recorded as failed');
  return { caseId: ref.caseId, evidenceId: ref.evidenceId };
}

/**
 * The analyse step a file was at: the one its state waits on, for images,
 * videos and audio; identify for anything else (it has no other analyse step),
 * and the kind's last step (thumbnail; metadata for audio) for a file past it
 * (only its re-check was left).
 */
export function analyseStepAt(state: FileStage, kind: FileKind | null): 'identify' | 'metadata' | 'thumbnail' {
  if (!describes(kind)) return 'identify';
  const step = stepAwaited(state);
  // Audio has no thumbnail step: past its metadata, that was its last.
  if (!isMedia(kind)) return step === 'identify' ? 'identify' : 'metadata';
  return step === 'identify' || step === 'metadata' || step === 'thumbnail' ? step : state === 'pending' ? 'identify' : 'thumbnail';
}
