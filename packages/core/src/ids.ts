import { createHash } from 'node:crypto';
import { ExhibitError } from './errors.js';
import { LIMITS } from './limits.js';

/** Case and evidence ids: short, URL- and path-safe, chosen by people. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isValidId(value: string): boolean {
  return ID_RE.test(value) && !value.includes('..');
}

export function assertValidId(kind: 'case' | 'evidence', value: string): string {
  if (!isValidId(value)) {
    throw new ExhibitError('invalid-argument', `invalid ${kind} id: ${JSON.stringify(value).slice(0, 80)}`);
  }
  return value;
}

export interface EvidenceBlobName {
  caseId: string;
  evidenceId: string;
  fileName: string;
}

/**
 * Parses `<caseId>/<evidenceId>/<file name>`; returns null for anything else,
 * including a name longer than Azure Storage allows (LIMITS.maxBlobNameChars).
 */
export function parseEvidenceBlobName(blobName: string): EvidenceBlobName | null {
  if (blobName.length > LIMITS.maxBlobNameChars) return null;
  const first = blobName.indexOf('/');
  const second = first < 0 ? -1 : blobName.indexOf('/', first + 1);
  if (first < 0 || second < 0) return null;
  const caseId = blobName.slice(0, first);
  const evidenceId = blobName.slice(first + 1, second);
  const fileName = blobName.slice(second + 1);
  if (!isValidId(caseId) || !isValidId(evidenceId) || fileName.length === 0) return null;
  return { caseId, evidenceId, fileName };
}

export function evidenceBlobName(caseId: string, evidenceId: string, fileName: string): string {
  const name = `${assertValidId('case', caseId)}/${assertValidId('evidence', evidenceId)}/${fileName}`;
  if (name.length > LIMITS.maxBlobNameChars) {
    throw new ExhibitError('invalid-argument', `evidence blob name is ${name.length} characters; Azure Storage allows at most ${LIMITS.maxBlobNameChars}`);
  }
  return name;
}

/**
 * Deterministic file ids: the same evidence always yields the same ids, so
 * redelivered messages and re-runs land on the same rows.
 */
export function rootFileId(blobName: string): string {
  return 'f' + createHash('sha256').update(`root\0${blobName}`).digest('hex').slice(0, 31);
}

export function memberFileId(parentFileId: string, entryIndex: number): string {
  return 'f' + createHash('sha256').update(`member\0${parentFileId}\0${entryIndex}`).digest('hex').slice(0, 31);
}

/** Content-addressed blob names in the derived container. */
export const derivedNames = {
  content: (sha256: string) => `content/${sha256.slice(0, 2)}/${sha256}`,
  thumbnail: (sourceSha256: string, recipe: string) => `thumbnails/${sourceSha256.slice(0, 2)}/${sourceSha256}.${recipe}.jpg`,
  /** The embedded EXIF preview (IFD1 JPEG) of an image, its bytes as the file stores them. */
  embeddedPreview: (sourceSha256: string) => `previews/${sourceSha256.slice(0, 2)}/${sourceSha256}.exif-ifd1.jpg`,
  staging: (fileId: string, entryIndex: number) => `staging/${fileId}/${entryIndex}`,
} as const;
