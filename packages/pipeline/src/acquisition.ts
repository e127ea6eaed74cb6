import { SEGMENT_HASH_ALGORITHMS, type AcquisitionInfo, type DeclaredSegment } from '@exhibit/core';

/**
 * Blob metadata keys for what the examiner declared. Metadata values must be
 * ASCII, so free text is percent-encoded by the uploader (encodeURIComponent).
 */
export const ACQUISITION_METADATA_KEYS = {
  examiner: 'examiner',
  exhibitRef: 'exhibit_ref',
  description: 'description',
  md5: 'acquisition_md5',
  sha1: 'acquisition_sha1',
  sha256: 'acquisition_sha256',
} as const;

function decodeText(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value).slice(0, 1000);
  } catch {
    // Not percent-encoded after all: keep it as written.
    return value.slice(0, 1000);
  }
}

/** Hashes are kept as declared (trimmed, lowercased); a malformed one simply will not match. */
function hash(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  return v === '' ? undefined : v.slice(0, 200);
}

export function acquisitionFromMetadata(metadata: Record<string, string>): AcquisitionInfo {
  // Azure lowercases metadata names on the way back; look up case-insensitively.
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) lower[k.toLowerCase()] = v;
  const info: AcquisitionInfo = {};
  const k = ACQUISITION_METADATA_KEYS;
  const examiner = decodeText(lower[k.examiner]);
  const exhibitRef = decodeText(lower[k.exhibitRef]);
  const description = decodeText(lower[k.description]);
  const md5 = hash(lower[k.md5]);
  const sha1 = hash(lower[k.sha1]);
  const sha256 = hash(lower[k.sha256]);
  if (examiner) info.examiner = examiner;
  if (exhibitRef) info.exhibitRef = exhibitRef;
  if (description) info.description = description;
  if (md5) info.md5 = md5;
  if (sha1) info.sha1 = sha1;
  if (sha256) info.sha256 = sha256;
  return info;
}

/**
 * A split image's segment declared in a manifest at registration: the hashes
 * declared there are its acquisition hashes (the hash stage checks them as any
 * upload's). They replace the blob metadata's for the same algorithm, since the
 * manifest came through the API under the registering user's token and blob
 * metadata is whatever the writer set.
 */
export function withDeclaredHashes(info: AcquisitionInfo, declared: DeclaredSegment | null): AcquisitionInfo {
  if (!declared) return info;
  const out = { ...info };
  for (const alg of SEGMENT_HASH_ALGORITHMS) if (declared[alg] !== undefined) out[alg] = declared[alg];
  return out;
}
