import { PIPELINE_ACTOR, type CustodyEvent, type FileMessage, type KnownFileMatch } from '@exhibit/core';
import type { StageContext, StageDeps } from './stage.js';

/**
 * Matches a file's content against the enabled hash sets as it is indexed,
 * from the MD5, SHA-1 and SHA-256 the hash stage recorded and the PDQ hashes
 * the thumbnail step recorded (PDQ lists, by distance; no read of the bytes), and writes one custody entry per known-bad or notable match.
 * Idempotent: matches are recorded once, and each entry has an event key.
 * Known-good matches are recorded (search hides those files) but are not
 * custody events: they say nothing about the case.
 */
export async function recordKnownFileMatches(
  deps: StageDeps,
  message: FileMessage,
  ctx: StageContext,
  /** Already matched (a batch matches all its files in one statement). */
  matched?: KnownFileMatch[],
): Promise<KnownFileMatch[]> {
  const matches = matched ?? (await deps.index.matchFileAgainstHashSets(message.fileId));
  for (const m of matches) {
    if (m.kind === 'known-good') continue;
    await deps.custody.record(knownFileMatchEntry(message, m, deps.pipelineVersion));
  }
  if (matches.length > 0) ctx.logger.info({ matches: matches.map((m) => ({ set: m.name, kind: m.kind })) }, 'file matches hash sets');
  return matches;
}

/**
 * The custody entry of a known-bad or notable match of one file: the same
 * action, details and event key as the re-match job's (knownFileMatchEvent in
 * packages/index), so a match is written once whoever finds it first. A PDQ
 * match adds its distance, frame and listed hash.
 */
export function knownFileMatchEntry(file: { caseId: string; evidenceId: string; fileId: string }, m: KnownFileMatch, pipelineVersion: string): CustodyEvent {
  return {
    caseId: file.caseId,
    evidenceId: file.evidenceId,
    action: 'known-file-match',
    actor: PIPELINE_ACTOR,
    subject: { fileId: file.fileId, sha256: m.sha256 },
    details: {
      set: m.name, setId: m.setId, version: m.version, kind: m.kind, category: m.category, categoryName: m.categoryName, matchedOn: m.matchedOn,
      ...(m.pdq ? { pdq: { ...m.pdq } } : {}),
    },
    tools: [{ name: 'exhibit-pipeline', version: pipelineVersion }],
    eventKey: `known:${file.fileId}:${m.setId}`,
  };
}
