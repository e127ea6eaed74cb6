import { MEDIA_LIMITS } from '../media-limits.js';
import { packageVersion } from '../package-version.js';
import { heicDecoderPool, type RawImage } from './heic.pool.js';

export type { RawImage } from './heic.pool.js';

export function heicDecoderVersions(): Array<{ name: string; version: string }> {
  return [
    { name: 'heic-decode', version: packageVersion('heic-decode') },
    { name: 'libheif-js', version: packageVersion('libheif-js') },
  ];
}

/**
 * Decodes the primary image (`pitm`, which need not be the first item) of a
 * HEIC/HEIF file to RGBA with libheif (wasm, includes an HEVC decoder that the
 * prebuilt sharp lacks). The image
 * dimensions are read from the container and checked against `maxPixels`
 * before any pixel is decoded. libheif applies the HEIF transforms (irot/imir)
 * itself, so the result is already upright; EXIF orientation does not apply.
 *
 * The decode runs in one of the process's decoder threads (heic.pool.ts), so
 * the event loop stays free. Failures: unreadable or undecodable data, or a
 * thread that died twice on the file, 'decode-failed'; over `maxPixels` or
 * longer than `timeoutMs`, 'limit-exceeded'; heic-decode missing or a thread
 * that died while starting, 'tool-unavailable'; `abortSignal`, 'aborted'.
 */
export async function decodeHeic(
  bytes: Buffer,
  options: { maxPixels: number; timeoutMs?: number; abortSignal?: AbortSignal },
): Promise<RawImage> {
  return heicDecoderPool().decode(bytes, {
    maxPixels: options.maxPixels,
    timeoutMs: options.timeoutMs ?? MEDIA_LIMITS.heicDecodeTimeoutMs,
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
}
