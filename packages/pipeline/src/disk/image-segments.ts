import { ExhibitError, LIMITS, sameEtag, type BlobProperties, type BlobRef, type BlobStore } from '@exhibit/core';
import { segmentError } from './ewf-image.container.js';
import type { ImageSegmentBlob } from './disk-image.reader.js';

/**
 * A split disk image uploaded as one evidence item: one blob per segment
 * (`card.E01`, `card.E02` …; `disk.001`, `disk.002` …) under the same
 * `<case>/<evidence>/` folder. The first segment's unpack reads them all, in
 * order, as one image; the later segments are not unpacked on their own
 * (docs/disk-images.md, "Split images").
 *
 * Only names and blob sizes are looked at here (on the main thread); the
 * segments' content (EWF segment numbers, the set identifier, the section
 * chains) is checked by the container readers in the disk parser thread.
 */

/** Blob metadata key the CLI sets on the first segment: how many segments the upload holds. */
export const IMAGE_SEGMENTS_METADATA = 'imagesegments';

export interface SegmentName {
  /** Folder and name up to and including the last dot ("case/ev/card."). */
  stem: string;
  /** The extension as written ("E02", "e02", "002"). */
  extension: string;
  kind: 'ewf' | 'raw';
  /** 1 for E01 and .001. */
  number: number;
}

const A = 'A'.charCodeAt(0);

/**
 * The segment a name is, from its extension: EWF `E01`–`E99` then `EAA`–`ZZZ`
 * (libewf's and EnCase's sequence), raw `.001` upward (three or more digits).
 */
export function parseSegmentName(name: string): SegmentName | null {
  const dot = name.lastIndexOf('.');
  if (dot < 0 || name.lastIndexOf('/') > dot) return null;
  const stem = name.slice(0, dot + 1);
  const extension = name.slice(dot + 1);
  const upper = extension.toUpperCase();
  let m = /^E(\d\d)$/.exec(upper);
  if (m) {
    const number = Number(m[1]);
    return number >= 1 ? { stem, extension, kind: 'ewf', number } : null;
  }
  m = /^([E-Z])([A-Z])([A-Z])$/.exec(upper);
  if (m) {
    const [x, y, z] = [m[1]!, m[2]!, m[3]!].map((c) => c.charCodeAt(0) - A) as [number, number, number];
    return { stem, extension, kind: 'ewf', number: 100 + (x - 4) * 676 + y * 26 + z };
  }
  m = /^(\d{3,6})$/.exec(extension);
  if (m) {
    const number = Number(m[1]);
    return number >= 1 ? { stem, extension, kind: 'raw', number } : null;
  }
  return null;
}

/** The first segment's name for a segment name (same stem, same case, same digit width). */
export function firstSegmentName(segment: SegmentName): string {
  if (segment.kind === 'raw') return `${segment.stem}${'1'.padStart(segment.extension.length, '0')}`;
  return `${segment.stem}${segment.extension[0] === 'e' ? 'e01' : 'E01'}`;
}

/**
 * When `blob` is a later segment (E02 …, .002 …): the first segment's blob
 * name, and whether it is in the evidence item now. Its unpack reads this
 * blob, so this one is never unpacked on its own, even before the first
 * arrives (`exhibit upload` sends the first segment last: the later ones are
 * received, identified and reach unpack first). Alone, an EWF segment after
 * the first cannot be read anyway.
 */
export async function laterSegmentOf(
  blobs: BlobStore,
  blob: BlobRef,
  options: { abortSignal?: AbortSignal } = {},
): Promise<{ first: string; firstPresent: boolean } | null> {
  const segment = parseSegmentName(blob.name);
  if (!segment || segment.number === 1) return null;
  const first = firstSegmentName(segment);
  return { first, firstPresent: await blobs.exists({ container: blob.container, name: first }, options) };
}

/**
 * The segments after the first of the split image whose first segment is
 * `first` (its properties), in order: null when it is not a first segment or
 * has no siblings (a single-blob image). A gap in the numbering, fewer
 * segments than the upload declared, or (raw) a segment before the last that
 * is shorter than the first is a typed failure of the image naming the
 * segment: 'segment-missing', 'segment-truncated'.
 */
