import {
  done,
  isExhibitError,
  isRetryable,
  failed,
  skipped,
  type FileFlag,
  type FileKind,
  type FileRecord,
  type Identification,
  type IdentificationResult,
  type RandomAccessSource,
  type StageOutcome,
  type ToolVersion,
} from '@exhibit/core';
import { analyse, isPast, type LoadedFile } from './file-stage.js';
import type { StageContext, StageDeps } from './stage.js';
import type { StepWrites } from './step-writes.js';
import { unpacks } from './stage-graph.js';

/** What identification changes on the occurrence: an archive to unpack is marked, one nested too deeply is flagged. */
interface Marking {
  flags: FileFlag[];
  /** Set when the file is an archive to unpack that is not marked for it yet. */
  unpack: 'pending' | undefined;
}

function markingOf(deps: StageDeps, file: FileRecord, kind: FileKind | null): Marking {
  const marking: Marking = { flags: [], unpack: undefined };
  if (kind !== 'archive') return marking;
  if (unpacks(kind, file.depth, deps.limits)) {
    if (file.unpack === 'n/a') marking.unpack = 'pending';
  } else if (!file.flags.includes('not-unpacked-depth')) {
    marking.flags.push('not-unpacked-depth');
  }
  return marking;
}

/** The occurrence after a write of `marking` and a move to `stage`, as the index now holds it (no read back). */
function marked(file: FileRecord, marking: Marking, extra: FileFlag[] = []): FileRecord {
  const flags = [...file.flags];
  for (const f of [...extra, ...marking.flags]) if (!flags.includes(f)) flags.push(f);
  return { ...file, flags, ...(marking.unpack ? { unpack: marking.unpack } : {}) };
}

/**
 * Type from the content signature (bounded reads: head, tail, what a header points at), with the
 * findings about the bytes (unidentified and why, an appended archive), plus the extension-mismatch
 * flag per occurrence.
 * The identification, the occurrence's flags and unpack state and its move to 'identified' (or its failure) go
 * into `writes`, the analyse stage's one write.
 */
export async function identifyStep(
  deps: StageDeps,
  loaded: LoadedFile,
  input: RandomAccessSource,
  ctx: StageContext,
  writes: StepWrites,
): Promise<{ outcome: StageOutcome; loaded: LoadedFile }> {
  const { file } = loaded;
  let { content } = loaded;

  if (isPast(file, 'identified')) {
    // Written with the move already; only a file identified before the two were one write can lack them.
    const marking = markingOf(deps, file, content.kind);
    if (marking.unpack) await deps.index.setUnpack(file.fileId, marking.unpack);
    if (marking.flags.length > 0) await deps.index.addFlags(file.fileId, marking.flags);
    return { outcome: skipped('already-done'), loaded: { ...loaded, file: marked(file, marking) } };
  }

  let identification: (IdentificationResult & { tools: ToolVersion[] }) | null = null;
  if (content.kind === null) {
    const result = await analyse('identify', ctx, () => deps.identifier.identify(input, { abortSignal: ctx.abortSignal }));
    if (!result.ok) {
      const failure = { stage: 'identify' as const, code: result.error.code, detail: result.error.message };
      writes.fail(failure);
      return { outcome: failed(failure.code, failure.detail), loaded: { ...loaded, file: { ...file, stage: 'failed', failure } } };
    }
    const tools = [...(await deps.identifier.tools()), { name: 'exhibit-pipeline', version: deps.pipelineVersion }];
    identification = { ...result.value, tools };
    const { findings: _findings, ...identified } = result.value;
    content = { ...content, ...identified };
    if (result.value.findings.length > 0) ctx.logger.info({ findings: result.value.findings.map((f) => f.flag) }, 'identification findings');
  }
  const identified = { mime: content.mime, detectedExt: content.detectedExt, kind: content.kind ?? 'other' };
  const mismatch = deps.identifier.extensionMismatch(file.name, identified) || (await contradicted(deps, file.name, identified, input, ctx));
  if (mismatch) ctx.logger.info({ name: file.name, detected: content.detectedExt }, 'extension does not match content');
  const marking = markingOf(deps, file, content.kind);
  const flags: FileFlag[] = mismatch ? ['ext-mismatch', ...marking.flags] : marking.flags;
  if (identification) writes.identification(identification);
  writes.move('identified', { flags, ...(marking.unpack ? { unpack: marking.unpack } : {}) });
  const after: FileRecord = { ...marked(file, marking, mismatch ? ['ext-mismatch'] : []), stage: 'identified' };
  return { outcome: done({ mime: content.mime, kind: content.kind, extMismatch: mismatch }), loaded: { ...loaded, file: after, content } };
}

/**
 * Whether the content's structure contradicts a name its type alone fits (an MP4 under .m4a holding video:
 * m4a-holding-video-not-flagged-ext-mismatch), read from the bytes for every occurrence, so a content
 * identified before reads the same as a new one. A fault of the bytes (a parser thread's deadline, a
 * malformed file) is no verdict and no flag; a fault of the machine or storage is retried.
 */
async function contradicted(deps: StageDeps, name: string, identified: Identification, input: RandomAccessSource, ctx: StageContext): Promise<boolean> {
  if (!deps.identifier.extensionContradicted) return false;
  try {
    return await deps.identifier.extensionContradicted(name, identified, input, { abortSignal: ctx.abortSignal });
  } catch (err) {
    // A stopped step (its deadline, a shutdown) is no verdict about the bytes either: it stops the step.
    if (isRetryable(err) || isExhibitError(err, 'aborted') || ctx.abortSignal?.aborted) throw err;
    ctx.logger.warn({ code: (err as { code?: unknown }).code, err: (err as Error).message }, 'extension check: content structure not read; no flag');
    return false;
  }
}
