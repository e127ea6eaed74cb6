import sharp, { type SharpOptions } from 'sharp';
import { ExhibitError, isExhibitError, LIMITS, type ToolVersion } from '@exhibit/core';
import { decodeHeic, heicDecoderVersions } from '../thumbnail/heic.decoder.js';
import { isHeic, sharpError } from '../thumbnail/image.thumbnail.js';
import { configureSharp, sharpVersions } from '../thumbnail/sharp.setup.js';
import { PDQ_IMPLEMENTATION_VERSION, pdqDihedralFromPixels, pdqFromPixels, type PdqDihedral, type PdqHash, type PdqPixels } from './pdq.hasher.js';

export interface PdqDecodeOptions {
  /** Larger images fail with 'limit-exceeded' before any pixel is decoded; LIMITS.maxImagePixels by default. */
  maxPixels?: number;
  mime?: string | null;
  abortSignal?: AbortSignal;
}

/**
 * The 8-bit pixels Meta's reference PDQ tool hashes for an image file, decoded
 * with sharp. The reference (pdq-photo-hasher built as shipped) has ImageMagick
 * convert the file to PNM and hashes that, so this reproduces what that PNM holds:
 * - the pixels as stored: EXIF orientation is not applied;
 * - no colour management: an embedded ICC profile is ignored (keepIccProfile
 *   stops sharp's conversion to sRGB);
 * - alpha kept but ignored by the hasher (the reference drops it, it never composites);
 * - CMYK turned into RGB by ImageMagick's plain formula, round((255 − ink)·(255 − K)/255), with no profile;
 * - 16-bit samples cut to their LOW byte (the reference's CImg casts each
 *   PNM sample to uint8): a quirk, matched so hashes agree with partner agencies.
 * The 512 px squash and the grey rule are the hasher's (pdq.hasher.ts).
 * HEIC goes through libheif (heic-decode), 8-bit RGBA; no reference fixture covers it.
 * Damaged files fail ('decode-failed') rather than being hashed from partial data.
 */
export async function pdqPixelsFromImage(bytes: Buffer, options: PdqDecodeOptions = {}): Promise<PdqPixels> {
  configureSharp();
  const maxPixels = options.maxPixels ?? LIMITS.maxImagePixels;
  if (isHeic(bytes, options.mime)) {
    try {
      const raw = await decodeHeic(bytes, { maxPixels, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) });
      return { width: raw.width, height: raw.height, channels: 4, data: new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength) };
    } catch (err) {
      // A HEIF container may hold AV1 (AVIF) or JPEG, which sharp reads.
      if (!isExhibitError(err, 'decode-failed')) throw err;
    }
  }
  const input: SharpOptions = { limitInputPixels: maxPixels, failOn: 'error', pages: 1, page: 0 };
  try {
    const header = await sharp(bytes, input).metadata();
    const { width, height } = header;
    if (!width || !height) throw new ExhibitError('decode-failed', `${header.format ?? 'image'} header has no dimensions`);
    if (width * height > maxPixels) throw new ExhibitError('limit-exceeded', `image is ${width}x${height} pixels, more than the ${maxPixels} allowed`);
    options.abortSignal?.throwIfAborted();
    if (header.space === 'cmyk') return cmykAsImageMagick(await sharp(bytes, input).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true }));
    if (header.depth === 'ushort') {
      const wide = await sharp(bytes, input)
        .toColourspace((header.channels ?? 3) >= 3 ? 'rgb16' : 'grey16')
        .raw({ depth: 'ushort' })
        .toBuffer({ resolveWithObject: true });
      return lowBytes(wide);
    }
    if (header.depth !== undefined && header.depth !== 'uchar') {
      throw new ExhibitError('unsupported-format', `${header.depth} samples: which bytes the PDQ reference would hash from them is not established`);
    }
    const { data, info } = await sharp(bytes, input).keepIccProfile().raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, channels: channelsOf(info.channels), data };
  } catch (err) {
    throw sharpError(err, bytes);
  }
}

/** Hash and quality of an image file as the reference tool gives them. */
export async function pdqFromImage(bytes: Buffer, options: PdqDecodeOptions = {}): Promise<PdqHash> {
  return pdqFromPixels(await pdqPixelsFromImage(bytes, options));
}

/** The eight dihedral hashes of an image file as the reference tool's --pdqdih gives them. */
export async function pdqDihedralFromImage(bytes: Buffer, options: PdqDecodeOptions = {}): Promise<PdqDihedral> {
  return pdqDihedralFromPixels(await pdqPixelsFromImage(bytes, options));
}

/**
 * The tools behind a PDQ hash, for the record every derived value keeps:
 * this port (its version changes whenever its output could) and the decoders.
 */
export function pdqToolVersions(): ToolVersion[] {
  return [{ name: 'exhibit-pdq', version: `${PDQ_IMPLEMENTATION_VERSION} (bit-exact with facebook/ThreatExchange pdq/cpp baefb4ed)` }, ...sharpVersions(), ...heicDecoderVersions()];
}

type RawOutput = { data: Buffer; info: { width: number; height: number; channels: number } };

function channelsOf(n: number): PdqPixels['channels'] {
  if (n === 1 || n === 2 || n === 3 || n === 4) return n;
  throw new ExhibitError('unsupported-format', `image decodes to ${n} channels`);
}

function lowBytes({ data, info }: RawOutput): PdqPixels {
  const samples = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  return { width: info.width, height: info.height, channels: channelsOf(info.channels), data: Uint8Array.from(samples, (v) => v & 0xff) };
}

function cmykAsImageMagick({ data, info }: RawOutput): PdqPixels {
  const n = info.width * info.height;
  const rgb = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    const at = p * info.channels;
    const paper = 255 - data[at + 3]!;
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.round(((255 - data[at + c]!) * paper) / 255);
  }
  return { width: info.width, height: info.height, channels: 3, data: rgb };
}
