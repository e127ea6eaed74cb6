import {
  done,
  failed,
  skipped,
  type FileFlag,
  type FileKind,
  type FileMessage,
  type FileRecord,
  type IdentificationResult,
  type QueueName,
  type ToolVersion,
} from '@exhibit/core';
import { blobSource } from './file-source.js';
import { analyse, isPast, loadFile } from './file-stage.js';
import { sendFile } from './messaging.js';
import type { Stage, StageContext, StageDeps } from './stage.js';

/** Where a file goes after identification, and what that changes on the file. */
interface Route {
  /** Findings about this occurrence, e.g. an archive nested too deeply to unpack. */
  flags: FileFlag[];
  /** Set when the file is an archive to unpack that is not marked for it yet. */
  unpack: 'pending' | undefined;
  next: QueueName[];
}

function routeOf(deps: StageDeps, file: FileRecord, kind: FileKind | null): Route {
  const route: Route = { flags: [], unpack: undefined, next: [] };
  if (kind === 'archive') {
    if (file.depth < deps.limits.maxNestingDepth) {
      if (file.unpack === 'n/a') route.unpack = 'pending';
      if (file.unpack === 'n/a' || file.unpack === 'pending') route.next.push('unpack');
    } else if (!file.flags.includes('not-unpacked-depth')) {
      route.flags.push('not-unpacked-depth');
    }
  }
  route.next.push(kind === 'image' || kind === 'video' ? 'metadata' : 'index');
  return route;
}

/** Safe to run twice: unpack and the later stages are idempotent, so a redelivery simply re-sends. */
async function send(deps: StageDeps, route: Route, message: FileMessage, ctx: StageContext): Promise<void> {
  for (const queue of route.next) await sendFile(deps, queue, message, { abortSignal: ctx.abortSignal });
}

/**
 * Type from the content signature (bounded reads: head, tail, what a header points at), with the
 * findings about the bytes (unidentified and why, an appended archive), plus the extension-mismatch
 * flag per occurrence.
 * The identification, the occurrence's flags and unpack state and its move to 'identified' are one write.
 */
export const identifyStage: Stage<FileMessage> = async (deps, message, ctx) => {
  const loaded = await loadFile(deps, message);
  if (loaded === 'missing') return skipped('unknown-subject');
  if (loaded === 'failed') return skipped('already-done');
  const { file, source } = loaded;
  let { content } = loaded;

  if (isPast(file, 'identified')) {
    // Written with the move already; only a file identified before the two were one write can lack them.
    const route = routeOf(deps, file, content.kind);
    if (route.unpack) await deps.index.setUnpack(file.fileId, route.unpack);
    if (route.flags.length > 0) await deps.index.addFlags(file.fileId, route.flags);
    await send(deps, route, message, ctx);
    return skipped('already-done');
  }

  let identification: (IdentificationResult & { tools: ToolVersion[] }) | null = null;
  if (content.kind === null) {
    const result = await analyse('identify', ctx, () =>
      deps.identifier.identify(blobSource(deps.blobs, source, file.name, content.size), { abortSignal: ctx.abortSignal }),
    );
    if (!result.ok) {
      await deps.index.failFile(file.fileId, { stage: 'identify', code: result.error.code, detail: result.error.message });
      return failed(result.error.code, result.error.message);
    }
    const tools = [...(await deps.identifier.tools()), { name: 'exhibit-pipeline', version: deps.pipelineVersion }];
    identification = { ...result.value, tools };
    const { findings: _findings, ...identified } = result.value;
    content = { ...content, ...identified };
    if (result.value.findings.length > 0) ctx.logger.info({ findings: result.value.findings.map((f) => f.flag) }, 'identification findings');
  }
  const mismatch = deps.identifier.extensionMismatch(file.name, { mime: content.mime, detectedExt: content.detectedExt, kind: content.kind ?? 'other' });
  if (mismatch) ctx.logger.info({ name: file.name, detected: content.detectedExt }, 'extension does not match content');
  const route = routeOf(deps, file, content.kind);
  const flags: FileFlag[] = mismatch ? ['ext-mismatch', ...route.flags] : route.flags;
  const move = { flags, ...(route.unpack ? { unpack: route.unpack } : {}) };
  if (identification) {
    await deps.index.setIdentification(content.sha256, identification, { fileId: file.fileId, to: 'identified', ...move });
  } else {
    await deps.index.advanceFile(file.fileId, 'identified', move);
  }
  await send(deps, route, message, ctx);
  return done({ mime: content.mime, kind: content.kind, extMismatch: mismatch, next: route.next });
};
