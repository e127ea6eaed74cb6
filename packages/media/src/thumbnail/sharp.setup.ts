import sharp from 'sharp';

/**
 * libvips loaders sharp may use, all from memory buffers: JPEG, PNG, WebP, GIF,
 * TIFF and HEIF (AVIF; the prebuilt libheif has no HEVC decoder, HEIC goes
 * through heic-decode). Everything else (SVG, PDF, Magick, matrix, FITS, file
 * loaders, ...) is blocked: a smaller attack surface for hostile input.
 */
export const ALLOWED_LOADERS = [
  'VipsForeignLoadJpegBuffer',
  'VipsForeignLoadPngBuffer',
  'VipsForeignLoadWebpBuffer',
  'VipsForeignLoadNsgifBuffer',
  'VipsForeignLoadTiffBuffer',
  'VipsForeignLoadHeifBuffer',
] as const;

let configured = false;

/**
 * Applies the loader allowlist and turns off the libvips operation cache
 * (evidence files are each seen once; the cache only holds memory). Both are
 * process-wide libvips settings: any other sharp user in the process gets them.
 */
export function configureSharp(): void {
  if (configured) return;
  sharp.block({ operation: ['VipsForeignLoad'] });
  sharp.unblock({ operation: [...ALLOWED_LOADERS] });
  sharp.cache(false);
  configured = true;
}

export function sharpVersions(): Array<{ name: string; version: string }> {
  return [
    { name: 'sharp', version: sharp.versions.sharp ?? 'unknown' },
    { name: 'libvips', version: sharp.versions.vips },
  ];
}
