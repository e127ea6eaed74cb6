import { ExhibitError } from './errors.js';
import { imageSegmentSetKey, parseImageSegmentName, type ImageSegmentName } from './image-segment-names.js';
import { LIMITS } from './limits.js';

/**
 * A split disk image's segment manifest, declared when its upload is
 * registered (POST /cases/{caseId}/uploads, `segments`; docs/disk-images.md,
 * "Split images"): the set's segment file names in order, their sizes and,
 * where the acquisition wrote them, each segment's MD5/SHA-1/SHA-256. The
 * pipeline waits for every declared segment before reading the image, and
 * checks each segment's hash and size against it.
 */
export interface DeclaredSegment {
  fileName: string;
  size: number;
  md5?: string;
  sha1?: string;
  sha256?: string;
}

/** One declared segment as stored (migration 0095, image_segment_manifests). */
export interface SegmentManifestEntry extends DeclaredSegment {
  caseId: string;
  evidenceId: string;
  blobName: string;
  /** The set's first segment's blob name: the manifest's key. */
  firstBlobName: string;
  /** 1 for the first segment. */
  position: number;
  /** From the registering caller's token. */
  declaredBy: string;
  declaredAt: string;
}

const HASH_HEX = { md5: 32, sha1: 40, sha256: 64 } as const;
export const SEGMENT_HASH_ALGORITHMS = ['md5', 'sha1', 'sha256'] as const;

/**
 * Checks a declared manifest as hostile input and returns it normalised
 * (hashes lower-case). Refused ('invalid-argument', naming the entry): fewer
 * than 2 or more than LIMITS.maxDeclaredImageSegments segments; a name that is
 * not a segment name (E01…, EAA… after E99, .001…); names of different sets;
 * a repeated name or number; a number out of order (entry i must be segment
 * i+1, so a gap cannot be declared); a size that is not a whole number of
 * bytes from 1; a hash that is not hex of its algorithm's length.
 */
export function validateSegmentManifest(segments: readonly DeclaredSegment[]): DeclaredSegment[] {
  if (segments.length < 2) throw new ExhibitError('invalid-argument', 'a segment manifest lists at least 2 segments');
  if (segments.length > LIMITS.maxDeclaredImageSegments) {
    throw new ExhibitError('invalid-argument', `a segment manifest lists at most ${LIMITS.maxDeclaredImageSegments} segments (got ${segments.length})`);
  }
  const first = parseImageSegmentName(segments[0]!.fileName);
  if (!first || first.number !== 1) throw new ExhibitError('invalid-argument', `segments[0] (${clip(segments[0]!.fileName)}) is not a first segment (E01, .001 …)`);
  const seen = new Set<string>();
  return segments.map((s, i) => {
    const where = `segments[${i}] (${clip(s.fileName)})`;
    if (seen.has(s.fileName)) throw new ExhibitError('invalid-argument', `${where} is declared twice`);
    seen.add(s.fileName);
    const parsed = parseImageSegmentName(s.fileName, { lettered: i >= 99 });
    if (!parsed || imageSegmentSetKey(parsed) !== imageSegmentSetKey(first)) {
      throw new ExhibitError('invalid-argument', `${where} is not a segment of the set of ${clip(segments[0]!.fileName)}`);
    }
    if (parsed.number !== i + 1) throw new ExhibitError('invalid-argument', `${where} is segment ${parsed.number}; the manifest lists segments 1, 2, 3 … in order`);
    if (!Number.isSafeInteger(s.size) || s.size < 1) throw new ExhibitError('invalid-argument', `${where} has size ${String(s.size)}; a segment holds at least 1 byte`);
    const out: DeclaredSegment = { fileName: s.fileName, size: s.size };
    for (const alg of SEGMENT_HASH_ALGORITHMS) {
      const value = s[alg];
      if (value === undefined) continue;
      if (typeof value !== 'string' || !new RegExp(`^[0-9a-fA-F]{${HASH_HEX[alg]}}$`).test(value)) {
        throw new ExhibitError('invalid-argument', `${where} has a ${alg} that is not ${HASH_HEX[alg]} hex digits`);
      }
      out[alg] = value.toLowerCase();
    }
    return out;
  });
}

