import {
  ExhibitError,
  isRetryable,
  type ContentRecord,
  type FileMessage,
  type FileRecord,
  type FileStage,
  type StageName,
} from '@exhibit/core';
import type { StageContext, StageDeps } from './stage.js';

const ORDER: Record<FileStage, number> = { pending: 0, identified: 1, described: 2, thumbnailed: 3, indexed: 4, failed: 99 };

/** True when the file has already moved past `stage`'s input state. */
export function isPast(file: FileRecord, stage: FileStage): boolean {
  return file.stage !== 'failed' && ORDER[file.stage] >= ORDER[stage];
}

export interface LoadedFile {
  file: FileRecord;
  content: ContentRecord;
  source: NonNullable<FileRecord['source']>;
}

/**
 * Loads what a per-file stage needs (one read: the file with its content), or
 * says why there is nothing to do. A file without content here is a pipeline
 * bug or a hostile message: a typed, non-retryable error.
 */
export async function loadFile(deps: StageDeps, message: FileMessage, ctx?: Pick<StageContext, 'preloaded'>): Promise<LoadedFile | 'missing' | 'failed'> {
  const loaded = ctx?.preloaded ? (ctx.preloaded.get(message.fileId) ?? null) : await deps.index.getFileWithContent(message.fileId);
  if (!loaded) return 'missing';
  const { file, content } = loaded;
  if (file.caseId !== message.caseId || file.evidenceId !== message.evidenceId) return 'missing';
  if (file.stage === 'failed') return 'failed';
  if (!file.sha256 || !file.source) {
    throw new ExhibitError('invalid-message', `file ${file.fileId} has no content to process`);
  }
  if (!content) throw new ExhibitError('index-unavailable', `content ${file.sha256} not found for ${file.fileId}`);
  return { file, content, source: content.source };
}

/**
 * Runs the analysis of one content for a stage; evidence problems become a
 * recorded failure, infrastructure faults are rethrown for retry.
 */
export async function analyse<T>(
  stage: StageName,
  ctx: StageContext,
  work: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: ExhibitError }> {
  try {
    return { ok: true, value: await work() };
  } catch (err) {
    if (isRetryable(err)) throw err;
    const error = err as ExhibitError;
    ctx.logger.warn({ stage, code: error.code, err: error.message }, 'file failed');
    return { ok: false, error };
  }
}