export async function findImageSegments(
  blobs: BlobStore,
  first: BlobProperties,
  options: { abortSignal?: AbortSignal; receivedEtag?: ReceivedEtag } = {},
): Promise<ImageSegmentBlob[] | null> {
  const segment = parseSegmentName(first.name);
  if (!segment || segment.number !== 1) return null;
  const found = new Map<number, BlobProperties>([[1, first]]);
  for await (const props of blobs.list(first.container, { prefix: segment.stem, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) })) {
    const sibling = parseSegmentName(props.name);
    if (!sibling || sibling.stem !== segment.stem || sibling.kind !== segment.kind || sibling.number === 1) continue;
    if (sibling.extension.length !== segment.extension.length) continue;
    if (found.has(sibling.number)) {
      throw segmentError('segment-duplicated', `segment ${sibling.number} of ${first.name} is in the evidence item twice (${found.get(sibling.number)!.name}, ${props.name})`);
    }
    found.set(sibling.number, props);
    if (found.size > LIMITS.maxImageSegments) throw new ExhibitError('limit-exceeded', `${first.name} has more than ${LIMITS.maxImageSegments} segments`);
  }
  const declaredText = first.metadata[IMAGE_SEGMENTS_METADATA];
  const declared = declaredText !== undefined && /^\d{1,6}$/.test(declaredText) ? Number(declaredText) : null;
  if (found.size === 1 && (declared === null || declared === 1)) return null;
  const numbers = [...found.keys()].sort((a, b) => a - b);
  const count = Math.max(numbers[numbers.length - 1]!, declared ?? 0);
  for (let n = 1; n <= count; n += 1) {
    if (!found.has(n)) {
      const why = declared !== null && n > numbers[numbers.length - 1]! ? ` (the upload declared ${declared} segments)` : '';
      throw segmentError('segment-missing', `segment ${n} of ${first.name} is not in the evidence item${why}`);
    }
  }
  const ordered = numbers.map((n) => found.get(n)!);
  if (segment.kind === 'raw') {
    // Every splitter (split -b, FTK Imager, ewfexport) cuts at a fixed size: only the last segment may be shorter.
    ordered.slice(0, -1).forEach((props, i) => {
      if (props.size !== first.size) {
        throw segmentError('segment-truncated', `segment ${i + 1} of ${first.name} (${props.name}) holds ${props.size} bytes, the first holds ${first.size}: only the last may be shorter`);
      }
    });
    const last = ordered[ordered.length - 1]!;
    if (last.size === 0 || last.size > first.size) {
      throw segmentError('segment-truncated', `the last segment of ${first.name} (${last.name}) holds ${last.size} bytes; a split image's last segment holds 1 to ${first.size}`);
    }
  }
  // Each segment is read pinned to the ETag it was received (and hashed) with; one replaced since is not this evidence.
  const out: ImageSegmentBlob[] = [];
  for (const [i, props] of ordered.entries()) {
    const received = options.receivedEtag ? await options.receivedEtag(props.name) : null;
    if (received !== null && !sameEtag(received, props.etag)) {
      throw segmentError('segment-changed-after-receipt', `segment ${i + 1} of ${first.name} (${props.name}) changed after it was received (ETag ${props.etag}, received as ${received})`);
    }
    if (i > 0) out.push({ blob: { container: props.container, name: props.name }, size: props.size, etag: received ?? props.etag });
  }
  return out;
}

/** The ETag a blob was received with (the index's upload record), or null when it has not been received yet. */
export type ReceivedEtag = (blobName: string) => Promise<string | null>;

/**
 * Local segment files (`exhibit image ls disk.002 disk.001`) in the order of
 * their numbers when every name is a segment of one set: raw segments carry no
 * number inside them, so the names are all there is to order them by. A gap or
 * a repeat is the named failure; anything else is returned as given.
 */
export function orderSegmentFiles(names: readonly string[]): string[] {
  const parsed = names.map((name) => ({ name, segment: parseSegmentName(name) }));
  if (parsed.length < 2 || parsed.some((p) => !p.segment)) return [...names];
  const key = (s: SegmentName) => `${s.kind}:${s.stem}:${s.extension.length}`;
  const first = key(parsed[0]!.segment!);
  if (parsed.some((p) => key(p.segment!) !== first)) return [...names];
  parsed.sort((a, b) => a.segment!.number - b.segment!.number);
  parsed.forEach((p, i) => {
    if (i > 0 && parsed[i - 1]!.segment!.number === p.segment!.number) {
      throw segmentError('segment-duplicated', `segment ${p.segment!.number} was given twice (${parsed[i - 1]!.name}, ${p.name})`);
    }
    if (p.segment!.number !== i + 1) throw segmentError('segment-missing', `segment ${i + 1} of ${parsed[0]!.name} was not given`);
  });
  return parsed.map((p) => p.name);
}
