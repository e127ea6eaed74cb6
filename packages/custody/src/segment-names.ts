import { assertValidId, isValidId } from '@exhibit/core';

const SEGMENT_RE = /^(\d{6})\.jsonl$/;

/** `<caseId>/<evidenceId>/<segment, 6 digits>.jsonl` in the custody container. */
export function segmentName(caseId: string, evidenceId: string, segment: number): string {
  return `${evidencePrefix(caseId, evidenceId)}${String(segment).padStart(6, '0')}.jsonl`;
}

export function evidencePrefix(caseId: string, evidenceId: string): string {
  return `${assertValidId('case', caseId)}/${assertValidId('evidence', evidenceId)}/`;
}

export function casePrefix(caseId: string): string {
  return `${assertValidId('case', caseId)}/`;
}

/** The case's published verification keys. */
export function keysDocumentName(caseId: string): string {
  return `${assertValidId('case', caseId)}/keys.json`;
}

/** Splits a listed blob name into evidence id and segment number; null for anything that is not a segment. */
export function parseSegmentName(caseId: string, name: string): { evidenceId: string; segment: number } | null {
  const prefix = casePrefix(caseId);
  if (!name.startsWith(prefix)) return null;
  const rest = name.slice(prefix.length).split('/');
  if (rest.length !== 2) return null;
  const [evidenceId, file] = rest as [string, string];
  const m = SEGMENT_RE.exec(file);
  if (!isValidId(evidenceId) || !m) return null;
  return { evidenceId, segment: Number(m[1]) };
}
