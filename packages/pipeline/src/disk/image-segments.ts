import {
  ExhibitError,
  firstImageSegmentName,
  imageSegmentSetKey as segmentSetKey,
  LIMITS,
  parseImageSegmentName as parseSegmentName,
  sameEtag,
  type BlobProperties,
  type BlobRef,
  type BlobStore,
  type ImageSegmentName as SegmentName,
} from '@exhibit/core';
import { segmentError } from './ewf-image.container.js';
import { checkSplitRawSizes } from './raw-image.container.js';
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

/** Moved to core (the API validates declared manifests with them); re-exported for the pipeline's callers. */
export { parseSegmentName, segmentSetKey, type SegmentName };

/**
 * Groups names into segment sets (`nameOf` gives each item's name). A lettered
 * name (EAA …) joins a set only when every segment before it is in it (E01–E99,
 * EAA …), where the EWF sequence puts it; otherwise it is not a segment
 * (card.img beside card.E01 is another file, not segment 2,868 of the E01).
 */
export function segmentSets<T>(items: readonly T[], nameOf: (item: T) => string): Map<string, Array<{ item: T; segment: SegmentName }>> {
  const sets = new Map<string, Array<{ item: T; segment: SegmentName }>>();
  const lettered: Array<{ item: T; segment: SegmentName }> = [];
  for (const item of items) {
    const segment = parseSegmentName(nameOf(item), { lettered: true });
    if (!segment) continue;
    if (segment.lettered) lettered.push({ item, segment });
    else sets.set(segmentSetKey(segment), [...(sets.get(segmentSetKey(segment)) ?? []), { item, segment }]);
  }
  // In number order, each joining only right after the one before it: EAA after E99, EAB after EAA … (card.img never).
  for (const entry of lettered.sort((a, b) => a.segment.number - b.segment.number)) {
    const set = sets.get(segmentSetKey(entry.segment));
    if (!set) continue;
    const numbers = new Set(set.map((s) => s.segment.number));
    if ([...Array(entry.segment.number - 1).keys()].every((i) => numbers.has(i + 1))) set.push(entry);
  }
  return sets;
}

/** The first segment's name for a segment name (same stem, same case, same digit width). */
export const firstSegmentName = firstImageSegmentName;

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
  options: {
    abortSignal?: AbortSignal;
    /** The first segment's blob name when a segment manifest declares `blob` after it (segment-set.wait.ts): a later segment by declaration. */
    declaredFirst?: string;
  } = {},
): Promise<{ first: string; firstPresent: boolean } | null> {
  if (options.declaredFirst !== undefined) {
    return { first: options.declaredFirst, firstPresent: await blobs.exists({ container: blob.container, name: options.declaredFirst }, options) };
  }
  const segment = parseSegmentName(blob.name, { lettered: true });
  if (!segment || segment.number === 1) return null;
  const first = firstSegmentName(segment);
  const firstPresent = await blobs.exists({ container: blob.container, name: first }, options);
  if (segment.lettered) {
    // Undeclared, EAA … is a segment only in a set that reached E99 (else it is card.img or card.vhd: unpacked as what it is).
    const e99 = `${segment.stem}${first.endsWith('e01') ? 'e99' : 'E99'}`;
    if (!firstPresent || !(await blobs.exists({ container: blob.container, name: e99 }, options))) return null;
  }
  return { first, firstPresent };
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
  options: {
    abortSignal?: AbortSignal;
    receivedEtag?: ReceivedEtag;
    /** The set's blob names in order, as its manifest declared them (segment-set.wait.ts): the set is exactly these. */
    declared?: readonly string[];
  } = {},
): Promise<ImageSegmentBlob[] | null> {
  const segment = parseSegmentName(first.name);
  if (!segment || segment.number !== 1) return null;
  const listed: BlobProperties[] = [first];
  for await (const props of blobs.list(first.container, { prefix: segment.stem, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) })) {
    if (props.name === first.name || props.name.slice(segment.stem.length).includes('/')) continue;
    listed.push(props);
    if (listed.length > LIMITS.maxImageSegments) throw new ExhibitError('limit-exceeded', `${first.name} has more than ${LIMITS.maxImageSegments} segments (LIMITS.maxImageSegments)`);
  }
  const set = segmentSets(listed, (p) => p.name).get(segmentSetKey(segment)) ?? [];
  const found = new Map<number, BlobProperties>();
  for (const { item: props, segment: s } of set) {
    if (found.has(s.number)) {
      throw segmentError('segment-duplicated', `segment ${s.number} of ${first.name} is in the evidence item twice (${found.get(s.number)!.name}, ${props.name})`);
    }
    found.set(s.number, props);
  }
  const declaredText = first.metadata[IMAGE_SEGMENTS_METADATA];
  // A manifest declared at registration says how many; else the CLI's count in the first segment's metadata, if any.
  const declared = options.declared ? options.declared.length : declaredText !== undefined && /^\d{1,6}$/.test(declaredText) ? Number(declaredText) : null;
  if (options.declared) {
    for (const [n, props] of found) {
      if (props.name !== options.declared[n - 1]) {
        throw segmentError('segment-from-another-image', `${props.name} is in the evidence item but not in the set declared for ${first.name} (${options.declared.length} segments)`);
      }
    }
  }
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
  // The same rule as a split raw set opened from files (checkSplitRawSizes), checked here on the blobs' sizes before any read.
  if (segment.kind === 'raw') checkSplitRawSizes(ordered);
  // Each segment is read pinned to the ETag it was received with (a declared set's later segments are hashed in this read); one replaced since is not this evidence.
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
 * number inside them, so the names are all there is to order them by. A repeat,
 * or a gap in a raw set, is the named failure; a gap in an EWF set is left to the
 * container, which reads each segment's number inside it and reads the set
 * without the missing one (its chunks fail typed, ewf-image.container.ts);
 * anything else is returned as given.
 */
export function orderSegmentFiles(names: readonly string[]): string[] {
  const sets = segmentSets(names, (n) => n);
  const [set] = [...sets.values()];
  if (names.length < 2 || sets.size !== 1 || set!.length !== names.length) return [...names];
  const parsed = [...set!].sort((a, b) => a.segment.number - b.segment.number);
  parsed.forEach((p, i) => {
    if (i > 0 && parsed[i - 1]!.segment.number === p.segment.number) {
      throw segmentError('segment-duplicated', `segment ${p.segment.number} was given twice (${parsed[i - 1]!.item}, ${p.item})`);
    }
    if (p.segment.kind === 'raw' && p.segment.number !== i + 1) throw segmentError('segment-missing', `segment ${i + 1} of ${parsed[0]!.item} was not given`);
  });
  return parsed.map((p) => p.item);
}
