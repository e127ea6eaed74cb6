import { isExhibitError, type ContentFinding, type RandomAccessSource } from '@exhibit/core';
import { parseExifrSandboxed } from '../sandbox/parse.pool.js';
import { heifTransforms, orientationOfTransforms, type HeifTransforms } from './heif-transforms.js';

/**
 * The one orientation rule for HEIF (docs/architecture.md, "Identification, findings and orientation"):
 *
 * 1. The HEIF's own transforms (irot, imir) always apply; libheif applies them
 *    while decoding. The HEIF specification makes EXIF orientation
 *    informational, and libheif, libvips and browsers ignore it.
 * 2. A HEIF with no transform of its own but an EXIF orientation other than 1
 *    is shown as the EXIF orientation says: that is what the writer meant
 *    (iOS edits that set only EXIF, converters such as heif-enc before
 *    libheif 1.16 copying a JPEG's orientation) and what Apple Photos shows.
 * 3. Either way, when the two disagree, an 'orientation-conflict' finding says
 *    what each says and which was applied, because another viewer may show
 *    the same file turned.
 */
export interface OrientationDecision {
  /** EXIF orientation (2-8) to apply after decoding, or null. */
  apply: number | null;
  finding: ContentFinding | null;
}

const EXIF_ORIENTATION_TEXT: Record<number, string> = {
  1: 'upright',
  2: 'mirrored left-right',
  3: 'rotated 180°',
  4: 'mirrored top-bottom',
  5: 'mirrored and rotated 90° clockwise (transpose)',
  6: 'rotated 90° clockwise',
  7: 'mirrored and rotated 90° anticlockwise (transverse)',
  8: 'rotated 90° anticlockwise',
};

export function describeTransforms(t: HeifTransforms): string {
  const parts: string[] = [];
  if (t.rotationCcw !== 0) parts.push(`irot ${t.rotationCcw}° anticlockwise`);
  if (t.mirrorAxis !== null) parts.push(`imir axis ${t.mirrorAxis}`);
  return parts.length > 0 ? parts.join(' and ') : 'no irot or imir';
}

export function heifOrientationDecision(transforms: HeifTransforms | null, exifOrientation: number | null): OrientationDecision {
  if (exifOrientation === null || exifOrientation < 1 || exifOrientation > 8 || transforms === null) return { apply: null, finding: null };
  const heifSays = orientationOfTransforms(transforms);
  if (heifSays === exifOrientation) return { apply: null, finding: null };
  const exifText = `EXIF orientation ${exifOrientation} (${EXIF_ORIENTATION_TEXT[exifOrientation]})`;
  if (heifSays === 1) {
    return {
      apply: exifOrientation,
      finding: {
        flag: 'orientation-conflict',
        detail: `${exifText} applied: the HEIF has no rotation or mirror of its own (no irot or imir), so viewers that follow the HEIF specification alone show it upright as stored`,
      },
    };
  }
  return {
    apply: null,
    finding: {
      flag: 'orientation-conflict',
      detail: `the HEIF transforms (${describeTransforms(transforms)}) were applied; they show the image ${EXIF_ORIENTATION_TEXT[heifSays]}, but ${exifText} says otherwise`,
    },
  };
}

/** Only IFD0's Orientation. */
const ORIENTATION_OPTIONS = {
  tiff: true,
  ifd0: { pick: ['Orientation'] },
  exif: false,
  gps: false,
  interop: false,
  ifd1: false,
  xmp: false,
  iptc: false,
  icc: false,
  jfif: false,
  ihdr: false,
  makerNote: false,
  userComment: false,
  translateKeys: true,
  translateValues: false,
  reviveValues: false,
  mergeOutput: false,
  silentErrors: true,
} as const;

/**
 * The EXIF orientation of a HEIF held in memory (through the corrected HEIF
 * parser, in a parser thread with a time budget), or null. A parser stopped
 * on this file, or an abort, is the file's failure; anything else unreadable
 * is "no EXIF orientation".
 */
export async function heifExifOrientation(bytes: Buffer, maxBytes: number, abortSignal?: AbortSignal): Promise<number | null> {
  const source: RandomAccessSource = {
    name: 'heif',
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
    url: async () => {
      throw new Error('in-memory source has no URL');
    },
  };
  try {
    const { output } = await parseExifrSandboxed(source, ORIENTATION_OPTIONS, { maxBytes: Math.min(maxBytes, bytes.length), ...(abortSignal ? { abortSignal } : {}) });
    const value = (output as { ifd0?: { Orientation?: unknown } } | undefined)?.ifd0?.Orientation;
    return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 8 ? value : null;
  } catch (err) {
    if (isExhibitError(err, 'parse-timeout') || isExhibitError(err, 'parse-crashed') || isExhibitError(err, 'aborted')) throw err;
    if (isExhibitError(err) && err.retryable) throw err;
    return null;
  }
}

export { heifTransforms };
