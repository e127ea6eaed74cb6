import { done, failed, skipped, type ContentRecord, type FileMessage, type FileRecord } from '@exhibit/core';
import { analyse, isPast, loadFile } from './file-stage.js';
import { sendFile } from './messaging.js';
import type { Stage, StageContext, StageDeps } from './stage.js';

/**
 * Where a file goes after identification. Safe to run twice: unpack and the
 * later stages are idempotent, so a redelivery simply re-sends.
 */
async function route(deps: StageDeps, file: FileRecord, content: ContentRecord, message: FileMessage, ctx: StageContext): Promise<string[]> {
  const sent: string[] = [];
  if (content.kind === 'archive') {
    if (file.depth < deps.limits.maxNestingDepth) {
      if (file.unpack === 'n/a') await deps.index.setUnpack(file.fileId, 'pending');
      if (file.unpack === 'n/a' || file.unpack === 'pending') {
        await sendFile(deps, 'unpack', message, { abortSignal: ctx.abortSignal });
        sent.push('unpack');
      }
    } else if (!file.flags.includes('not-unpacked-depth')) {
      await deps.index.addFlags(file.fileId, ['not-unpacked-depth']);
    }
  }
  const media = content.kind === 'image' || content.kind === 'video';
  const next = media ? 'metadata' : 'index';
  await sendFile(deps, next, message, { abortSignal: ctx.abortSignal });
  sent.push(next);
  return sent;
}

/** Type from the content signature (first bytes only), plus the extension-mismatch flag per occurrence. */
export const identifyStage: Stage<FileMessage> = async (deps, message, ctx) => {
  const loaded = await loadFile(deps, message);
  if (loaded === 'missing') return skipped('unknown-subject');
  if (loaded === 'failed') return skipped('already-done');
  const { file, source } = loaded;
  let { content } = loaded;

  if (isPast(file, 'identified')) {
    await route(deps, file, content, message, ctx);
    return skipped('already-done');
  }
  if (content.kind === null) {
    const result = await analyse('identify', ctx, async () => {
      const head = await deps.blobs.readRange(source, 0, Math.min(deps.limits.identifyHeadBytes, content.size), { abortSignal: ctx.abortSignal });
      return deps.identifier.identify(head, { abortSignal: ctx.abortSignal });
    });
    if (!result.ok) {
      await deps.index.failFile(file.fileId, { stage: 'identify', code: result.error.code, detail: result.error.message });
      return failed(result.error.code, result.error.message);
    }
    const tools = [...(await deps.identifier.tools()), { name: 'exhibit-pipeline', version: deps.pipelineVersion }];
    await deps.index.setIdentification(content.sha256, { ...result.value, tools });
    content = { ...content, ...result.value };
  }
  const mismatch = deps.identifier.extensionMismatch(file.name, { mime: content.mime, detectedExt: content.detectedExt, kind: content.kind ?? 'other' });
  if (mismatch) {
    await deps.index.addFlags(file.fileId, ['ext-mismatch']);
    ctx.logger.info({ name: file.name, detected: content.detectedExt }, 'extension does not match content');
  }
  await deps.index.advanceFile(file.fileId, 'identified');
  const sent = await route(deps, file, content, message, ctx);
  return done({ mime: content.mime, kind: content.kind, extMismatch: mismatch, next: sent });
};
