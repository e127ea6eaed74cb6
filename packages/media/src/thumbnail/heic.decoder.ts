import { ExhibitError, errorMessage } from '@exhibit/core';
import { packageVersion } from '../package-version.js';

export interface RawImage {
  /** Interleaved RGBA, 8 bits per channel. */
  data: Buffer;
  width: number;
  height: number;
}

type HeicDecode = typeof import('heic-decode').default;
let loaded: Promise<HeicDecode> | undefined;

/** heic-decode pulls in a 3 MB wasm bundle; loaded on the first HEIC only. */
function heicDecode(): Promise<HeicDecode> {
  loaded ??= import('heic-decode').then((m) => m.default);
  return loaded;
}

export function heicDecoderVersions(): Array<{ name: string; version: string }> {
  return [
    { name: 'heic-decode', version: packageVersion('heic-decode') },
    { name: 'libheif-js', version: packageVersion('libheif-js') },
  ];
}

/**
 * Decodes the first top-level image of a HEIC/HEIF file to RGBA with libheif
 * (wasm, includes an HEVC decoder that the prebuilt sharp lacks). The image
 * dimensions are read from the container and checked against `maxPixels`
 * before any pixel is decoded. libheif applies the HEIF transforms (irot/imir)
 * itself, so the result is already upright; EXIF orientation does not apply.
 */
export async function decodeHeic(bytes: Buffer, options: { maxPixels: number }): Promise<RawImage> {
  const decode = await heicDecode();
  let images;
  try {
    images = await decode.all({ buffer: bytes });
  } catch (err) {
    throw new ExhibitError('decode-failed', `HEIF container unreadable: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const first = images[0];
    if (!first) throw new ExhibitError('decode-failed', 'HEIF file holds no image');
    const { width, height } = first;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new ExhibitError('decode-failed', `HEIF image has invalid dimensions ${width}x${height}`);
    }
    if (width * height > options.maxPixels) {
      throw new ExhibitError('limit-exceeded', `HEIF image is ${width}x${height} pixels, more than the ${options.maxPixels} allowed`);
    }
    let decoded;
    try {
      decoded = await first.decode();
    } catch (err) {
      throw new ExhibitError('decode-failed', `HEIF image data could not be decoded: ${errorMessage(err)}`, { cause: err });
    }
    if (decoded.data.byteLength !== decoded.width * decoded.height * 4) {
      throw new ExhibitError('decode-failed', 'HEIF decoder returned an unexpected amount of pixel data');
    }
    return {
      data: Buffer.from(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength),
      width: decoded.width,
      height: decoded.height,
    };
  } finally {
    images.dispose();
  }
}
