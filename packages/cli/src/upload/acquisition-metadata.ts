import { ExhibitError, type AcquisitionInfo, type Hashes } from '@exhibit/core';
import { ACQUISITION_METADATA_KEYS } from '@exhibit/pipeline';

/**
 * The ingest stage reads the acquisition keys (ACQUISITION_METADATA_KEYS,
 * owned by the pipeline, so both sides use one definition). This one is
 * the CLI's addition for the record: per algorithm, whether the hash was
 * given by the examiner or computed at upload, e.g.
 * `md5:computed;sha1:computed;sha256:given`.
 */
export const HASH_ORIGIN_METADATA_KEY = 'acquisition_hash_origin';

/** Azure's limit for all metadata names and values of one blob together. */
export const MAX_METADATA_BYTES = 8 * 1024;

const HASH_HEX_LENGTH: Record<keyof Hashes, number> = { md5: 32, sha1: 40, sha256: 64 };
export const HASH_ALGORITHMS = ['md5', 'sha1', 'sha256'] as const satisfies ReadonlyArray<keyof Hashes>;

/** Validates a hash typed by a person; returns it as lowercase hex. */
export function parseHashHex(algorithm: keyof Hashes, value: string): string {
  const hex = value.trim().toLowerCase();
  const expected = HASH_HEX_LENGTH[algorithm];
  if (hex.length !== expected || !/^[0-9a-f]+$/.test(hex)) {
    throw new ExhibitError('invalid-argument', `--${algorithm} must be ${expected} hexadecimal digits, got ${JSON.stringify(value).slice(0, 80)}`);
  }
  return hex;
}

/**
 * Metadata values travel as HTTP headers and must be printable ASCII. A value
 * holding anything else (or a '%', so decoding stays unambiguous) is stored
 * as encodeURIComponent(value); readers always apply decodeURIComponent,
 * which leaves plain ASCII values unchanged.
 */
export function encodeMetadataValue(value: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(value) && value.trim() === value ? value : encodeURIComponent(value);
}

export function decodeMetadataValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    // Not written by us (a stray '%'): keep the recorded text rather than lose it.
    return value;
  }
}

export interface HashComparison {
  algorithm: keyof Hashes;
  given: string;
  computed: string;
}

/** The given hashes that disagree with the computed ones. */
export function hashMismatches(given: Partial<Hashes>, computed: Hashes): HashComparison[] {
  const out: HashComparison[] = [];
  for (const algorithm of HASH_ALGORITHMS) {
    const g = given[algorithm];
    if (g !== undefined && g !== computed[algorithm]) out.push({ algorithm, given: g, computed: computed[algorithm] });
  }
  return out;
}

/**
 * The acquisition record: hashes the examiner gave are kept exactly as given
 * (the caller has already compared them); any not given are the ones computed
 * while uploading, and the origin key says which is which.
 */
export function acquisitionMetadata(acquisition: AcquisitionInfo, computed: Hashes): Record<string, string> {
  const metadata: Record<string, string> = {};
  const origin: string[] = [];
  for (const algorithm of HASH_ALGORITHMS) {
    const given = acquisition[algorithm];
    metadata[ACQUISITION_METADATA_KEYS[algorithm]] = given ?? computed[algorithm];
    origin.push(`${algorithm}:${given === undefined ? 'computed' : 'given'}`);
  }
  metadata[HASH_ORIGIN_METADATA_KEY] = origin.join(';');
  if (acquisition.examiner) metadata[ACQUISITION_METADATA_KEYS.examiner] = encodeMetadataValue(acquisition.examiner);
  if (acquisition.exhibitRef) metadata[ACQUISITION_METADATA_KEYS.exhibitRef] = encodeMetadataValue(acquisition.exhibitRef);
  if (acquisition.description) metadata[ACQUISITION_METADATA_KEYS.description] = encodeMetadataValue(acquisition.description);

  const bytes = Object.entries(metadata).reduce((n, [k, v]) => n + k.length + v.length, 0);
  if (bytes > MAX_METADATA_BYTES) {
    throw new ExhibitError(
      'invalid-argument',
      `examiner, exhibit reference and description are too long for blob metadata (${bytes} bytes encoded, at most ${MAX_METADATA_BYTES})`,
    );
  }
  return metadata;
}