/** Names in messages are the caller's: kept short. */
const clip = (s: string) => (s.length > 80 ? `${s.slice(0, 80)}…` : s);

/** Whether two declarations of the same set say the same thing (a repeated registration is idempotent, a different one a conflict). */
export function sameManifest(a: readonly DeclaredSegment[], b: readonly DeclaredSegment[]): boolean {
  return (
    a.length === b.length &&
    a.every((s, i) => {
      const t = b[i]!;
      return s.fileName === t.fileName && s.size === t.size && SEGMENT_HASH_ALGORITHMS.every((alg) => (s[alg] ?? null) === (t[alg] ?? null));
    })
  );
}

/** The first segment's name for a segment name (same stem, same case, same digit width). */
export function firstImageSegmentName(segment: ImageSegmentName): string {
  if (segment.kind === 'raw') return `${segment.stem}${'1'.padStart(segment.extension.length, '0')}`;
  return `${segment.stem}${segment.extension[0] === 'e' ? 'e01' : 'E01'}`;
}

/** An evidence item's split images as its status shows them (docs/disk-images.md, "Split images"). */
export interface ImageSegmentsStatus {
  /** Each set declared with a manifest: its segments in order, and which have been received. */
  declared: Array<{
    firstSegment: string;
    declaredBy: string;
    declaredAt: string;
    segments: Array<{ fileName: string; size: number; received: boolean }>;
    /** Declared segments not received yet, in order. */
    missing: string[];
  }>;
  /**
   * Later segments received (E02 …, .002 …, or declared) whose set's first
   * segment has not been: no image is read from them until it arrives
   * ("orphan"). They are hashed and checked like any upload.
   */
  orphans: Array<{ fileName: string; firstSegment: string }>;
}

/**
 * The split-image part of an evidence item's status, from its uploads' file
 * names and its declared manifests. A later segment is an orphan when the
 * first segment of its set (declared, or by its name: E02 → E01, .002 → .001;
 * EAA … only when declared, since .img fits that form) was not received.
 */
export function imageSegmentsStatus(receivedFileNames: readonly string[], manifests: readonly SegmentManifestEntry[]): ImageSegmentsStatus {
  const received = new Set(receivedFileNames);
  const sets = new Map<string, SegmentManifestEntry[]>();
  for (const e of manifests) sets.set(e.firstBlobName, [...(sets.get(e.firstBlobName) ?? []), e]);
  const declared: ImageSegmentsStatus['declared'] = [...sets.values()].map((entries) => {
    const ordered = [...entries].sort((a, b) => a.position - b.position);
    const segments = ordered.map((e) => ({ fileName: e.fileName, size: e.size, received: received.has(e.fileName) }));
    return {
      firstSegment: ordered[0]!.fileName,
      declaredBy: ordered[0]!.declaredBy,
      declaredAt: ordered[0]!.declaredAt,
      segments,
      missing: segments.filter((s) => !s.received).map((s) => s.fileName),
    };
  });
  const firstOfDeclared = new Map(manifests.filter((e) => e.position > 1).map((e) => [e.fileName, ordered1(manifests, e.firstBlobName)]));
  const orphans: ImageSegmentsStatus['orphans'] = [];
  for (const name of [...received].sort()) {
    const parsed = parseImageSegmentName(name);
    const first = firstOfDeclared.get(name) ?? (parsed && parsed.number > 1 ? firstImageSegmentName(parsed) : null);
    if (first !== null && first !== undefined && !received.has(first)) orphans.push({ fileName: name, firstSegment: first });
  }
  return { declared, orphans };
}

const ordered1 = (manifests: readonly SegmentManifestEntry[], firstBlobName: string) => manifests.find((e) => e.firstBlobName === firstBlobName && e.position === 1)?.fileName;
